"""The one SARIF 2.1.0 writer: ``scan --format sarif`` and ``audit --sarif`` both build their logs here.

A log has one run of the ``ptmscope`` driver. Callers describe rules (``rule``) and results
(``result``); this module fills the fields GitHub code scanning relies on the same way for both
commands: the driver's name, version and information URI, rule indexes, levels, help with a
``helpUri`` into the docs, the ``security-severity`` alerts are ranked by (critical >= 9.0,
high >= 7.0, medium >= 4.0, low below), the ``security`` tag, ``partialFingerprints`` that tell
results apart, and GitHub's upload limits (results per run, tags per rule).

Locations (``Locator``) are relative to a base folder, ``%SRCROOT%``: the current working
directory for a scan (GitHub runs the tool from the repository root), so a finding lands on the
repository file. ``run.originalUriBaseIds`` gives the base as a ``file://`` URI. A path outside
the base keeps an absolute ``file://`` URI and no ``uriBaseId``.

Untrusted strings (file names, card text, pickle strings) are data here: ``json`` escapes them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from ptmscope import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/ptmscope/"
DOCS_URI = "https://github.com/ptmscope/ptmscope/blob/main/docs/"
"""Where the docs folder is published; every ``helpUri`` is this plus a page and an anchor."""
FINGERPRINT = "ptmscope/v2"
SRCROOT = "%SRCROOT%"

# GitHub code scanning's upload limits (docs.github.com, "SARIF support for code scanning").
MAX_RUNS = 20
MAX_RESULTS = 25_000
MAX_LOCATIONS = 1_000
MAX_TAGS = 10
MAX_GZIP_BYTES = 10 * 1024 * 1024

Level = Literal["error", "warning", "note", "none"]
_LEVEL_ORDER: dict[str, int] = {"error": 0, "warning": 1, "note": 2, "none": 3}


def rule_name(rule_id: str) -> str:
    """A rule's PascalCase name from its id (``pickle-dangerous-import`` -> ``PickleDangerousImport``)."""
    return "".join(part.capitalize() for part in rule_id.replace("_", "-").split("-") if part)


def docs_uri(page: str, anchor: str) -> str:
    """The ``helpUri`` of a rule: ``docs/<page>`` at ``#<anchor>``."""
    return f"{DOCS_URI}{page}#{anchor}"


