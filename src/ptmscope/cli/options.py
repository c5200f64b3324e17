"""Options and output helpers every command shares, defined once; light enough for any command.

Every command takes the same ``--endpoint``, ``--token``, ``--json`` and ``--snapshot`` from here
(``--db`` and the store helpers are in ``ptmscope.cli.session``), so their names, environment
variables and defaults cannot drift apart. Nothing here imports the store or the Hub client:
``ptmscope scan`` of local files (a pre-commit hook) starts without duckdb or huggingface_hub.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from ptmscope.hub import DEFAULT_ENDPOINT

F = TypeVar("F", bound=Callable[..., Any])


def endpoint_option(fn: F) -> F:
    """``--endpoint URL`` (env HF_ENDPOINT): the hub to talk to; the real Hub by default."""
    return click.option(
        "--endpoint",
        metavar="URL",
        envvar="HF_ENDPOINT",
        show_envvar=True,
        default=DEFAULT_ENDPOINT,
        show_default=True,
        help="A Hugging Face-compatible hub: the real Hub, a mirror, or 'ptmscope serve-hub'.",
    )(fn)


def rate_limit_option(fn: F) -> F:
    """``--rate-limit SPEC``: per-bucket budgets, or a plan name."""
    return click.option(
        "--rate-limit",
        "rate_limit",
        metavar="SPEC",
        default="anonymous",
        show_default=True,
        help="Budgets to pace to until the hub's RateLimit headers say otherwise: a plan (anonymous, free, pro) "
        "or BUCKET=REQUESTS/SECONDS pairs, e.g. api=1000/300,resolvers=5000/300.",
    )(fn)


def json_option(schema: str | None = None) -> Callable[[F], F]:
    """``--json``: the command's JSON document on stdout instead of tables (naming its schema when it has one)."""
    named = f" (schema {schema})" if schema else ""
    return click.option("--json", "as_json", is_flag=True, help=f"Print JSON{named} on stdout instead of tables.")


def token_option(fn: F) -> F:
    """``--token TOKEN`` (env PTMSCOPE_HF_TOKEN): a token for ``--endpoint``; never sent anywhere else."""
    return click.option(
        "--token",
        metavar="TOKEN",
        envvar="PTMSCOPE_HF_TOKEN",
        show_envvar=True,
        help="A token for --endpoint (gated or private models). Default: huggingface_hub's token (HF_TOKEN, else "
        "your saved login), sent only when --endpoint is the endpoint it belongs to (HF_ENDPOINT, else "
        "https://huggingface.co); never sent on a redirect to another host.",
    )(fn)


def snapshot_option(help: str) -> Callable[[F], F]:
    """``--snapshot/-s NAME``: the snapshot a command reads or writes; ``help`` says which and the default."""
    return click.option("--snapshot", "-s", "snapshot_name", metavar="NAME", help=help)


def stderr_console() -> Console:
    """A rich console on stderr for progress and summaries (stdout carries the data)."""
    return Console(stderr=True)


def emit_json(document: Any) -> None:
    """Write a JSON document to stdout."""
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


DB_ENV = "PTMSCOPE_DB"
"""The environment variable naming the store (the same as ``ptmscope.store.store.DB_ENV``; a test holds them equal)."""


def db_option(fn: F) -> F:
    """``--db PATH`` (env PTMSCOPE_DB): the DuckDB store to use."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=DB_ENV,
        show_envvar=True,
        help="The DuckDB store file. Default: ptmscope.duckdb in your user cache directory.",
    )(fn)
