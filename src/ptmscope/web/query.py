"""A models query as the URL says it: search words, facet values, sort, page.

Every state of the models page is in its URL (shareable), and the JSON API takes the same
parameters. Unknown parameters are ignored; values are bounded, so a URL cannot make the server
do unbounded work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote_plus, urlencode

from ptmscope.checks.model import ATTRIBUTES

SCORE_RANGES: tuple[tuple[str, float, float], ...] = (
    ("0-2", 0.0, 2.0), ("2-4", 2.0, 4.0), ("4-6", 4.0, 6.0), ("6-8", 6.0, 8.0), ("8-10", 8.0, 10.0),
)  # fmt: skip
"""The values of a score facet: (value, low, high), a score in ``low <= score < high``, and ``8-10`` holding 10 too.

So a range's lower end is inclusive, as ``select --min-score`` is: the models with ``min_security=6`` are
``score_security=6-8`` and ``8-10``. A model without the attribute's score is ``none``."""
SCORE_FACETS: dict[str, str] = {f"score_{a}": a for a in ATTRIBUTES}
"""Each score facet's attribute: ``score_<attribute>``, whose values are ``SCORE_RANGES`` and ``none``."""

# name -> (index column, column holds a list, label shown)
FACETS: dict[str, tuple[str, bool, str]] = {
    "task": ("task", False, "Task"),
    "library": ("library", False, "Library"),
    "language": ("languages", True, "Language"),
    "license_class": ("license_classes", True, "Licence class"),
    "license": ("licenses", True, "Licence"),
    "format": ("formats", True, "Weight format"),
    "flagged": ("flags", True, "Flagged files"),
    "claims": ("claims", False, "Machine-parseable claims"),
    "architecture": ("architecture", False, "Architecture"),
    "dataset": ("datasets", True, "Training dataset"),
    "verified": ("verified", False, "Verified organization"),
    **{name: (f"score_range_{a}", False, f"{a.capitalize()} score") for name, a in SCORE_FACETS.items()},
}
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "downloads": ("downloads",),
    "likes": ("likes", "downloads"),
    "id": (),
    **{a: (f"score_{a}", "downloads") for a in ATTRIBUTES},
}
"""Each sort's index columns, each highest first with missing values last, then the repo id."""
SORTS: dict[str, str] = {
    name: ", ".join([*(f"{column} DESC NULLS LAST" for column in columns), "repo_id"])
    for name, columns in SORT_KEYS.items()
}
"""Each sort as SQL (``ORDER BY``): the definition ``SORT_KEYS`` follows."""
PER_PAGE = 30
MAX_PER_PAGE = 100
MAX_PAGE = 10_000
MAX_WORDS = 8
MAX_VALUES = 64
"""Values one facet may select at once (the study's "other" tasks need a few dozen)."""
MAX_TEXT = 200


def _bounded_int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return min(max(value, low), high)


@dataclass(frozen=True)
class ModelQuery:
    """What the models page shows: search words, selected facet values, sort order and page."""

    q: str = ""
    facets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(facet, selected values) pairs, in ``FACETS`` order; values of one facet are OR'ed, facets AND'ed."""
    cards: bool = False
    """Also search the card text."""
    sort: str = "downloads"
    page: int = 1
    per: int = PER_PAGE
    ignored: tuple[str, ...] = field(default=(), compare=False)
    """Parameters that were not understood (told back in the JSON)."""

    @classmethod
    def from_params(cls, params: Iterable[tuple[str, str]]) -> ModelQuery:
        """The query from URL parameters (a multi-dict's items); bad values fall back to defaults."""
        selected: dict[str, list[str]] = {}
        single: dict[str, str] = {}
        ignored = []
        for key, value in params:
            if key in FACETS:
                values = selected.setdefault(key, [])
                if value and value not in values and len(values) < MAX_VALUES:
                    values.append(value[:MAX_TEXT])
            elif key in ("q", "cards", "sort", "page", "per"):
                single[key] = value
            else:
                ignored.append(key)
        sort = single.get("sort", "downloads")
        return cls(
            q=" ".join(single.get("q", "").split()[:MAX_WORDS])[:MAX_TEXT],
            facets=tuple((name, tuple(selected[name])) for name in FACETS if selected.get(name)),
            cards=single.get("cards", "") in ("1", "on", "yes", "true"),
            sort=sort if sort in SORTS else "downloads",
            page=_bounded_int(single.get("page"), 1, 1, MAX_PAGE),
            per=_bounded_int(single.get("per"), PER_PAGE, 1, MAX_PER_PAGE),
            ignored=tuple(ignored),
        )

    @property
    def words(self) -> list[str]:
        """The search words, lower-cased."""
        return [w.lower() for w in self.q.split()]

    def selected(self, facet: str) -> tuple[str, ...]:
        """The values selected for ``facet``."""
        return dict(self.facets).get(facet, ())

    def params(self) -> list[tuple[str, str]]:
        """The URL parameters of this query (defaults left out)."""
        out: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        out += [(name, value) for name, values in self.facets for value in values]
        if self.cards:
            out.append(("cards", "1"))
        if self.sort != "downloads":
            out.append(("sort", self.sort))
        if self.per != PER_PAGE:
            out.append(("per", str(self.per)))
        if self.page != 1:
            out.append(("page", str(self.page)))
        return out

    def url(self, path: str = "/models") -> str:
        """This query's shareable URL."""
        params = self.params()
        return f"{path}?{_encoded(params)}" if params else path

    def toggled(self, facet: str, value: str) -> ModelQuery:
        """The query with ``value`` of ``facet`` selected (or unselected when it was), back on page 1."""
        current = dict(self.facets)
        values = current.get(facet, ())
        current[facet] = tuple(v for v in values if v != value) if value in values else (*values, value)
        facets = tuple((name, current[name]) for name in FACETS if current.get(name))
        return ModelQuery(self.q, facets, self.cards, self.sort, 1, self.per)

    def on_page(self, page: int) -> ModelQuery:
        """The same query on another page."""
        return ModelQuery(self.q, self.facets, self.cards, self.sort, min(max(page, 1), MAX_PAGE), self.per)

    def as_json(self) -> dict[str, object]:
        """The query as the JSON API reports it."""
        return {
            "q": self.q,
            "facets": {name: list(values) for name, values in self.facets},
            "cards": self.cards,
            "sort": self.sort,
            "page": self.page,
            "per": self.per,
            "ignored": list(self.ignored),
        }


@lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    return quote_plus(text, safe="")


def _encoded(params: list[tuple[str, str]]) -> str:
    """``urlencode(params)``, each string quoted once (a models page links ~120 facet values, each its own URL)."""
    return "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in params)


def models_url(filters: Mapping[str, str | Iterable[str]], path: str = "/models") -> str:
    """A models URL selecting ``filters`` (facet -> value or values)."""
    params: list[tuple[str, str]] = []
    for name, value in filters.items():
        params += [(name, value)] if isinstance(value, str) else [(name, v) for v in value]
    return f"{path}?{urlencode(params)}"
