"""``ptmscope verify``: re-run a model's claimed evaluation on local data and judge the claim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ptmscope.cli.options import (
    db_option,
    emit_json,
    endpoint_option,
    json_option,
    snapshot_option,
    stderr_console,
    token_option,
)
from ptmscope.cli.session import open_store, resolve_snapshot
from ptmscope.reports.verify import csv_text, print_result, results_table, write_figure
from ptmscope.verify.claims import VERDICTS
from ptmscope.verify.results import as_json as result_json
from ptmscope.verify.results import save
from ptmscope.verify.run import VerifyOptions, VerifyRun, verify_model, verify_snapshot_into

SCHEMA = "ptmscope.verify/1"


def _columns(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        role, sep, name = value.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise click.BadParameter(f"{value!r}: write ROLE=COLUMN, e.g. text=sentence", param_hint="--column")
        out[role.strip()] = name.strip()
    return out


class _Bar:
    """A rich progress bar on stderr fed by the library's ``progress(stage, done, total)`` callback."""

    def __init__(self, enabled: bool) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=stderr_console(), transient=True, disable=not enabled,
        )  # fmt: skip
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def __call__(self, stage: str, done: int, total: int) -> None:
        label = {"examples": "evaluating", "models": "models", "loading": "loading model"}.get(stage, stage)
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)
        if stage == "examples" and done == 0:
            self.progress.reset(self.tasks[stage], total=total)


@click.command()
@click.argument("model", required=False)
@click.option("--dataset", "-d", required=True, metavar="PATH_OR_NAME",
              help="Evaluation data: a datasets save_to_disk folder, a Parquet/CSV/JSONL file or folder, or a dataset "
                   "name already in the local Hugging Face cache (never downloaded).")  # fmt: skip
@click.option("--split", default="test", show_default=True, help="The split to evaluate.")
@click.option("--task", "-t", type=click.Choice(["text-classification", "token-classification", "image-classification",
                                                 "sentence-similarity", "feature-extraction"]),
              help="The task (default: from the model's architectures).")  # fmt: skip
@click.option("--metric", "-m", help="accuracy, f1 (macro; entity F1 for tokens), f1_weighted, f1_micro, "
                                     "precision, recall, spearman, pearson (default: accuracy / entity f1 / "
                                     "spearman).")  # fmt: skip
@click.option("--dataset-name", metavar="NAME", help="The dataset's name in claims (default: its own info, else the "
                                                     "file or folder name), e.g. emotion.")  # fmt: skip
@click.option("--dataset-config", metavar="CONFIG", help="The dataset configuration (cache look-up, claim matching).")
@click.option("--column", "columns", multiple=True, metavar="ROLE=COLUMN",
              help="Name a column: text=sentence, label=coarse_label, tokens=words, tags=ner_tags, image=img, "
                   "sentence1=..., sentence2=..., score=...")  # fmt: skip
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Evaluate a seeded random sample of N examples (a quick check; the interval widens).",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--resamples", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Bootstrap resamples for the confidence interval.")  # fmt: skip
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95,
              show_default=True, help="Coverage of the interval.")  # fmt: skip
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=0.01,
    show_default=True,
    help="Absolute slack around the interval before a claim is a discrepancy (0.01 = one point).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap and of --limit.")
@click.option(
    "--allow-pickle",
    is_flag=True,
    help="Also load pickle-based weights (.bin) when there are no safetensors. Pickles can run code.",
)
@click.option("--trust-remote-code", is_flag=True,
              help="Run the repository's own Python code when transformers lacks its architecture. Only for authors "
                   "you trust.")  # fmt: skip
