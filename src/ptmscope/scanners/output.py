"""Machine-readable scan reports: JSON and SARIF 2.1.0 (GitHub code scanning).

These functions only format a ``ScanReport``; they compute nothing. Untrusted strings
(file names, pickle strings) are data here: ``json`` escapes them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ptmscope import __version__, sarif
from ptmscope.sarif import Level
from ptmscope.scanners.config import Ignore, PolicyOutcome
from ptmscope.scanners.interface import Finding, ScannedFile, ScanReport, Severity, SkippedFile, severity_rank

_LEVEL: dict[Severity, Level] = {
    "dangerous": "error",
    "suspicious": "warning",
    "unparseable": "warning",
    "info": "note",
}
# GitHub sorts alerts by this number (critical >= 9.0, high >= 7.0, medium >= 4.0).
_SECURITY_SEVERITY: dict[Severity, str] = {
    "dangerous": "9.5",
    "suspicious": "7.0",
    "unparseable": "5.0",
    "info": "1.0",
}


NOT_SCANNED_RULE = "file-not-scanned"
"""The SARIF rule of a file left unscanned (larger than ``--max-file-size``)."""


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "severity": f.severity,
        "rule": f.rule,
        "message": f.message,
        "member": f.member,
        "offset": f.offset,
        "evidence": f.evidence,
    }


def policy_dict(outcome: PolicyOutcome) -> dict[str, Any]:
    """What a policy file did to the run: the file, every ignored finding with its reason, and the
    ignore entries that expired (they fail the run) or matched nothing."""

    def entry(i: Ignore) -> dict[str, Any]:
        return {
            "index": i.index,
            "rule": i.rule,
            "path": i.path,
            "sha256": i.sha256,
            "reason": i.reason,
            "expires": i.expires.isoformat() if i.expires else None,
        }

    return {
        "file": str(outcome.policy.source),
        "ignored": [
            {"path": x.path, **_finding_dict(x.finding), "reason": x.ignore.reason, "ignore": x.ignore.index}
            for x in outcome.ignored
        ],
        "expired_ignores": [entry(i) for i in outcome.expired],
        "unused_ignores": [entry(i) for i in outcome.unused],
    }


def to_dict(report: ScanReport, skipped_fail: bool = True, policy: PolicyOutcome | None = None) -> dict[str, Any]:
    """The report as plain JSON-ready data (one entry per file).

    A file left unscanned (too large) has ``status: skipped`` and ``verdict: unparseable``, and
    ``fails_run`` says whether it fails the run (``skipped_fail``, the CLI's ``--skipped fail``).
    With a policy file (``policy``: pass its ``report`` as ``report``), the findings it ignored are
    listed under ``policy.ignored`` with their reason, not under their file.
    """
    files: list[dict[str, Any]] = []
    for result in report.results:
        if isinstance(result, ScannedFile):
            files.append(
                {
                    "path": result.path,
                    "status": "scanned",
                    "format": result.format,
                    "size": result.size,
                    "verdict": result.verdict,
                    "seconds": round(result.seconds, 4),
                    "findings": [_finding_dict(f) for f in result.findings],
                }
            )
        else:
            entry: dict[str, Any] = {
                "path": result.path,
                "status": "error" if result.error else "skipped",
                "reason": result.skip_reason,
                "size": result.size,
            }
            if result.unscanned:
                entry["verdict"] = "unparseable"
                entry["fails_run"] = skipped_fail
            files.append(entry)
    out: dict[str, Any] = {
        "tool": "ptmscope",
        "version": __version__,
        "started": datetime.fromtimestamp(report.started, UTC).isoformat(),
        "seconds": round(report.seconds, 3),
        "summary": {
            "files": len(report.results),
            "scanned": len(report.scanned),
            "skipped": len(report.skipped),
            "dangerous": report.count_at_least("dangerous"),
            "suspicious_or_worse": report.count_at_least("suspicious"),
            "unscanned": len(report.unscanned()),
            "unscanned_fail_the_run": skipped_fail,
            "errors": list(report.errors) + [s.path for s in report.skipped if s.error],
        },
        "files": files,
    }
    if policy is not None:
        out["summary"]["ignored"] = len(policy.ignored)
        out["summary"]["expired_ignores"] = len(policy.expired)
        out["policy"] = policy_dict(policy)
    return out


def to_json(report: ScanReport, skipped_fail: bool = True, policy: PolicyOutcome | None = None) -> str:
    """The report as indented JSON text."""
    return json.dumps(to_dict(report, skipped_fail, policy), indent=2, ensure_ascii=False)


# Help of every rule the scanners emit (docs/scanner.md, "Rules"): what it means, what to do.
# tests/test_sarif.py fails when a rule found in src/ptmscope/scanners/ has no entry here.
_DO_NOT_LOAD = "Do not load the file. "
_UNREAD = "Nothing vouches for what was not read: treat the file as unverified until a full scan passes. "
RULE_HELP: dict[str, tuple[str, str]] = {
    # rule: (what it means, what to do)
    "pickle-dangerous-import": (
        "A pickle imports a denylisted global (os.system, eval, subprocess, builtins.exec...): loading the file "
        "with pickle, torch.load or joblib runs it.",
        _DO_NOT_LOAD + "Get the weights as safetensors from a trusted publisher, or load with "
        "torch.load(weights_only=True) only after the import is explained.",  # safe: help text for users, never called
    ),
    "pickle-suspicious-import": (
        "A pickle imports a global outside ptmscope's allowlist; it runs code at load time if it is callable.",
        "Check the named module and function: if they belong to a library you trust, accept the finding; "
        "otherwise do not load the file. Prefer safetensors.",
    ),
    "pickle-global-mutation": (
        "BUILD, SETITEM or APPENDS modifies an imported object while unpickling: a known way to patch code at "
        "load time.",
        _DO_NOT_LOAD + "Ask the publisher for safetensors weights.",
    ),
    "pickle-indirect-call": (
        "REDUCE or NEWOBJ calls the result of another call, which hides what finally runs.",
        "Inspect the evidence offset with a disassembler (pickletools.dis on a copy, never pickle.load); "
        "do not load the file until it is explained.",
    ),
    "pickle-unresolved-import": (
        "An import's module or name is computed at load time (STACK_GLOBAL operands not visible as strings, "
        "or an unregistered EXT code), so what it imports cannot be known statically.",
        _DO_NOT_LOAD + "Treat it as hostile unless the publisher explains it.",
    ),
    "pickle-nested": (
        "Bytes handed to a nested unpickler (pickle.loads, torch.load) were analysed; their own findings follow.",
        "Read the findings of the nested pickle; this one is informational.",
    ),
    "pickle-nested-unseen": (
        "A nested unpickler receives bytes computed at load time, which the scanner cannot see.",
        _DO_NOT_LOAD + "Nested unpickling of computed bytes is a common way to hide a payload.",
    ),
    "pickle-nested-too-deep": (
        "Nested pickles go deeper than the scanner's limit; the deepest were not analysed.",
        _UNREAD + "Ask the publisher for safetensors weights.",
    ),
    "pickle-embedded-pickle": (
        "Data inside the file is a pickle with risky imports; it does not run when the file is loaded.",
        "Nothing runs at load time; check that no code later unpickles those bytes.",
    ),
    "pickle-unparseable": (
        "The pickle opcode stream is malformed, so it cannot be vouched for.",
        _UNREAD + "Download the file again; a malformed pickle that still loads is suspicious.",
    ),
    "pickle-memo-limit": (
        "The pickle memo grew past the scanner's bound; the rest was checked with less context.",
        _UNREAD + "Prefer safetensors weights.",
    ),
    "pickle-trailing-data": (
        "Bytes after the last pickle are not a pickle (legacy torch.save storages or appended data).",
        "Usually harmless; check that the trailing bytes are expected tensor data.",
    ),
    "archive-path-traversal": (
        "An archive member name is absolute or contains '..': extracting it writes outside the target folder.",
        "Do not extract the archive with a tool that honours such names; get the model from a trusted source.",
    ),
    "archive-link-escape": (
        "A tar link, or a zip member that unzip turns into a symbolic link, points outside the archive.",
        "Do not extract the archive; extraction can overwrite or expose files outside the target folder.",
    ),
    "archive-special-file": (
        "The archive holds a device, FIFO or socket, or a link whose target is not a path.",
        "Model archives have no reason to hold special files; do not extract it.",
    ),
    "archive-bomb": (
        "A member or stream claims an extreme compression ratio (a decompression bomb).",
        "Do not extract or load it on a machine that matters; ask the publisher for an uncompressed copy.",
    ),
    "archive-too-deep": (
        "Archives or compressed streams nest deeper than the scanner's limit; the inner ones were not read.",
        _UNREAD + "Unpack the outer layers yourself and scan the result.",
    ),
    "archive-encrypted-member": (
        "An encrypted archive member was not scanned.",
        _UNREAD + "Decrypt it in a safe place and scan the content.",
    ),
    "archive-unsupported-compression": (
        "A member uses a compression method the scanner cannot inflate; it was not scanned.",
        _UNREAD + "Repack the archive with deflate or store and scan it again.",
    ),
    "archive-unsupported": (
        "The 7z reader (py7zr) is not installed, so the archive was not scanned.",
        "Install ptmscope with its dependencies (py7zr) and scan again.",
    ),
    "archive-member-unreadable": (
        "An archive member's data lies outside the archive or cannot be read.",
        _UNREAD + "Download the archive again.",
    ),
    "archive-member-corrupt": (
        "An archive member does not decompress.",
        _UNREAD + "Download the archive again.",
    ),
    "archive-member-too-large": (
        "An archive member is larger than the scanner's limit and was not read.",
        _UNREAD + "Raise the limit (--max-file-size) or scan the extracted member.",
    ),
    "archive-unparseable": (
        "The archive cannot be read or is damaged.",
        _UNREAD + "Download it again.",
    ),
    "zip-no-central-directory": (
        "The zip has no central directory; members were found by walking local headers.",
        "Usually a truncated download: download it again.",
    ),
    "polyglot-zip": (
        "A file of another format is also a zip archive (a polyglot); its members were scanned too.",
        "Polyglots hide content from tools that read only one format; find out why the file is both.",
    ),
    "compressed-corrupt": (
        "A compressed stream (joblib's zlib, gzip, bz2, lzma) does not inflate.",
        _UNREAD + "Download the file again.",
    ),
    "compressed-too-large": (
        "A compressed stream inflates past the scanner's limit.",
        _UNREAD + "Raise the limit or ask for an uncompressed copy.",
    ),
    "torchscript-dangerous-op": (
        "TorchScript code calls file, process or library-loading ops (from_file, load_library...).",
        _DO_NOT_LOAD + "TorchScript runs these ops when the model is executed.",
    ),
    "torchscript-custom-op": (
        "TorchScript code calls a custom op namespace, which needs native code loaded from elsewhere.",
        "Find out which library provides the ops and whether you trust it before running the model.",
    ),
    "npy-object-array": (
        "A .npy array holds Python objects, stored as a pickle (analysed; its findings follow).",
        "Load with numpy.load(allow_pickle=False) where you can; read the pickle findings.",
    ),
    "npy-bad-header": (
        "The .npy header is invalid (version, length, literal dict, dtype or shape).",
        _UNREAD + "Download the file again.",
    ),
    "npy-truncated": (
        "The .npy data is shorter than its header says.",
        _UNREAD + "Download the file again.",
    ),
    "keras-lambda": (
        "The Keras model has a Lambda layer: Python code that runs when the model is loaded or called.",
        _DO_NOT_LOAD + "Use safe_mode=True (the default in Keras 3) and ask the publisher to replace the layer.",
    ),
    "keras-module-reference": (
        "The Keras config names a module outside Keras (dangerous when the module is denylisted).",
        "Check the module; load with safe_mode=True and only from a publisher you trust.",
    ),
    "keras-custom-object": (
        "The Keras config uses a custom registered object, which needs code from elsewhere.",
        "Find out where the custom object's code comes from before loading the model.",
    ),
    "keras-bad-config": (
        "A .keras config.json is not JSON.",
        _UNREAD + "Download the file again.",
    ),
    "hdf5-no-keras-config": (
        "An HDF5 file has no Keras model config (weights only?).",
        "Informational: weights-only HDF5 files define no layers.",
    ),
    "savedmodel-dangerous-op": (
        "A TensorFlow graph uses file or Python ops (ReadFile, WriteFile, PyFunc...).",
        _DO_NOT_LOAD + "Running the graph reads or writes files or runs Python.",
    ),
    "savedmodel-dangerous-op-name": (
        "A dangerous op name appears in a malformed graph.",
        "Treat the graph as hostile until the publisher explains it.",
    ),
    "savedmodel-unknown-op": (
        "A TensorFlow graph uses an op outside the standard set (custom native code).",
        "Find out which library provides the op and whether you trust it.",
    ),
    "savedmodel-unparseable": (
        "saved_model.pb is malformed.",
        _UNREAD + "Download the model again.",
    ),
    "savedmodel-truncated": (
        "saved_model.pb is truncated; the part present was inspected.",
        _UNREAD + "Download the model again.",
    ),
    "onnx-external-data-escape": (
        "An ONNX external_data location is absolute, contains '..' or is a URL: loading reads outside the model "
        "folder.",
        _DO_NOT_LOAD + "Loading it can read arbitrary files.",
    ),
    "onnx-custom-domain": (
        "The ONNX model uses an operator domain outside the standard ones (custom native kernels).",
        "Find out which runtime extension provides the operators and whether you trust it.",
    ),
    "onnx-unparseable": (
        "The ONNX protobuf is malformed.",
        _UNREAD + "Download the model again.",
    ),
    "safetensors-invalid-header": (
        "The safetensors header fails strict validation (size, JSON, dtypes, shapes, offsets).",
        _UNREAD + "Download the file again; a valid safetensors file always passes.",
    ),
    "safetensors-code-like-metadata": (
        "safetensors metadata looks like code; safetensors never runs it.",
        "Informational: check that no tool of yours evaluates the metadata.",
    ),
    "gguf-template-injection": (
        "A GGUF chat template reaches Python internals (__class__, __globals__...): a Jinja server-side "
        "template injection (CVE-2024-34359-style).",
        "Do not serve the model with a runtime that renders its template unsandboxed; ask for a clean template.",
    ),
    "gguf-invalid": (
        "The GGUF structure is inconsistent with the file.",
        _UNREAD + "Download the file again.",
    ),
    "remote-budget-exceeded": (
        "A remote scan (HTTP range requests) needed more bytes than its per-file budget; the findings made before "
        "are kept.",
        _UNREAD + "Scan the file locally (download it, then ptmscope scan it), or raise --byte-budget.",
    ),
    "scan-timeout": (
        "The per-file time limit was hit; findings are partial.",
        _UNREAD + "Scan it again with a larger --timeout.",
    ),
    "file-changed": (
        "The file shrank or changed while it was scanned; findings so far are kept.",
        "Scan it again once nothing writes to it.",
    ),
    "scan-resource-limit": (
        "The scanner ran out of memory or recursion depth on this file.",
        _UNREAD + "Scan it alone with more memory, and report the file if it is small.",
    ),
    "scanner-error": (
        "The scanner hit a bug on this file; the run went on.",
        _UNREAD + "Report the bug with the file's format (not the file itself, if it is untrusted).",
    ),
    NOT_SCANNED_RULE: (
        "A file that may hold a model was not scanned: it is larger than --max-file-size, so nothing vouches for it.",
        "Scan it with a larger --max-file-size, or accept it with --skipped ok.",
    ),
}


def rule_help(rule_id: str) -> tuple[str, str]:
    """What ``rule_id`` means and what to do; a generic text for a rule without an entry."""
    return RULE_HELP.get(rule_id, (f"ptmscope scanner rule {rule_id}.", "See the rules table in docs/scanner.md."))


def to_sarif(
    report: ScanReport, skipped_fail: bool = True, base: Path | None = None, policy: PolicyOutcome | None = None
) -> str:
    """The report as SARIF 2.1.0 (written by ``ptmscope.sarif``, as the audit's is).

    URIs are relative to ``base`` (the current directory by default) with ``uriBaseId: %SRCROOT%``;
    a Hub file's ``owner/name/path`` is such a relative URI too. A file left unscanned (too large)
    is a ``file-not-scanned`` result at the ``unparseable`` level when it fails the run
    (``skipped_fail``), else only a notification. With a policy file (``policy``: pass its
    ``report`` as ``report``), each finding it ignored is still a result, marked suppressed
    (``suppressions: [{"kind": "external", "justification": reason}]``); expired ignores are
    error notifications.
    """
    locator = sarif.Locator(base)
    worst: dict[str, Severity] = {}
    results: list[dict[str, Any]] = []
    if skipped_fail and report.unscanned():
        worst[NOT_SCANNED_RULE] = "unparseable"
        for skipped in report.unscanned():
            location = locator.artifact(skipped.path)
            results.append(
                sarif.result(
                    NOT_SCANNED_RULE,
                    level=_LEVEL["unparseable"],
                    message=skipped.skip_reason,
                    location=location,
                    start_line=1,
                    fingerprint_of=(skipped.size,),
                    properties={"severity": "unparseable", "size": skipped.size},
                )
            )

    def add(path: str, fmt: str, f: Finding, reason: str | None = None) -> None:
        if severity_rank(f.severity) > severity_rank(worst.get(f.rule, "info")) or f.rule not in worst:
            worst[f.rule] = f.severity
        where = f" (in {f.member})" if f.member else ""
        result = sarif.result(
            f.rule,
            level=_LEVEL[f.severity],
            message=f"{f.message}{where}",
            location=locator.artifact(path),
            start_line=1,
            fingerprint_of=(f.member, f.offset, f.evidence),
            properties={
                "severity": f.severity,
                "member": f.member,
                "offset": f.offset,
                "evidence": f.evidence,
                "format": fmt,
            },
        )
        if reason is not None:
            result["suppressions"] = [{"kind": "external", "justification": reason}]
        results.append(result)

    for scanned in report.scanned:
        for f in scanned.findings:
            add(scanned.path, scanned.format, f)
    if policy is not None:
        for ignored in policy.ignored:
            add(ignored.path, ignored.format, ignored.finding, f"{ignored.ignore.reason} ({policy_name(policy)})")
    notifications = [
        {"level": "error" if s.error else "note", "message": {"text": f"{s.path}: {s.skip_reason}"}}
        for s in report.results
        if isinstance(s, SkippedFile)
    ] + [{"level": "error", "message": {"text": e}} for e in report.errors]
    if policy is not None:
        notifications += [{"level": "error", "message": {"text": expired_message(policy, i)}} for i in policy.expired]
    invocation = {"executionSuccessful": not report.has_errors(), "toolExecutionNotifications": notifications}
    rules = [_rule(rule_id, severity) for rule_id, severity in worst.items()]
    log = sarif.log(rules, results, automation_id="ptmscope-scan/", locator=locator, invocation=invocation)
    return json.dumps(log, indent=2, ensure_ascii=False)


def _rule(rule_id: str, severity: Severity) -> dict[str, Any]:
    meaning, todo = rule_help(rule_id)
    family = rule_id.split("-", 1)[0]
    return sarif.rule(
        rule_id,
        short=rule_id.replace("-", " "),
        full=meaning,
        level=_LEVEL[severity],
        tags=["model-file", family, severity],
        security_severity=float(_SECURITY_SEVERITY[severity]),
        help_text=f"{meaning}\n\nWhat to do: {todo}",
        help_markdown=f"**{rule_id}** ({severity})\n\n{meaning}\n\n**What to do:** {todo}\n\n"
        f"See [the scanner's rules]({sarif.docs_uri('scanner.md', 'rules')}).",
        help_uri=sarif.docs_uri("scanner.md", "rules"),
    )


def policy_name(outcome: PolicyOutcome) -> str:
    """The policy file's path as shown to people: relative to the current directory when inside it."""
    source = outcome.policy.source
    try:
        return source.relative_to(Path.cwd().absolute()).as_posix()
    except ValueError:
        return str(source)


def expired_message(outcome: PolicyOutcome, ignore: Ignore) -> str:
    """The line that names an expired ignore entry (it suppresses nothing and fails the run)."""
    return (
        f"policy {policy_name(outcome)}: {ignore.describe()} expired on {ignore.expires}; "
        "it suppresses nothing and fails the run: renew or remove it"
    )
