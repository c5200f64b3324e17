"""``ptmscope serve-hub``: serve a snapshot as a Hugging Face-compatible API (reproducible research, tests)."""

from __future__ import annotations

import signal
from pathlib import Path

import click
from rich.console import Console

from ptmscope.cli.options import db_option, stderr_console
from ptmscope.cli.session import parse_rate_limit
from ptmscope.hub.replay import keep_cards_command
from ptmscope.hub.server import FaultPlan, HubServer, serve
from ptmscope.reports.safe import text
from ptmscope.store.store import default_db_path


class _CannotServe(click.ClickException):
    """serve-hub could not do what was asked (exit 2 by the exit-code contract, not click's 1)."""

    exit_code = 2


@click.command("serve-hub")
@click.option("--snapshot", "-s", "snapshot_name", metavar="NAME", help="The snapshot to serve. Default: the newest.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless you say).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option(
    "--faults",
    metavar="SPEC",
    help="Inject errors at random, e.g. 429=0.1,500=0.05,slow=0.05,drop=0.02,badjson=0.01 (probabilities).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the fault draws (same seed, same faults).")
@click.option("--slow-seconds", default=1.5, show_default=True, help="Delay of a 'slow' fault.")
@click.option(
    "--rate-limit",
    "rate_limit",
    metavar="SPEC",
    help="Enforce budgets per bucket, e.g. api=500/300,resolvers=3000/300, or a plan (anonymous, free, pro). "
    "Default: headers only (the anonymous plan), nothing refused.",
)
@click.option(
    "--files",
    "files",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Serve real files laid out as DIR/<repo_id>/<path in repo> (repos must be in the snapshot): resolve "
    "answers like the Hub (weights and files over 10 MiB: 302 to /cdn-lfs/<sha256>, with Range), and the "
    "siblings and the tree API list them.",
)
@click.option("--verbose", is_flag=True, help="Log every request on stderr.")
@db_option
def serve_hub(
    snapshot_name: str | None,
    host: str,
    port: int,
    faults: str | None,
    seed: int,
    slow_seconds: float,
    rate_limit: str | None,
    files: Path | None,
    verbose: bool,
    db_path: Path | None,
) -> None:
    """Serve a snapshot as a Hugging Face Hub: the API, README files and git clones.

    \b
    Enough of the Hub for huggingface_hub (HfApi(endpoint=URL)), hf_hub_download and git clone:
      GET /api/models (search, author, filter, sort, direction, limit, full, cardData, expand;
          Link-header pagination), /api/models/ID[/revision/REV], /api/models/ID/commits/REV,
          /api/organizations/NAME/overview, /ID/resolve/REV/README.md (cards kept by the crawl
          or 'import --keep-cards'), and git smart HTTP for the snapshot's bare clones.
      With --files DIR: /ID/resolve/REV/PATH serves DIR/ID/PATH (weights and files over
          10 MiB: 302 to /cdn-lfs/SHA256, which honours Range; the cdn bucket is never
          limited, faults apply), /api/models/ID/tree/REV[/PATH] and paths-info list them,
          and siblings (with blobs=true: sizes, blob ids, LFS sha256) are DIR's files.
    At start it says how many models have README.md bytes to serve and, when the snapshot
    kept few, the import command that keeps them; each README 404 says why in its body.
    Responses carry the Hub's RateLimit headers. The snapshot is copied into memory at start,
    so the store stays free for other commands (a crawl into the same store works).

    \b
    Examples:
      ptmscope serve-hub --snapshot hub-2022-02 --port 8080
      HF_ENDPOINT=http://127.0.0.1:8080 ptmscope crawl --snapshot replay
      ptmscope serve-hub --faults 429=0.1,500=0.05,slow=0.05,drop=0.02,badjson=0.01 --seed 7
      ptmscope serve-hub --rate-limit api=100/10,resolvers=600/10
      ptmscope serve-hub --files ./models   # ./models/org/name/model.safetensors
    """
    try:
        plan = FaultPlan.parse(faults, seed=seed, slow_seconds=slow_seconds)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--faults") from error
    budgets = parse_rate_limit(rate_limit) if rate_limit else None
    err = stderr_console()
    err.print("Loading the snapshot...")
    try:
        server = serve(
            db_path or default_db_path(),
            snapshot_name,
            host=host,
            port=port,
            faults=plan,
            rate_limits=budgets,
            verbose=verbose,
            files=files,
        )
    except OSError as error:
        raise _CannotServe(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    _announce(err, server, db_path)
    click.echo(server.url)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops it like Ctrl-C: the summary is printed, the copy freed

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if server.counts["readme-bytes-not-kept"]:
            err.print(
                f"{server.counts['readme-bytes-not-kept']:,} README.md requests answered 404 because the snapshot "
                "did not keep the card's bytes (see the warning above).",
                style="yellow", soft_wrap=True,
            )  # fmt: skip
        if plan.injected:
            err.print(f"Faults injected: {dict(plan.injected)}", style="dim", soft_wrap=True)
        if server.counts["cdn"]:
            err.print(f"cdn: {server.counts['cdn']:,} requests (never limited)", soft_wrap=True)
        if budgets:
            for name, window in server.windows.items():
                err.print(
                    f"{name}: {window.accepted:,} requests within the budget, {window.refused:,} refused (429)",
                    soft_wrap=True,
                )


def _announce(err: Console, server: HubServer, db_path: Path | None) -> None:
    """What is served, where, and (when the snapshot kept few README bytes) how to serve more."""
    data = server.data
    err.print(
        "Serving snapshot ", text(data.snapshot.name, 80, "bold cyan"), f" ({data.models:,} models) at ",
        text(server.url, 100, "bold"), sep="",
    )  # fmt: skip
    err.print(f"README.md files to serve: {data.readmes:,} ({data.cards:,} models had a card)", soft_wrap=True)
    if server.files is not None:
        err.print(
            "Files served from ", text(str(server.files.root), 500), f": {server.files.repos():,} repos of the "
            "snapshot have a folder there", sep="", soft_wrap=True,
        )  # fmt: skip
    if data.cards and data.readmes < data.cards // 2:
        err.print(
            f"Warning: the snapshot keeps the analysis of {data.cards:,} cards but the bytes of only "
            f"{data.readmes:,}, so README.md requests for the others answer 404 (the body says why), and a crawl "
            "of this server gets no cards. To serve them: ",
            text(keep_cards_command(data.snapshot, str(db_path) if db_path else None), 2_000),
            style="yellow", soft_wrap=True, sep="",
        )  # fmt: skip
    err.print("Press Ctrl-C to stop.", style="dim")