def rule(
    rule_id: str,
    *,
    short: str,
    full: str,
    level: Level,
    tags: Sequence[str],
    security_severity: float,
    help_text: str,
    help_markdown: str,
    help_uri: str,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``reportingDescriptor``: what the rule looks for, what to do, its level, tags and severity.

    ``tags`` always include ``security`` (first) and are cut to GitHub's 10 per rule.
    """
    unique = list(dict.fromkeys(["security", *tags]))[:MAX_TAGS]
    props: dict[str, Any] = {
        "tags": unique,
        "security-severity": f"{min(10.0, max(0.0, security_severity)):.1f}",
        **(properties or {}),
    }
    return {
        "id": rule_id,
        "name": rule_name(rule_id),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": help_text, "markdown": help_markdown},
        "helpUri": help_uri,
        "defaultConfiguration": {"level": level},
        "properties": props,
    }


class Locator:
    """Turns file paths into ``artifactLocation`` objects relative to one base folder (``%SRCROOT%``).

    A relative path is taken against the base; one that stays inside it becomes a relative URI with
    ``uriBaseId: %SRCROOT%``; one outside keeps an absolute ``file://`` URI without ``uriBaseId``.
    Symbolic links are not followed (the path named is the one reported).
    """

    def __init__(self, base: Path | None = None) -> None:
        self.base = _lexical(base if base is not None else Path.cwd())

    def base_ids(self) -> dict[str, Any]:
        """``run.originalUriBaseIds``: ``%SRCROOT%`` as a ``file://`` URI ending in ``/``."""
        uri = self.base.as_uri()
        return {SRCROOT: {"uri": uri if uri.endswith("/") else uri + "/"}}

    def relative(self, path: str) -> str | None:
        """``path`` relative to the base as a POSIX string, or ``None`` when it lies outside."""
        absolute = _lexical(self.base / path)
        try:
            rel = absolute.relative_to(self.base)
        except ValueError:
            return None
        return rel.as_posix() if rel.parts else "."

    def artifact(self, path: str) -> dict[str, Any]:
        """The ``artifactLocation`` of ``path``."""
        rel = self.relative(path)
        if rel is None:
            return {"uri": _lexical(self.base / path).as_uri()}
        return {"uri": quote(rel, safe="/"), "uriBaseId": SRCROOT}


def _lexical(path: Path) -> Path:
    """``path`` made absolute and normalised by its text (``..`` removed), symbolic links not followed."""
    return Path(os.path.normpath(path.absolute()))


def fingerprint(*parts: object) -> str:
    """A stable hash over ``parts`` (rule, relative path, member, offset...), for ``partialFingerprints``."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def result(
    rule_id: str,
    *,
    level: Level,
    message: str,
    location: dict[str, Any],
    fingerprint_of: Sequence[object],
    start_line: int | None = None,
    logical_name: str | None = None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``result`` at one artifact (``location``, from ``Locator.artifact``).

    Its fingerprint hashes the rule, the location's URI and ``fingerprint_of`` (member, offset...),
    so results in different files never share one.
    """
    physical: dict[str, Any] = {"artifactLocation": location}
    if start_line is not None:
        physical["region"] = {"startLine": start_line}
    loc: dict[str, Any] = {"physicalLocation": physical}
    if logical_name is not None:
        loc["logicalLocations"] = [{"name": logical_name, "kind": "module"}]
    out: dict[str, Any] = {
        "ruleId": rule_id,
        "level": level,
        "message": {"text": message},
        "locations": [loc],
        "partialFingerprints": {FINGERPRINT: fingerprint(rule_id, location["uri"], *fingerprint_of)},
    }
    if properties is not None:
        out["properties"] = properties
    return out


def _distinct_fingerprints(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give the n-th result with an already seen fingerprint a fingerprint that also hashes n."""
    seen: dict[str, int] = {}
    out = []
    for r in results:
        value = r["partialFingerprints"][FINGERPRINT]
        n = seen.get(value, 0)
        seen[value] = n + 1
        if n:
            r = {**r, "partialFingerprints": {FINGERPRINT: fingerprint(value, n)}}
        out.append(r)
    return out


def log(
    rules: Iterable[dict[str, Any]],
    results: Iterable[dict[str, Any]],
    *,
    automation_id: str,
    locator: Locator | None = None,
    invocation: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    max_results: int = MAX_RESULTS,
) -> dict[str, Any]:
    """The SARIF log: one run of the ptmscope driver with ``rules`` and ``results`` (rule indexes filled in).

    At most ``max_results`` results (GitHub's 25,000 per run) are kept, the most severe first; a
    ``toolExecutionNotification`` says how many were left out.
    """
    rule_list = list(rules)
    index = {r["id"]: i for i, r in enumerate(rule_list)}
    kept = _distinct_fingerprints(list(results))
    notifications: list[dict[str, Any]] = []
    if len(kept) > max_results:
        left_out = len(kept) - max_results
        kept = sorted(kept, key=lambda r: _LEVEL_ORDER.get(r["level"], 3))[:max_results]
        notifications.append(
            {
                "level": "warning",
                "descriptor": {"id": "results-capped"},
                "message": {
                    "text": f"{left_out} result(s) left out: GitHub code scanning takes at most "
                    f"{max_results} results per run (the most severe are kept; see the JSON report for all)."
                },
            }
        )
    indexed = [{**r, "ruleIndex": index[r["ruleId"]]} if r["ruleId"] in index else r for r in kept]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "ptmscope",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rule_list,
            }
        },
        "automationDetails": {"id": automation_id},
        "results": indexed,
    }
    if locator is not None:
        run["originalUriBaseIds"] = locator.base_ids()
    if notifications:
        invocation = dict(invocation or {"executionSuccessful": True})
        invocation["toolExecutionNotifications"] = [*invocation.get("toolExecutionNotifications", []), *notifications]
    if invocation is not None:
        run["invocations"] = [invocation]
    if properties is not None:
        run["properties"] = properties
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
