"""The one SARIF 2.1.0 writer: ``scan --format sarif`` and ``audit --sarif`` both build their logs here.

A log has one run of the ``ptmscope`` driver. Callers describe rules (``rule``) and results
(``result``); this module fills the fields every consumer relies on the same way for both
commands: the driver's name, version and information URI, rule indexes, levels, the
``security-severity`` GitHub code scanning ranks alerts by (critical >= 9.0, high >= 7.0,
medium >= 4.0), and ``partialFingerprints`` that tell results apart.

Untrusted strings (file names, card text, pickle strings) are data here: ``json`` escapes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from ptmscope import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/ptmscope/"
FINGERPRINT = "ptmscope/v1"

Level = Literal["error", "warning", "note", "none"]


def rule_name(rule_id: str) -> str:
    """A rule's PascalCase name from its id (``pickle-dangerous-import`` -> ``PickleDangerousImport``)."""
    return "".join(part.capitalize() for part in rule_id.replace("_", "-").split("-") if part)


def rule(
    rule_id: str,
    *,
    short: str,
    full: str,
    level: Level,
    tags: Sequence[str],
    security_severity: float | None = None,
    help_text: str | None = None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``reportingDescriptor``: what the rule looks for, its default level, tags and severity."""
    props: dict[str, Any] = {"tags": list(tags), **(properties or {})}
    if security_severity is not None:
        props["security-severity"] = f"{min(10.0, max(0.0, security_severity)):.1f}"
    out: dict[str, Any] = {
        "id": rule_id,
        "name": rule_name(rule_id),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": level},
        "properties": props,
    }
    if help_text is not None:
        out["help"] = {"text": help_text, "markdown": help_text}
    return out


def result(
    rule_id: str,
    *,
    level: Level,
    message: str,
    uri: str,
    fingerprint: str,
    start_line: int | None = None,
    logical_name: str | None = None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``result`` at one artifact (``uri``), told apart from others by ``fingerprint``."""
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    if start_line is not None:
        physical["region"] = {"startLine": start_line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if logical_name is not None:
        location["logicalLocations"] = [{"name": logical_name, "kind": "module"}]
    out: dict[str, Any] = {
        "ruleId": rule_id,
        "level": level,
        "message": {"text": message},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT: fingerprint},
    }
    if properties is not None:
        out["properties"] = properties
    return out


def log(
    rules: Iterable[dict[str, Any]],
    results: Iterable[dict[str, Any]],
    *,
    automation_id: str | None = None,
    invocation: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The SARIF log: one run of the ptmscope driver with ``rules`` and ``results`` (rule indexes filled in)."""
    rule_list = list(rules)
    index = {r["id"]: i for i, r in enumerate(rule_list)}
    indexed = [{**r, "ruleIndex": index[r["ruleId"]]} if r["ruleId"] in index else r for r in results]
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
        "results": indexed,
    }
    if automation_id is not None:
        run["automationDetails"] = {"id": automation_id}
    if invocation is not None:
        run["invocations"] = [invocation]
    if properties is not None:
        run["properties"] = properties
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
