"""``ptmscope serve``: explore a snapshot in the browser (a local web app over the store, read-only)."""

from __future__ import annotations

import ipaddress
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import click
import uvicorn
from rich.console import Console

from ptmscope.audits.snapshot import AUTO_CONTEXT, choose_context
from ptmscope.cli.options import db_option, stderr_console
from ptmscope.cli.session import open_store, resolve_snapshot
from ptmscope.reports.safe import text
from ptmscope.sample import SAMPLE_SNAPSHOT
from ptmscope.store.store import default_db_path
from ptmscope.web.app import LOOPBACK_HOSTS, create_app
from ptmscope.web.explorer import Explorer
from ptmscope.web.gate import DEFAULT_SLOTS


class _Server(uvicorn.Server):
    """uvicorn's server, stopping on Ctrl-C and SIGTERM as its normal end (exit 0, not killed by the signal again)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class _CannotServe(click.ClickException):
    """serve could not do what was asked (exit 2 by the exit-code contract, not click's 1)."""

    exit_code = 2


def _snapshot_name(db_path: Path | None, name: str | None) -> str:
    """The snapshot to serve: the one named, else the store's newest complete one, else the bundled Feb-2022 Hub.

    A bundled snapshot is imported on first use (the one write ``serve`` ever makes).
    """
    exists = Path(db_path or default_db_path()).exists()
    if name is None and exists:
        with open_store(db_path, read_only=True) as store:
            info = choose_context(store, AUTO_CONTEXT)
            if info is not None and info.partial is None:
                name = info.snapshot.name
    with open_store(db_path, read_only=exists) as store:
        return resolve_snapshot(store, name or SAMPLE_SNAPSHOT).name


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a clear error (port in use, no such address)."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host.strip("[]")).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET  # a host name: resolved by bind
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise _CannotServe(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    sock.set_inheritable(True)
    return sock


def _warm_study(explorer: Explorer) -> None:
    with suppress(Exception):  # a failure shows on /study itself, when it is asked for
        explorer.study()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _announce(err: Console, explorer: Explorer, url: str) -> None:
    err.print(
        "Serving snapshot ", text(explorer.snapshot.name, 80, "bold cyan"),
        f" ({explorer.index.models:,} models, loaded in {explorer.load_seconds:.1f} s) at ", text(url, 200, "bold"),
        sep="", soft_wrap=True,
    )  # fmt: skip
    if explorer.run_id is None:
        err.print(
            f"No 'audit --all' run for {explorer.snapshot.name}: model pages are audited when opened (about a second "
            "each) and /select ranks without audit scores. Store one with: ptmscope audit --all --snapshot "
            f"{explorer.snapshot.name}", style="yellow", soft_wrap=True, markup=False,
        )  # fmt: skip
    if not explorer.cards_in_memory:
        err.print("The snapshot keeps more card text than fits in memory: search covers model ids only.",
                  style="yellow", soft_wrap=True)  # fmt: skip
    err.print("Press Ctrl-C to stop.", style="dim")


@click.command("serve", short_help="Explore a snapshot in the browser: search, report cards, lineage, the study.")
@click.option(
    "--snapshot", "-s", "snapshot_name", metavar="NAME",
    help="The snapshot to serve. Default: the newest complete snapshot of the whole registry in the store, else "
    "the bundled hub-2022-02 (imported on first use).",
)  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless you say).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option(
    "--slots", default=DEFAULT_SLOTS, show_default=True, type=click.IntRange(1, 64), metavar="N",
    help="Pages computed at once; more requests wait their turn (one process shares one GIL: a few pages at a time "
    "finish sooner than many at once). Waiting for a writer or for another request's page takes no slot.",
)  # fmt: skip
@click.option("--verbose", is_flag=True, help="Log every request on stderr.")
@db_option
def serve(snapshot_name: str | None, host: str, port: int, slots: int, verbose: bool, db_path: Path | None) -> None:
    """Explore a snapshot in the browser: search, report cards, lineage, the study.

    \b
    A local web app over the store, read-only:
      /models           search model ids (and card text), facets like the Hub's (task, library,
                        licence class, weight format, flagged files, claims, dataset, ...),
                        sort, pages; every state in the URL
      /models/ID        the report card: attribute scores, findings with evidence and
                        remediation, STRIDE risks, lineage, claims, files with scan verdicts,
                        the card rendered safely; SARIF, CycloneDX and badge downloads
      /study            the study's figures, each bar linking to the models behind it
      /select           select's requirements form and its ranked, explained shortlist
      /api/...          the same documents as JSON (docs/serve.md)
    The store is opened read-only per request and released between them, so a crawl can
    write the same store while you browse; search and facets run on an in-memory index
    loaded at start. Every response carries a strict Content-Security-Policy; nothing is
    fetched from anywhere but this server.

    \b
    Examples:
      ptmscope serve                                  # the bundled Feb-2022 Hub at http://127.0.0.1:8000
      ptmscope serve --snapshot hub-2025-04-sample --port 8001
      ptmscope serve --db crawl.duckdb --snapshot hub-2026-11 --host 0.0.0.0

    \b
    Exit codes: 0 stopped with Ctrl-C or SIGTERM; 2 usage error, no such snapshot, the port
    in use, or a store error.
    """
    err = stderr_console()
    name = _snapshot_name(db_path, snapshot_name)
    sock = _listen(host, port)
    try:
        err.print(f"Loading snapshot {name}...", markup=False, highlight=False)
        allowed = None if not _is_loopback(host) else [*LOOPBACK_HOSTS]
        explorer = Explorer(Path(db_path or default_db_path()), name)
        app = create_app(explorer.access.path, name, allowed_hosts=allowed, explorer=explorer, slots=slots)
        bound = sock.getsockname()
        shown = f"[{bound[0]}]" if sock.family == socket.AF_INET6 else bound[0]
        url = f"http://{shown}:{bound[1]}/"
        _announce(err, explorer, url)
        click.echo(url)
        # The study takes seconds on a big snapshot: compute it while the first pages are served.
        threading.Thread(target=_warm_study, args=(explorer,), daemon=True, name="ptmscope-study").start()
        config = uvicorn.Config(app, log_level="info" if verbose else "warning", access_log=verbose,
                                server_header=False, proxy_headers=False)  # fmt: skip
        _Server(config).run(sockets=[sock])
    finally:
        sock.close()