@click.option("--repo-id", metavar="ID", help="The repo id of a local model folder (default: the folder name).")
@click.option("--revision", metavar="REV", help="The revision of a repo id to verify.")
@endpoint_option
@token_option
@click.option("--offline", is_flag=True, help="Never download: use local folders and the Hugging Face cache only.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Hugging Face hub cache for downloaded models (default: the usual one).")  # fmt: skip
@snapshot_option("Verify every model of this snapshot that claims results on --dataset for --task.")
@click.option("--max-models", type=click.IntRange(min=1), default=20, show_default=True,
              help="With --snapshot: verify at most this many models (most downloaded first).")  # fmt: skip
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the results as CSV.")
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a claimed-vs-measured figure (.svg or .png).")  # fmt: skip
@json_option(SCHEMA)
@click.option("--no-store", is_flag=True, help="Do not record the results in the store.")
@db_option
def verify(model: str | None, snapshot_name: str | None, max_models: int, repo_id: str | None,
           columns: tuple[str, ...], csv_file: Path | None, plot_file: Path | None, as_json: bool, no_store: bool,
           db_path: Path | None, **option_values: Any) -> None:  # fmt: skip
    """Re-run a model's claimed evaluation on local data; report claimed vs measured.

    \b
    MODEL is a model folder, a Hugging Face cache folder, or a repo id (the local cache,
    else the Hub at --endpoint). Only safetensors weights are loaded unless
    --allow-pickle; repository code runs only with --trust-remote-code. The metric gets
    a seeded bootstrap confidence interval; the card's model-index claim that matches
    the task, dataset, split and metric is judged consistent when it lies within the
    interval widened by --tolerance, else a discrepancy. Results go to the store.
    Needs the optional extra: pip install 'ptmscope[verify]'.

    \b
    Examples:
      ptmscope verify ./my-model --dataset ./emotion_test.parquet --dataset-name emotion
      ptmscope verify bhadresh-savani/distilbert-base-uncased-emotion --dataset dair-ai/emotion --limit 500
      ptmscope verify ./ner-model --dataset conll.jsonl --task token-classification --metric f1
      ptmscope verify ./minilm --dataset pairs.csv --task sentence-similarity --dataset-name stsb
      ptmscope verify --snapshot hub-2022-02 --task text-classification --dataset emotion --max-models 10 \\
          --csv emotion.csv --plot emotion.svg

    \b
    Exit codes: 0 every claim judged is consistent (or no claim matched); 1 a claim is a
    discrepancy beyond --tolerance; 2 a model could not be verified (--snapshot runs go on and
    store the rest; 2 wins over 1), a usage or data error, or the Hub unreachable (checked
    within 5 s, one line); 130 interrupted (what was measured is kept).
    """
    if bool(model) == bool(snapshot_name):
        raise click.UsageError("give a MODEL to verify, or --snapshot NAME (with --task) to verify many")
    if plot_file is not None and plot_file.suffix.lower() not in (".svg", ".png"):
        raise click.BadParameter("write the plot as .svg or .png", param_hint="--plot")
    if snapshot_name and option_values["task"] is None:
        raise click.UsageError("--snapshot needs --task")
    options = VerifyOptions(columns=_columns(columns), **option_values).validated()
    err = stderr_console()
    with _Bar(err.is_terminal) as bar:
        if snapshot_name:
            with open_store(db_path) as store:
                snapshot = resolve_snapshot(store, snapshot_name)
                run = verify_snapshot_into(store, snapshot, options, keep=not no_store, max_models=max_models,
                                           progress=bar)  # fmt: skip
        else:
            assert model is not None
            run = VerifyRun([verify_model(model, options, repo_id=repo_id, progress=bar)], None)
            if not no_store:  # the store is opened (and locked) only once the model has been measured
                with open_store(db_path) as store:
                    run.run_id = save(store.con, run.results, tolerance=options.tolerance)
    documents = [result_json(r, options.tolerance) for r in run.results]
    title = (f"verify: {options.task} on {options.dataset_name or options.dataset} [{options.split}]"
             + (f", models of {snapshot_name}" if snapshot_name else ""))  # fmt: skip
    _write_files(documents, csv_file, plot_file, title, err)
    if as_json:
        emit_json({"schema": SCHEMA, "run_id": run.run_id, "snapshot": snapshot_name, "results": documents,
                   "summary": _summary(documents)})  # fmt: skip
    else:
        _print(documents, title, bool(snapshot_name))
        if run.run_id is not None:
            err.print(f"[dim]stored as verify run {run.run_id} in the store[/dim]")
    _exit_for(documents, options.tolerance)


def _write_files(documents: list[dict[str, Any]], csv_file: Path | None, plot_file: Path | None, title: str,
                 err: Console) -> None:  # fmt: skip
    if csv_file is not None:
        csv_file.write_text(csv_text(documents), encoding="utf-8")
        err.print(f"Wrote {csv_file}", markup=False)
    if plot_file is not None:
        write_figure(documents, plot_file, title)
        err.print(f"Wrote {plot_file}", markup=False)


def _print(documents: list[dict[str, Any]], title: str, many: bool) -> None:
    out = Console()
    if not many:
        print_result(documents[0], out)
        return
    out.print(results_table(documents, title))
    counts = ", ".join(f"{n} {verdict.replace('_', ' ')}" for verdict, n in _summary(documents).items() if n)
    out.print(f"{len(documents)} model(s): {counts or 'none matched'}", markup=False)


def exit_code(documents: list[dict[str, Any]]) -> int:
    """2 when a model could not be verified, else 1 when a claim is a discrepancy, else 0."""
    verdicts = [d["verdict"] for d in documents]
    if "failed" in verdicts:
        return 2
    return 1 if "discrepancy" in verdicts else 0


def _summary(documents: list[dict[str, Any]]) -> dict[str, int]:
    return {verdict: sum(1 for d in documents if d["verdict"] == verdict) for verdict in VERDICTS}


def _exit_for(documents: list[dict[str, Any]], tolerance: float) -> None:
    """Say why the exit code is not 0, on stderr, and exit with it."""
    code = exit_code(documents)
    if code == 0:
        return
    failed = sum(1 for d in documents if d["verdict"] == "failed")
    discrepancies = sum(1 for d in documents if d["verdict"] == "discrepancy")
    parts = []
    if discrepancies:
        parts.append(f"{discrepancies} claim(s) are a discrepancy beyond --tolerance {tolerance:g}")
    if failed:
        parts.append(f"{failed} of {len(documents)} model(s) could not be verified (the reason is in each result); "
                     "the others are kept, and running again retries")  # fmt: skip
    click.echo(f"verify: {'; '.join(parts)}.", err=True)
    click.get_current_context().exit(code)
