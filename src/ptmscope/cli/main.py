"""Entry point of the ``ptmscope`` command.

Commands are registered by name in ``COMMANDS`` and imported only when invoked, so
``ptmscope --help`` does not pay for duckdb, pyarrow or matplotlib. Library errors are
mapped to a message and a hint here, in one place; the traceback is shown only with
``PTMSCOPE_DEBUG=1``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

import click

from ptmscope import __version__
from ptmscope.errors import (
    CloneError,
    CrawlMismatchError,
    DatasetError,
    ExecutorError,
    InputError,
    LabelMappingError,
    ListingFailedError,
    MissingExtraError,
    PtmscopeError,
    SnapshotExistsError,
    SnapshotNotFoundError,
    SourceError,
    SourceUnreachableError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    UnknownFormatError,
    UnsafeModelError,
)

# name -> ("module:attribute", the one-line summary `ptmscope --help` lists); the order is the order of
# `ptmscope --help`. The summaries are here so that listing the commands imports none of them
# (tests/cli/test_cli.py holds each equal to its command's own short help).
COMMANDS: dict[str, tuple[str, str]] = {
    "study": ("ptmscope.cli.study:study", "Measure a registry snapshot the way the ICSE 2023 study did."),
    "import": (
        "ptmscope.cli.importing:import_",
        "Import Hub dumps, model cards, organizations and download tables into a snapshot.",
    ),
    "snapshots": ("ptmscope.cli.snapshots:snapshots", "List the snapshots in the store: name, source, status, size."),
    "export": (
        "ptmscope.cli.export:export",
        "Export every table of the store as Parquet (zstd), for pandas, Polars, Spark or DuckDB.",
    ),
    "scan": ("ptmscope.cli.scan:scan", "Statically scan model files for code that runs when they are loaded."),
    "audit": (
        "ptmscope.cli.audit:audit",
        "Audit a model for reuse: provenance, reproducibility, portability, documentation, popularity, "
        "maintenance and security, each scored 0-10 from explained findings.",
    ),
    "select": (
        "ptmscope.cli.select:select",
        "Find the models that meet your requirements and rank them, explaining both.",
    ),
    "verify": (
        "ptmscope.cli.verify:verify",
        "Re-run a model's claimed evaluation on local data; report claimed vs measured.",
    ),
    "crawl": (
        "ptmscope.cli.crawl:crawl",
        "Crawl a Hugging Face-compatible hub into a snapshot: models, cards, organizations.",
    ),
    "clone": (
        "ptmscope.cli.clone:clone",
        "Bare-clone a snapshot's model repos into DEST and store their commit histories.",
    ),
    "serve-hub": (
        "ptmscope.cli.serve_hub:serve_hub",
        "Serve a snapshot as a Hugging Face Hub: the API, README files and git clones.",
    ),
    "serve": (
        "ptmscope.cli.serve:serve",
        "Explore a snapshot in the browser: search, report cards, lineage, the study.",
    ),
}

# Subclasses before their bases: the first match wins.
ERROR_HINTS: list[tuple[type[BaseException], Callable[[BaseException], str | None]]] = [
    (MissingExtraError, lambda e: "Install the optional extra: pip install 'ptmscope[verify]'"),
    (
        UnsafeModelError,
        lambda e: (
            "Prefer a revision with safetensors weights; --allow-pickle and --trust-remote-code are for models "
            "you trust (scan them first with 'ptmscope scan')."
        ),
    ),
    (DatasetError, lambda e: "See 'ptmscope verify --help' for the data shapes; --column ROLE=COLUMN names columns."),
    (LabelMappingError, lambda e: "Compare the model's config.json id2label with the dataset's labels."),
    (
        SnapshotNotFoundError,
        lambda e: (
            "List snapshots with 'ptmscope snapshots', or create one with 'ptmscope import FILE --snapshot NAME'."
        ),
    ),
    (SnapshotExistsError, lambda e: "Pick another --snapshot name, or pass --append to add to it."),
    (StoreLockedError, lambda e: "Another ptmscope process is using this store; wait for it or pass another --db."),
    (
        StoreCorruptError,
        lambda e: (
            "ptmscope never repairs or overwrites a damaged store: move the file aside (or pass another --db) and "
            "import or crawl again; the bundled snapshots are imported again on first use."
        ),
    ),
    (StoreError, lambda e: "Check the --db path (or PTMSCOPE_DB) and that the disk is writable."),
    (UnknownFormatError, lambda e: "See 'ptmscope import --help' for the shapes ptmscope reads."),
    (InputError, lambda e: None),
    (SourceUnreachableError, lambda e: "Check --endpoint (or HF_ENDPOINT) and your network connection."),
    (ListingFailedError, lambda e: "Run the same command again: the crawl continues from the page that failed."),
    (CrawlMismatchError, lambda e: "List snapshots with 'ptmscope snapshots'; pick a new --snapshot name."),
    (CloneError, lambda e: "Run the same command again to continue; finished clones are kept."),
    (ExecutorError, lambda e: "Run the same command again to continue; finished units are kept."),
    (SourceError, lambda e: None),
    (PtmscopeError, lambda e: None),
]


def hint_for(error: BaseException) -> str | None:
    """Return the next-step hint for a library error, or None."""
    for kind, make in ERROR_HINTS:
        if isinstance(error, kind):
            return make(error)
    return None


class LazyGroup(click.Group):
    """A click group that imports a command's module only when the command runs."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self._lazy, *(c for c in super().list_commands(ctx) if c not in self._lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._lazy:
            return super().get_command(ctx, cmd_name)
        target = self._lazy[cmd_name][0]
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):  # pragma: no cover - a wiring bug
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``ptmscope --help``, from the summaries: no command module is imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            if name in self._lazy:
                rows.append((name, click.Command(name, short_help=self._lazy[name][1]).get_short_help_str(limit)))
            elif (command := super().get_command(ctx, name)) is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="ptmscope")
