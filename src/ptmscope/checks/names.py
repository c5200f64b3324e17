"""Name confusion: the typosquatting variants of popular model and organization names.

The transforms are the ones package-registry squatting research and tools use
(PyPI's name-confusion checks, typomania's repetition, omission, swap, homoglyph and
delimiter families): a name is "confusable" with a popular one when one transform
turns the popular name into it. Variants are generated from the popular side (a
bounded set) and matched exactly, so finding them costs one hash join however large
the snapshot is.
"""

from __future__ import annotations

from collections.abc import Iterator

# Characters that read alike, both ways (lower case: names are compared case-folded).
HOMOGLYPHS: dict[str, tuple[str, ...]] = {
    "l": ("1", "i"),
    "1": ("l", "i"),
    "i": ("l", "1"),
    "o": ("0",),
    "0": ("o",),
    "m": ("rn",),
    "rn": ("m",),
    "w": ("vv",),
    "vv": ("w",),
    "e": ("3",),
    "a": ("4",),
    "s": ("5",),
    "g": ("9", "q"),
    "q": ("g",),
}
DELIMITERS = ("-", "_", ".", "")
# Adjacent keys on a QWERTY keyboard (a typo rather than a disguise).
KEYBOARD = {
    "q": "wa", "w": "qeas", "e": "wrsd", "r": "etdf", "t": "ryfg", "y": "tugh", "u": "yihj", "i": "uojk",
    "o": "ipkl", "p": "ol", "a": "qwsz", "s": "awedxz", "d": "serfcx", "f": "drtgvc", "g": "ftyhbv",
    "h": "gyujnb", "j": "huikmn", "k": "jiolm", "l": "kop", "z": "asx", "x": "zsdc", "c": "xdfv",
    "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk",
}  # fmt: skip

MAX_NAME = 96
# Short names are one edit away from too many honest names ("gpt" / "gpt2", "uer" / "er");
# squatting research and registries skip them too.
MIN_NAME = 5


def variants(name: str) -> Iterator[tuple[str, str]]:
    """(variant, transform) pairs one transform away from ``name`` (lower-cased, never ``name`` itself)."""
    name = name.lower()
    if len(name) < MIN_NAME or len(name) > MAX_NAME:
        return
    seen = {name}

    def emit(candidate: str, transform: str) -> Iterator[tuple[str, str]]:
        if candidate and candidate not in seen:
            seen.add(candidate)
            yield candidate, transform

    for i in range(len(name)):
        yield from emit(name[:i] + name[i + 1 :], "omission")
        yield from emit(name[:i] + name[i] + name[i:], "repetition")
        if i + 1 < len(name) and name[i] != name[i + 1]:
            yield from emit(name[:i] + name[i + 1] + name[i] + name[i + 2 :], "swap")
        for key in KEYBOARD.get(name[i], ""):
            yield from emit(name[:i] + key + name[i + 1 :], "keyboard")
    for glyph, replacements in HOMOGLYPHS.items():
        start = name.find(glyph)
        while start != -1:
            for replacement in replacements:
                yield from emit(name[:start] + replacement + name[start + len(glyph) :], "homoglyph")
            start = name.find(glyph, start + 1)
    for i, char in enumerate(name):
        if char in "-_.":
            for other in DELIMITERS:
                if other != char:
                    yield from emit(name[:i] + other + name[i + 1 :], "delimiter")


def confusables(popular_models: list[str], popular_orgs: list[str]) -> list[tuple[str, str, str, str]]:
    """Rows ``(variant, target, kind, transform)`` for popular model ids and organizations.

    ``kind`` is ``model`` (a variant of a whole repo id, or of a legacy un-namespaced id,
    to compare with a name part) or ``org`` (a variant of an organization name).
    """
    rows: list[tuple[str, str, str, str]] = []
    for repo_id in popular_models:
        for variant, transform in variants(repo_id):
            rows.append((variant, repo_id, "model", transform))
    for org in popular_orgs:
        for variant, transform in variants(org):
            rows.append((variant, org, "org", transform))
    return rows
