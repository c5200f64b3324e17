"""The scan policy file: ``.ptmscope.toml`` or ``[tool.ptmscope]`` in a ``pyproject.toml``.

A policy sets defaults for ``ptmscope scan`` (``fail-on``, ``max-file-size``, ``skipped``), extends
the pickle policy (``allow-globals``, ``deny-globals``) and lists ``ignore`` entries: accepted
findings, each with a rule, a path glob, an optional content hash, a required reason and an optional
expiry date. ``find_policy`` looks for the file, ``load_policy`` parses and validates it (a
``PolicyError`` names the file and the key), ``apply_policy`` splits a report's findings into the
ones that still count and the ones an ignore suppresses. Nothing here formats output.

The file is parsed with the stdlib ``tomllib``; it is trusted input (the project's own file), but a
mistake in it is reported as a usage error, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

from ptmscope.scanners.interface import FailOn, FileResult, Finding, ScannedFile, ScanReport

POLICY_NAME = ".ptmscope.toml"
PYPROJECT = "pyproject.toml"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(\.\*)?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TOP_KEYS = {"fail-on", "max-file-size", "skipped", "allow-globals", "deny-globals", "ignore"}
_IGNORE_KEYS = {"rule", "path", "sha256", "reason", "expires"}


class PolicyError(ValueError):
    """The policy file cannot be read or is invalid; the message names the file and the key."""


def parse_size_text(text: str) -> int | None:
    """Parse ``500M``, ``2G``, ``1048576`` into bytes; ``None`` when it is not such a size."""
    match = _SIZE.match(text)
    if match is None:
        return None
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[unit])


@dataclass(frozen=True)
class Ignore:
    """One ``[[ignore]]`` entry: findings of ``rule`` in files matching ``path`` (and ``sha256``)."""

    index: int
    """Position in the file, from 1 (``ignore #2`` in messages)."""
    rule: str
    path: str
    """A glob relative to the policy file's folder: ``*`` and ``?`` stay within one path segment,
    ``**`` spans segments, ``[...]`` is a character class."""
    reason: str
    sha256: str | None = None
    expires: dt.date | None = None

    def describe(self) -> str:
        """``ignore #2 (rule pickle-suspicious-import, path models/*.pkl)``."""
        extra = f", sha256 {self.sha256[:12]}..." if self.sha256 else ""
        return f"ignore #{self.index} (rule {self.rule}, path {self.path}{extra})"

    def expired(self, today: dt.date) -> bool:
        """True once ``today`` is past ``expires`` (an ignore is valid through its expiry date)."""
        return self.expires is not None and today > self.expires


@dataclass(frozen=True)
class Policy:
    """A parsed policy file."""

    source: Path
    """The file it was read from (absolute)."""
    fail_on: FailOn | None = None
    max_file_size: int | None = None
    skipped: Literal["fail", "ok"] | None = None
    allow_globals: tuple[str, ...] = ()
    deny_globals: tuple[str, ...] = ()
    ignores: tuple[Ignore, ...] = ()

    @property
    def root(self) -> Path:
        """The folder ``ignore`` paths are relative to: the policy file's."""
        return self.source.parent

    def needs_hashes(self) -> bool:
        """True when an ignore names a content hash (the scan must then compute ``sha256``)."""
        return any(i.sha256 for i in self.ignores)


@dataclass(frozen=True)
class IgnoredFinding:
    """A finding an ignore entry suppressed."""

    path: str
    """The scanned file's shown path."""
    format: str
    finding: Finding
    ignore: Ignore


@dataclass
class PolicyOutcome:
    """What applying a policy to a report did."""

    policy: Policy
    report: ScanReport
    """The report without the ignored findings (a file whose findings were all ignored is clean)."""
    ignored: list[IgnoredFinding] = field(default_factory=list)
    unused: list[Ignore] = field(default_factory=list)
    """Ignores (not expired) that matched no finding: a note, not a failure."""
    expired: list[Ignore] = field(default_factory=list)
    """Ignores past their ``expires`` date: they suppress nothing and fail the run."""


def find_policy(start: Path) -> Path | None:
    """The nearest policy file at or above ``start``: ``.ptmscope.toml``, then a ``pyproject.toml``
    with a ``[tool.ptmscope]`` table, folder by folder up to the filesystem root."""
    folder = start.absolute()
    for candidate in (folder, *folder.parents):
        dotfile = candidate / POLICY_NAME
        if dotfile.is_file():
            return dotfile
        pyproject = candidate / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(pyproject: Path) -> bool:
    # A pyproject.toml that is not ours (or not TOML) is skipped during the search only when it
    # clearly has no [tool.ptmscope]; a broken one that mentions it is reported by load_policy.
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "tool.ptmscope" in text
    tool = data.get("tool")
    return isinstance(tool, dict) and "ptmscope" in tool


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file (``pyproject.toml``: its ``[tool.ptmscope]`` table; any
    other name: the top-level keys). Raises ``PolicyError`` naming the file and key."""
    path = path.absolute()
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PolicyError(f"cannot read policy file {path}: {error.strerror or error}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PolicyError(f"policy file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"policy file {path} is not valid TOML: {error}") from None
    prefix = ""
    if path.name == PYPROJECT:
        tool = data.get("tool")
        table = tool.get("ptmscope") if isinstance(tool, dict) else None
        if not isinstance(table, dict):
            raise PolicyError(f"policy file {path} has no [tool.ptmscope] table")
        data, prefix = table, "tool.ptmscope."
    return _parse(path, data, prefix)


def _parse(path: Path, data: dict[str, Any], prefix: str) -> Policy:
    def fail(key: str, problem: str) -> PolicyError:
        return PolicyError(f"policy file {path}: {prefix}{key}: {problem}")

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        known = ", ".join(sorted(_TOP_KEYS))
        raise fail(unknown[0], f"unknown key (known keys: {known})")
    fail_on: FailOn | None = None
    if "fail-on" in data:
        value = data["fail-on"]
        if value not in get_args(FailOn):
            raise fail("fail-on", f"must be one of {', '.join(get_args(FailOn))}, not {value!r}")
        fail_on = cast(FailOn, value)
    max_file_size: int | None = None
    if "max-file-size" in data:
        value = data["max-file-size"]
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise fail("max-file-size", f'must be a size like "500M" or a number of bytes, not {value!r}')
        size = value if isinstance(value, int) else parse_size_text(value)
        if size is None or size < 0:
            raise fail("max-file-size", f'must be a size like "500M" or a number of bytes, not {value!r}')
        max_file_size = size
    skipped: Literal["fail", "ok"] | None = None
    if "skipped" in data:
        value = data["skipped"]
        if value not in ("fail", "ok"):
            raise fail("skipped", f'must be "fail" or "ok", not {value!r}')
        skipped = cast(Literal["fail", "ok"], value)
    globals_ = {key: _globals_list(data, key, fail) for key in ("allow-globals", "deny-globals")}
    ignores_raw = data.get("ignore", [])
    if not isinstance(ignores_raw, list):
        raise fail("ignore", "must be an array of tables ([[ignore]] entries)")
    ignores = tuple(_ignore(i, entry, fail) for i, entry in enumerate(ignores_raw, start=1))
    return Policy(
        source=path,
        fail_on=fail_on,
        max_file_size=max_file_size,
        skipped=skipped,
        allow_globals=globals_["allow-globals"],
        deny_globals=globals_["deny-globals"],
        ignores=ignores,
    )


def _globals_list(data: dict[str, Any], key: str, fail: Any) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise fail(key, 'must be a list of "module.name" or "module.*" strings')
    for item in value:
        if not isinstance(item, str) or "." not in item or not _DOTTED.match(item):
            raise fail(key, f'{item!r} is not "module.name" or "module.*"')
    return tuple(value)


def _ignore(index: int, entry: Any, fail: Any) -> Ignore:
    key = f"ignore[{index}]"
    if not isinstance(entry, dict):
        raise fail(key, "must be a table with rule, path and reason")
    unknown = sorted(set(entry) - _IGNORE_KEYS)
    if unknown:
        raise fail(f"{key}.{unknown[0]}", f"unknown key (known keys: {', '.join(sorted(_IGNORE_KEYS))})")
    for required in ("rule", "path", "reason"):
        value = entry.get(required)
        if value is None:
            raise fail(f"{key}.{required}", "is required")
        if not isinstance(value, str) or not value.strip():
            raise fail(f"{key}.{required}", "must be a non-empty string")
    sha256 = entry.get("sha256")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.match(sha256.lower())):
        raise fail(f"{key}.sha256", "must be 64 hexadecimal digits")
    expires = entry.get("expires")
    if expires is not None and (not isinstance(expires, dt.date) or isinstance(expires, dt.datetime)):
        raise fail(f"{key}.expires", f"must be a TOML date like 2025-12-31 (unquoted), not {expires!r}")
    return Ignore(
        index=index,
        rule=entry["rule"].strip(),
        path=entry["path"].strip(),
        reason=entry["reason"].strip(),
        sha256=sha256.lower() if sha256 else None,
        expires=expires,
    )


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob: ``*`` and ``?`` within one segment, ``**`` across segments."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (close := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : close]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = close + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def relative_path(shown: str, root: Path) -> str:
    """A scanned file's path relative to ``root``, with ``/`` separators (``../`` when outside it).

    Paths are made absolute without resolving symbolic links, so a Hugging Face cache file is
    matched under its ``snapshots/<rev>/<name>`` path. A Hub file (``owner/name/file``, not on
    disk) keeps its shown path.
    """
    path = Path(shown)
    if not path.is_absolute() and not os.path.lexists(path):
        return shown.replace(os.sep, "/")
    return Path(os.path.relpath(os.path.normpath(path.absolute()), os.path.normpath(root.absolute()))).as_posix()


def file_sha256(path: str) -> str | None:
    """The SHA-256 of a file's content, read in 1 MiB blocks (``None`` when it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def apply_policy(report: ScanReport, policy: Policy, today: dt.date | None = None) -> PolicyOutcome:
    """Remove from ``report`` exactly the findings an ignore entry matches (rule, path glob and,
    when given, the file's content hash); expired entries match nothing."""
    today = today or dt.date.today()
    expired = [i for i in policy.ignores if i.expired(today)]
    active = [(i, glob_regex(i.path)) for i in policy.ignores if not i.expired(today)]
    used: set[int] = set()
    ignored: list[IgnoredFinding] = []
    results: list[FileResult] = []
    for result in report.results:
        if not isinstance(result, ScannedFile) or not result.findings or not active:
            results.append(result)
            continue
        rel = relative_path(result.path, policy.root)
        candidates = [(i, rx) for i, rx in active if rx.fullmatch(rel)]
        if not candidates:
            results.append(result)
            continue
        digest = result.sha256
        if digest is None and any(i.sha256 for i, _ in candidates):
            digest = file_sha256(result.path)
        kept: list[Finding] = []
        for finding in result.findings:
            match = next(
                (i for i, _ in candidates if i.rule == finding.rule and (i.sha256 is None or i.sha256 == digest)),
                None,
            )
            if match is None:
                kept.append(finding)
            else:
                used.add(match.index)
                ignored.append(IgnoredFinding(result.path, result.format, finding, match))
        results.append(replace(result, findings=tuple(kept), sha256=digest) if len(kept) < len(result.findings)
                       else result)  # fmt: skip
    unused = [i for i, _ in active if i.index not in used]
    filtered = replace(report, results=tuple(results))
    return PolicyOutcome(policy, filtered, ignored, unused, expired)
