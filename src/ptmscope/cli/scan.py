"""``ptmscope scan``: static scan of model files, folders, Hugging Face caches and Hub repos.

The command is thin: it resolves the arguments, calls ``ptmscope.scanners.api`` (and
``hub.scan_repo`` for repository ids), formats the report, and maps it to an exit code.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any, get_args

import click
from click.core import ParameterSource
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from ptmscope.cli.options import db_option, endpoint_option, rate_limit_option, token_option
from ptmscope.reports.safe import strip_controls as clean
from ptmscope.scanners import targets as scan_targets
from ptmscope.scanners.config import (
    Policy,
    PolicyError,
    PolicyOutcome,
    apply_policy,
    find_policy,
    load_policy,
    parse_size_text,
)
from ptmscope.scanners.interface import FailOn, ScanOptions, ScanReport, SkippedFile
from ptmscope.scanners.output import expired_message, policy_name, to_json, to_sarif


def parse_size(_ctx: click.Context | None, _param: click.Parameter | None, value: str | None) -> int | None:
    """Parse ``500M``, ``2G``, ``1048576`` into bytes (click callback)."""
    if value is None:
        return None
    size = parse_size_text(value)
    if size is None:
        raise click.BadParameter(f"{value!r} is not a size like 500M, 2G or 1048576")
    return size


def _render_text(report: ScanReport, show_info: bool, skipped_fail: bool = True) -> str:
    sink = io.StringIO()
    console = Console(file=sink, width=120, force_terminal=False, color_system=None, soft_wrap=True)
    style = {"dangerous": "bold red", "suspicious": "yellow", "unparseable": "magenta", "info": "dim"}
    for result in report.results:
        if isinstance(result, SkippedFile):
            if result.error:
                console.print(
                    Text.assemble(("ERROR ", "bold red"), clean(result.path), f"  {clean(result.skip_reason)}")
                )
            elif result.unscanned:
                label, note = (
                    ("UNPARSEABLE", "  (fails the run; --skipped ok accepts it)")
                    if skipped_fail
                    else ("SKIPPED", "  (accepted: --skipped ok)")
                )
                console.print(
                    Text.assemble(
                        (f"{label:11} ", style["unparseable"] if skipped_fail else "dim"),
                        clean(result.path),
                        f"  {clean(result.skip_reason)}",
                        (note, "dim"),
                    )
                )
            continue
        shown = [f for f in result.findings if show_info or f.severity != "info"]
        if not shown and result.verdict == "clean":
            continue
        console.print(
            Text.assemble(
                (f"{result.verdict.upper():11} ", style.get(result.verdict, "")),
                clean(result.path),
                (f"  [{result.format}]", "dim"),
            )
        )
        for f in shown:
            where = f" in {clean(f.member)}" if f.member else ""
            at = f" @{f.offset}" if f.offset is not None else ""
            console.print(
                Text.assemble(
                    "    ",
                    (f"{f.severity:11} ", style[f.severity]),
                    (f.rule, "bold"),
                    f"{where}{at}: ",
                    clean(f.message),
                )
            )
    for error in report.errors:
        console.print(Text.assemble(("ERROR ", "bold red"), clean(error)))
    return sink.getvalue()


def _summary(report: ScanReport, skipped_fail: bool = True) -> str:
    scanned, skipped = len(report.scanned), len(report.skipped)
    counts = {s: sum(1 for r in report.scanned if r.verdict == s) for s in ("dangerous", "suspicious", "unparseable")}
    errors = report.error_count()
    unscanned = len(report.unscanned())
    unparseable = f"{counts['unparseable']} unparseable"
    if unscanned and skipped_fail:
        unparseable = f"{counts['unparseable'] + unscanned} unparseable ({unscanned} not scanned)"
    elif unscanned:
        unparseable += f", {unscanned} not scanned (accepted: --skipped ok)"
    line = (
        f"Scanned {scanned} file(s), skipped {skipped}, in {report.seconds:.1f}s: "
        f"{counts['dangerous']} dangerous, {counts['suspicious']} suspicious, {unparseable}, {errors} error(s)."
    )
    if errors:
        line += f" {errors} target(s) or file(s) could not be read (listed above)"
        line += "; the rest were scanned." if scanned or skipped > errors else "."
    return line


@click.command("scan")
@click.argument("targets", nargs=-1, metavar="PATH|REPO_ID...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="Report format on stdout (or --output): text for people, json for scripts, sarif for GitHub code scanning.",
)
@click.option(
    "--fail-on",
    type=click.Choice(list(get_args(FailOn))),
    default="unparseable",
    show_default=True,
    help="Exit 1 when a file has a finding at this severity or worse (dangerous > suspicious > "
    "unparseable). The default also fails on files ptmscope cannot vouch for (malformed, timed out).",
)
@click.option(
    "--max-file-size",
    callback=parse_size,
    default=None,
    metavar="SIZE",
    help="Do not scan (or download) files larger than SIZE, e.g. 500M or 20G. Such a file counts as "
    "unparseable and fails the run unless --skipped ok. Default: no limit; large files are read a window at "
    "a time, so memory does not grow with size.",
)
@click.option(
    "--skipped",
    "skipped_policy",
    type=click.Choice(["fail", "ok"]),
    default="fail",
    show_default=True,
    help="What a file left unscanned because of --max-file-size does to the exit status: fail (it counts as "
    "unparseable and the run exits 1, whatever --fail-on says) or ok (reported, accepted).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Per-file time limit; a file that hits it gets an 'unparseable' finding.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report to FILE instead of stdout.",
)
@endpoint_option
@token_option
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Hugging Face cache to scan already-downloaded Hub files from; other downloads go to a temporary "
    "folder inside it and are deleted once scanned (default: the Hugging Face cache, and the system's "
    "temporary folder).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Policy file to use (a .ptmscope.toml, or a pyproject.toml with [tool.ptmscope]); default: the "
    "nearest one at or above the first local target's folder (see docs/scanner.md, 'Policy file').",
)
@click.option("--no-config", is_flag=True, help="Use no policy file, even if one is found.")
@click.option("--show-info", is_flag=True, help="Also list info findings in text output.")
@click.option("--no-progress", is_flag=True, help="Do not draw the progress bar on stderr.")
@click.option(
    "--snapshot",
    "-s",
    "snapshot_name",
    metavar="NAME",
    help="Scan every model repo of this stored snapshot instead of TARGETS, reading only the bytes each "
    "verdict needs over HTTP ranges (weights are never downloaded); verdicts go to the store. See "
    "'Registry scan' below.",
)
@click.option("--task", metavar="TAG", help="With --snapshot: only models with this pipeline tag.")
@click.option(
    "--min-downloads", type=click.IntRange(0), metavar="N", help="With --snapshot: only models with N+ downloads."
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    help="With --snapshot: at most this many repos in this run (most downloaded first).",
)
@click.option(
    "--byte-budget",
    callback=parse_size,
    default="64M",
    show_default=True,
    metavar="SIZE",
    help="With --snapshot: bytes one file may fetch; a file whose verdict needs more is 'unparseable' "
    "(remote-budget-exceeded), never passed.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="With --snapshot: where per-repo units run, a local process pool or a Dask cluster (--scheduler).",
)
@click.option("--scheduler", metavar="ADDRESS", help="With --executor dask: the scheduler, e.g. tcp://10.0.0.5:8786.")
@click.option(
    "--workers", type=click.IntRange(1, 256), help="With --snapshot: local worker processes (default: the CPUs)."
)
@rate_limit_option
@click.option(
    "--parts",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --snapshot: where units write their partitions (default: beside the store; Dask workers must see it).",
)
@db_option
@click.pass_context
def scan(
    ctx: click.Context,
    targets: tuple[str, ...],
    fmt: str,
    fail_on: FailOn,
    max_file_size: int | None,
    timeout: float,
    output: Path | None,
    skipped_policy: str,
    endpoint: str | None,
    token: str | None,
    cache_dir: Path | None,
    config_file: Path | None,
    no_config: bool,
    show_info: bool,
    no_progress: bool,
    snapshot_name: str | None,
    task: str | None,
    min_downloads: int | None,
    limit: int | None,
    byte_budget: int,
    executor: str,
    scheduler: str | None,
    workers: int | None,
    rate_limit: str,
    parts: Path | None,
    db_path: Path | None,
) -> None:
    """Statically scan model files for code that runs when they are loaded.

    Nothing is ever unpickled, imported or executed: pickles are read opcode by opcode,
    archives are read in memory, protobufs and headers are decoded by hand.

    \b
    Reads, by content (never by extension alone):
      pickle (protocols 0-5, stacked), PyTorch zip and legacy .pt, TorchScript,
      numpy .npy/.npz, joblib (plain and zlib/gzip/bz2/lzma/xz), zip, tar, 7z,
      Keras .h5/.keras, TensorFlow SavedModel, ONNX, safetensors, GGUF.

    \b
    Targets:
      FILE or FOLDER   folders are walked recursively (Hugging Face cache folders too)
      OWNER/NAME[@REV] a Hub repository: only files worth scanning are downloaded

    \b
    Severities, worst first:
      dangerous    runs code or reaches files, processes or the network on load
      suspicious   imports or calls something outside the allowlist of real checkpoints
      unparseable  malformed, truncated or timed out: cannot be vouched for
      info         worth knowing, no risk on load (shown with --show-info)

    \b
    Exit status:
      0  no file has a finding at or above --fail-on, and every file was scanned
      1  at least one does, or a file was left unscanned by --max-file-size (unless
         --skipped ok), or the policy file has an expired ignore; reported even when
         other files had errors
      2  usage error (an invalid policy file too), or a target or file could not be read or downloaded (a missing
         path, an unreachable endpoint, a FIFO or device, a failed download), and no
         finding; the files that could be read are still reported

    \b
    Policy file (docs/scanner.md, "Policy file"):
      .ptmscope.toml, or [tool.ptmscope] in a pyproject.toml, found at or above the first
      local target's folder (or --config FILE; --no-config for none): defaults for
      fail-on, max-file-size, skipped; allow-globals and deny-globals; [[ignore]] entries
      (rule, path glob, reason, optional sha256 and expires). Ignored findings are listed
      in every format (SARIF: suppressed); an expired ignore fails the run.

    \b
    Registry scan (--snapshot NAME):
      Every model repo of a stored snapshot (filtered with --task, --min-downloads,
      --limit) at its listed revision: each file is opened at the hub's resolve URL
      (paced to the resolver budget, --rate-limit) and only the bytes its verdict
      needs are read with range requests: a PyTorch zip's directory and data.pkl, a
      legacy .bin's pickles, a safetensors or GGUF header. Verdicts go to the store
      (per repo, path and blob); a rerun skips blobs already scanned and continues a
      killed run. 'ptmscope study' then fills Table IV's malware row. Exit status: 1
      when a scanned file is at or above --fail-on, 2 when repos failed.

    \b
    Examples:
      ptmscope scan pytorch_model.bin
      ptmscope scan ~/.cache/huggingface/hub --fail-on dangerous
      ptmscope scan models/ --format sarif -o ptmscope.sarif   # upload to GitHub code scanning
      ptmscope scan openai-community/gpt2@main --max-file-size 2G
      HF_ENDPOINT=http://127.0.0.1:8000 ptmscope scan org/model --format json
      ptmscope scan --snapshot hub-2026-11 --min-downloads 1000 --format json
    """
    if snapshot_name is not None:
        if targets:
            raise click.UsageError("give TARGETS or --snapshot, not both")
        _scan_snapshot(ctx, snapshot_name, locals())
        return
    if not targets:
        raise click.UsageError("give files, folders or repo ids to scan (or --snapshot NAME)")
    _scan_targets(ctx, targets, locals())


def _scan_targets(ctx: click.Context, targets: tuple[str, ...], given: dict[str, Any]) -> None:
    """Scan files, folders and Hub repos; print the report; exit 0, 1 or 2 (see ``scan``)."""
    fail_on: FailOn = given["fail_on"]
    max_file_size: int | None = given["max_file_size"]
    skipped_policy: str = given["skipped_policy"]
    fmt, show_info, output = given["fmt"], given["show_info"], given["output"]
    policy = _load_policy(targets, given["config_file"], given["no_config"])
    if policy is not None:
        fail_on, max_file_size, skipped_policy = _policy_defaults(ctx, policy, fail_on, max_file_size, skipped_policy)
    options = ScanOptions(
        max_file_size=max_file_size,
        timeout=given["timeout"],
        allow_globals=policy.allow_globals if policy else (),
        deny_globals=policy.deny_globals if policy else (),
    )
    skipped_fail = skipped_policy == "fail"
    planned = scan_targets.plan(targets)
    with _progress(
        not given["no_progress"] and sys.stderr.isatty(), planned.local_bytes, len(planned.files)
    ) as advance:
        report = scan_targets.scan(
            planned,
            options,
            endpoint=given["endpoint"],
            token=given["token"],
            cache_dir=given["cache_dir"],
            progress=advance,
        )
    outcome = apply_policy(report, policy) if policy is not None else None
    if outcome is not None:
        report = outcome.report
    rendered = _render(report, fmt, show_info, skipped_fail, outcome)
    if output is not None:
        output.write_text(rendered if rendered.endswith("\n") else rendered + "\n", encoding="utf-8")
    elif rendered.strip():
        click.echo(rendered.rstrip("\n"))
    _echo_policy_notes(outcome)
    click.echo(_summary(report, skipped_fail) + _policy_summary(outcome), err=True)
    if report.count_at_least(fail_on) or (skipped_fail and report.unscanned()) or (outcome and outcome.expired):
        ctx.exit(1)
    if report.has_errors():
        ctx.exit(2)
    ctx.exit(0)


def _scan_snapshot(ctx: click.Context, snapshot_name: str, given: dict[str, Any]) -> None:
    """Hand a --snapshot run to its own module (it loads the store, which a local scan never does)."""
    # the store (duckdb): a local scan, a pre-commit hook, must not load it
    from ptmscope.cli.scan_snapshot import SnapshotScanArgs, run

    options = ScanOptions(max_file_size=given["max_file_size"], timeout=given["timeout"])
    run(
        ctx,
        SnapshotScanArgs(
            snapshot=snapshot_name,
            db_path=given["db_path"],
            endpoint=given["endpoint"],
            endpoint_given=ctx.get_parameter_source("endpoint") == ParameterSource.COMMANDLINE,
            token=given["token"],
            fmt=given["fmt"],
            fail_on=given["fail_on"],
            output=given["output"],
            scan=options,
            task=given["task"],
            min_downloads=given["min_downloads"],
            limit=given["limit"],
            byte_budget=given["byte_budget"],
            executor=given["executor"],
            scheduler=given["scheduler"],
            workers=given["workers"],
            rate_limit=given["rate_limit"],
            parts=given["parts"],
        ),
    )


def _render(report: ScanReport, fmt: str, show_info: bool, skipped_fail: bool, outcome: PolicyOutcome | None) -> str:
    if fmt == "json":
        return to_json(report, skipped_fail=skipped_fail, policy=outcome)
    if fmt == "sarif":
        return to_sarif(report, skipped_fail=skipped_fail, policy=outcome)
    return _render_text(report, show_info, skipped_fail) + _render_policy(outcome)


def _policy_defaults(
    ctx: click.Context, policy: Policy, fail_on: FailOn, max_file_size: int | None, skipped_policy: str
) -> tuple[FailOn, int | None, str]:
    """The policy file's defaults for --fail-on, --max-file-size and --skipped; a flag given on the
    command line wins."""
    if policy.fail_on is not None and _default(ctx, "fail_on"):
        fail_on = policy.fail_on
    if policy.max_file_size is not None and _default(ctx, "max_file_size"):
        max_file_size = policy.max_file_size
    if policy.skipped is not None and _default(ctx, "skipped_policy"):
        skipped_policy = policy.skipped
    return fail_on, max_file_size, skipped_policy


def _echo_policy_notes(outcome: PolicyOutcome | None) -> None:
    """On stderr: each expired ignore (an error: it fails the run), then each unused one (a note)."""
    if outcome is None:
        return
    for ignore in outcome.expired:
        click.echo(f"ERROR {clean(expired_message(outcome, ignore))}", err=True)
    for ignore in outcome.unused:
        name, entry = clean(policy_name(outcome)), clean(ignore.describe())
        click.echo(f"note: policy {name}: {entry} matched no finding (unused)", err=True)


def _default(ctx: click.Context, name: str) -> bool:
    """True when option ``name`` was not given on the command line (a policy file may then set it)."""
    return ctx.get_parameter_source(name) in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)


def _load_policy(targets: tuple[str, ...], config_file: Path | None, no_config: bool) -> Policy | None:
    """The policy file named by --config, else the nearest one above the first local target (or the
    current folder when every target is a Hub repository); ``None`` with --no-config."""
    if config_file is not None and no_config:
        raise click.UsageError("--config and --no-config cannot be used together")
    if no_config:
        return None
    try:
        if config_file is not None:
            return load_policy(config_file)
        local = next((Path(t) for t in targets if Path(t).exists()), None)
        start = Path.cwd() if local is None else local if local.is_dir() else local.parent
        found = find_policy(start)
        return load_policy(found) if found is not None else None
    except PolicyError as error:
        raise click.UsageError(clean(str(error))) from None


def _render_text_policy_line(outcome: PolicyOutcome) -> str:
    count = len(outcome.ignored)
    return f"{count} finding{'' if count == 1 else 's'} ignored by policy ({clean(policy_name(outcome))})"


def _render_policy(outcome: PolicyOutcome | None) -> str:
    """The text report's last line: how many findings the policy file ignored (never silently)."""
    if outcome is None or not outcome.ignored:
        return ""
    return _render_text_policy_line(outcome) + "\n"


def _policy_summary(outcome: PolicyOutcome | None) -> str:
    if outcome is None:
        return ""
    line = f" Policy {clean(policy_name(outcome))}: {len(outcome.ignored)} finding(s) ignored"
    if outcome.expired:
        line += f", {len(outcome.expired)} expired ignore(s) (fail the run)"
    if outcome.unused:
        line += f", {len(outcome.unused)} unused ignore(s)"
    return line + "."


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, _path: str, _size: int) -> None:
        return None


class _Progress(_NoProgress):
    """A rich progress bar on stderr, advanced by bytes scanned."""

    def __init__(self, total: int, files: int) -> None:
        self.bar = Progress(
            TextColumn("scanning"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[name]}"),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.bar.add_task("scan", total=total or None, name="")
        self.files = files

    def __enter__(self) -> _Progress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def __call__(self, path: str, size: int) -> None:
        self.bar.update(self.task, advance=size, name=clean(Path(path).name)[:40])


def _progress(enabled: bool, total: int, files: int) -> _NoProgress:
    # only worth drawing for runs that take a while
    if enabled and (files > 20 or total > (256 << 20)):
        return _Progress(total, files)
    return _NoProgress()