def cli() -> None:
    """Measure pre-trained model registries and audit models for reuse.

    \b
    Researchers:
      ptmscope study                        the ICSE'23 measurements on the bundled Feb-2022 Hub snapshot
      ptmscope import FILE --snapshot S     load Hub dumps (JSON, JSONL, gzip, cards) into a snapshot
      ptmscope study --snapshot S --html out/
    Engineers reusing a model:
      ptmscope audit ORG/MODEL              a report card: attribute scores, STRIDE risks, lineage
      ptmscope select --task T --license permissive
      ptmscope verify ./model --dataset test.parquet
    Security teams:
      ptmscope scan PATH --format sarif     static scan of model files; exit 1 on findings
    Everyone:
      ptmscope serve                        explore a snapshot in the browser (http://127.0.0.1:8000)

    The store is a DuckDB file (default: your user cache directory; --db or PTMSCOPE_DB to choose).
    """


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning library errors into a message, a hint and exit code 2."""
    try:
        # In non-standalone mode click *returns* the code of ctx.exit(code) instead of raising.
        code = cli.main(args=argv, prog_name="ptmscope", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:  # how click reports Ctrl-C
        click.echo("Interrupted; work committed so far is kept in the store.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted; work committed so far is kept in the store.", err=True)
        sys.exit(130)
    except PtmscopeError as error:
        if os.environ.get("PTMSCOPE_DEBUG"):
            raise
        click.secho(f"Error: {error}", fg="red", err=True)
        hint = hint_for(error)
        if hint:
            click.echo(f"Hint: {hint}", err=True)
        sys.exit(2)
    except Exception as error:  # a query that found the store damaged, long after it was opened
        # Looked up, not imported: --help must not pay for duckdb, and a store never opened cannot be damaged.
        store = sys.modules.get("ptmscope.store.store")
        corrupt = store.store_error_for(error) if store is not None else None
        if corrupt is None or os.environ.get("PTMSCOPE_DEBUG"):
            raise
        click.secho(f"Error: {corrupt}", fg="red", err=True)
        click.echo(f"Hint: {hint_for(corrupt)}", err=True)
        sys.exit(2)
