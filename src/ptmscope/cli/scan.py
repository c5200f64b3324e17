"""``ptmscope scan``: static scan of model files, folders, Hugging Face caches and Hub repos.

The command is thin: it resolves the arguments, calls ``ptmscope.scanners.api`` (and
``hub.scan_repo`` for repository ids), formats the report, and maps it to an exit code.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import get_args

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from ptmscope.cli.options import endpoint_option, token_option
from ptmscope.reports.safe import strip_controls as clean
from ptmscope.scanners import targets as scan_targets
from ptmscope.scanners.interface import FailOn, ScanOptions, ScanReport, SkippedFile
from ptmscope.scanners.output import to_json, to_sarif

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_size(_ctx: click.Context | None, _param: click.Parameter | None, value: str | None) -> int | None:
    """Parse ``500M``, ``2G``, ``1048576`` into bytes (click callback)."""
    if value is None:
        return None
    match = _SIZE.match(value)
    if match is None:
        raise click.BadParameter(f"{value!r} is not a size like 500M, 2G or 1048576")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[unit])


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
@click.argument("targets", nargs=-1, required=True, metavar="PATH|REPO_ID...")
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
@click.option("--show-info", is_flag=True, help="Also list info findings in text output.")
@click.option("--no-progress", is_flag=True, help="Do not draw the progress bar on stderr.")
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
    show_info: bool,
    no_progress: bool,
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
         --skipped ok); reported even when other files had errors
      2  usage error, or a target or file could not be read or downloaded (a missing
         path, an unreachable endpoint, a FIFO or device, a failed download), and no
         finding; the files that could be read are still reported

    \b
    Examples:
      ptmscope scan pytorch_model.bin
      ptmscope scan ~/.cache/huggingface/hub --fail-on dangerous
      ptmscope scan models/ --format sarif -o ptmscope.sarif   # upload to GitHub code scanning
      ptmscope scan openai-community/gpt2@main --max-file-size 2G
      HF_ENDPOINT=http://127.0.0.1:8000 ptmscope scan org/model --format json
    """
    options = ScanOptions(max_file_size=max_file_size, timeout=timeout)
    skipped_fail = skipped_policy == "fail"
    planned = scan_targets.plan(targets)
    with _progress(not no_progress and sys.stderr.isatty(), planned.local_bytes, len(planned.files)) as advance:
        report = scan_targets.scan(planned, options, endpoint=endpoint, token=token, cache_dir=cache_dir,
                                   progress=advance)  # fmt: skip
    if fmt == "json":
        rendered = to_json(report, skipped_fail=skipped_fail)
    elif fmt == "sarif":
        rendered = to_sarif(report, skipped_fail=skipped_fail)
    else:
        rendered = _render_text(report, show_info, skipped_fail)
    if output is not None:
        output.write_text(rendered if rendered.endswith("\n") else rendered + "\n", encoding="utf-8")
    elif rendered.strip():
        click.echo(rendered.rstrip("\n"))
    click.echo(_summary(report, skipped_fail), err=True)
    if report.count_at_least(fail_on) or (skipped_fail and report.unscanned()):
        ctx.exit(1)
    if report.has_errors():
        ctx.exit(2)
    ctx.exit(0)


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
