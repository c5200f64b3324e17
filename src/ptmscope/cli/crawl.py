"""``ptmscope crawl``: list a registry's models, cards and organizations into a snapshot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from ptmscope.cli.options import db_option, emit_json, endpoint_option, json_option, stderr_console
from ptmscope.cli.session import open_store, parse_rate_limit, stage_progress
from ptmscope.crawl import CrawlOptions
from ptmscope.crawl import crawl as run_crawl
from ptmscope.reports.safe import text


@click.command()
@endpoint_option
@click.option(
    "--snapshot",
    "-s",
    "snapshot_name",
    metavar="NAME",
    help="Snapshot to write (continued if it is an unfinished crawl). Default: continue the latest unfinished "
    "crawl of this endpoint and query, or create crawl-<host>-<time>.",
)
@click.option("--limit", type=click.IntRange(1), help="Stop after this many models.")
@click.option("--author", metavar="NAME", help="Only this user's or organization's models.")
@click.option("--filter", "filters", multiple=True, metavar="TAG", help="Only models with this tag (repeatable).")
@click.option("--search", metavar="TEXT", help="Only models whose id contains TEXT.")
@click.option("--no-cards", is_flag=True, help="Skip README.md cards.")
@click.option("--no-orgs", is_flag=True, help="Skip organization overviews.")
@click.option(
    "--full", "full_refetch", is_flag=True, help="Fetch every card, even those unchanged since the last crawl."
)
@click.option("--base", metavar="NAME", help="Copy unchanged cards from this snapshot (default: the last crawl).")
@click.option(
    "--rate-limit",
    "rate_limit",
    metavar="SPEC",
    help="Budgets to pace to until the hub's RateLimit headers say otherwise: a plan (anonymous, free, pro) "
    "or BUCKET=REQUESTS/SECONDS pairs, e.g. api=1000/300,resolvers=5000/300. Default: anonymous; for a "
    "loopback endpoint (your own serve-hub on 127.0.0.1 or localhost) none, so only the server's RateLimit "
    "headers pace the crawl.",
)
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64), help="Requests in flight.")
@click.option(
    "--token",
    envvar="PTMSCOPE_HF_TOKEN",
    show_envvar=True,
    help="A token for --endpoint. Default: huggingface_hub's token (HF_TOKEN, else your saved login), sent only "
    "when --endpoint is the endpoint it belongs to (HF_ENDPOINT, else https://huggingface.co); never sent on a "
    "redirect to another host.",
)
@click.option(
    "--deadline",
    default=120.0,
    show_default=True,
    type=click.FloatRange(1, 3600),
    metavar="SECONDS",
    help="Longest a request may take in all (connection, redirects, headers, body). A listing page over it is "
    "asked for in halves; a card or organization over it is a stored failure a rerun retries.",
)
@click.option(
    "--max-pause",
    default=600.0,
    show_default=True,
    type=click.FloatRange(0, 86400),
    metavar="SECONDS",
    help="Longest pause the hub can make the crawl wait (Retry-After, a spent RateLimit budget). A longer one is "
    "not waited: the requests it concerns are stored failures a rerun retries (with a warning).",
)
@click.option(
    "--page-size", default=1000, show_default=True, type=click.IntRange(1, 1000), help="Models per listing page."
)
@click.option(
    "--memory-limit",
    default="64MB",
    show_default=True,
    metavar="SIZE",
    help="Cap on the store's (DuckDB's) memory for this run. It caches what it writes up to this and then "
    "evicts or spills, so the crawler's memory stops growing with the model count; a crawl is bound by "
    "the rate limit, not by this cache.",
)
@json_option()
@db_option
def crawl(
    endpoint: str,
    snapshot_name: str | None,
    limit: int | None,
    author: str | None,
    filters: tuple[str, ...],
    search: str | None,
    no_cards: bool,
    no_orgs: bool,
    full_refetch: bool,
    base: str | None,
    rate_limit: str | None,
    concurrency: int,
    token: str | None,
    deadline: float,
    max_pause: float,
    page_size: int,
    memory_limit: str,
    as_json: bool,
    db_path: Path | None,
) -> None:
    """Crawl a Hugging Face-compatible hub into a snapshot: models, cards, organizations.

    \b
    Lists every model with its metadata in pages of 1,000 (one API request per thousand
    models), fetches each model's README.md at the listed sha through the resolver bucket and
    each namespace's organization overview. Each rate-limit bucket (api, resolvers) is paced
    on its own from the hub's RateLimit headers; 429 and 5xx are retried with backoff that
    honours Retry-After. A model that still fails is stored with its reason and the crawl
    goes on. Kill it at any moment and run the same command again: it continues where it
    stopped, with nothing lost or duplicated. A new crawl of the same endpoint copies the
    cards of models whose sha did not change from the last complete crawl.

    \b
    Bounds: connect 10 s, read 30 s (silence), --deadline per request (120 s), --max-pause for
    any pause the hub asks for (600 s), bodies 64 MiB. Redirects are followed only on the
    endpoint (and, for README files of the real Hub, its CDN hosts). A DNS failure or refused
    connection stops at once. The store is held only while a page or chunk is written, so
    'ptmscope study' and 'audit' can use it during a crawl.

    \b
    Exit status: 0 the snapshot is complete (failures stored as final, such as a README the
    hub lists but does not serve, are reported); 2 it is not (the endpoint failed, the listing
    stopped short, or failures a rerun retries remain: rerun the same command to continue);
    130 interrupted (what was committed is kept).

    \b
    Examples:
      ptmscope crawl --snapshot hub-2026-11                 # the real Hub (about 2M models)
      ptmscope crawl --author google --limit 500 --snapshot google
      ptmscope crawl --endpoint http://127.0.0.1:8080 --snapshot replay
      ptmscope crawl --rate-limit free --concurrency 16 --snapshot hub-free
    """
    options = CrawlOptions(
        limit=limit,
        author=author,
        filters=filters,
        search=search,
        cards=not no_cards,
        orgs=not no_orgs,
        incremental=not full_refetch,
        base=base,
        budgets=None if rate_limit is None else parse_rate_limit(rate_limit),
        concurrency=concurrency,
        token=token,
        deadline=deadline,
        max_pause=max_pause,
        page_size=page_size,
    )
    err = stderr_console()
    with open_store(db_path) as store, stage_progress(enabled=err.is_terminal) as progress:
        try:
            store.con.execute("SET memory_limit = ?", [memory_limit])
        except Exception as error:  # duckdb.Error; duckdb is not imported at module level
            raise click.BadParameter(str(error).splitlines()[0], param_hint="--memory-limit") from error
        # A crawl waits on the network, not on DuckDB; few threads also keep a small cache enough on big machines.
        store.con.execute(f"SET threads = {min(4, os.cpu_count() or 1)}")
        report = run_crawl(store, endpoint, snapshot_name, options, progress=progress)
    document = report_json(report)
    if as_json:
        emit_json(document)
    else:
        _print(document)
    if document["status"] != "complete" or document["retryable_failures"]:
        _print_incomplete(document)
        click.get_current_context().exit(2)


def report_json(report: Any) -> dict[str, Any]:
    """The crawl report as JSON (the --json output)."""
    return {
        "snapshot": report.snapshot.name,
        "status": report.snapshot.status,
        "resumed": report.resumed,
        "already_complete": report.already_complete,
        "base": report.base,
        "seconds": round(report.seconds, 3),
        "stage_seconds": report.stage_seconds,
        "stage_requests": report.stage_requests,
        "models": report.total_models,
        "run": {
            "pages": report.pages,
            "page_splits": report.page_splits,
            "models": report.models,
            "cards_fetched": report.cards_fetched,
            "cards_copied": report.cards_copied,
            "cards_missing": report.cards_missing,
            "organizations": report.organizations,
            "not_organizations": report.not_organizations,
            "failures": dict(report.failures),
        },
        "failures": report.open_failures,
        "retryable_failures": report.retryable_failures,
        "listing_stopped": report.listing_stopped,
        "requests": report.requests,
    }


def _print_incomplete(doc: dict[str, Any]) -> None:
    """One line on stderr saying why the crawl is not done, how much failed, and what to do."""
    parts = []
    if doc["listing_stopped"]:
        parts.append(f"the listing stopped short ({doc['listing_stopped']})")
    elif doc["status"] != "complete":
        parts.append("the listing stopped short")
    if doc["retryable_failures"]:
        parts.append(f"{doc['retryable_failures']:,} stored failure(s) a rerun retries")
    stderr_console().print(
        Text.assemble(
            ("Not complete: ", "bold yellow"),
            text("; ".join(parts), 600),
            ". Everything collected is kept; rerun the same command to continue.",
        )
    )


def _print(doc: dict[str, Any]) -> None:
    console = stderr_console()
    run = doc["run"]
    verb = "Already complete" if doc["already_complete"] else ("Continued" if doc["resumed"] else "Crawled")
    console.print(
        Text.assemble(
            f"{verb}: snapshot ",
            text(doc["snapshot"], 80, "bold cyan"),
            f" ({doc['status']}): {doc['models']:,} models. This run: {run['models']:,} models in {run['pages']:,} "
            f"pages, {run['cards_fetched']:,} cards fetched, {run['cards_copied']:,} copied"
            + (" from " if doc["base"] else ""),
            text(doc["base"] or "", 80),
            f", {run['organizations']:,} organizations in {doc['seconds']:.1f} s.",
        )
    )
    if run["page_splits"]:
        console.print(
            f"{run['page_splits']:,} listing page(s) were over the response size limit and were asked for in halves.",
            style="dim",
        )
    if doc["failures"]:
        console.print(
            "Stored failures: " + ", ".join(f"{k} {v:,}" for k, v in doc["failures"].items())
            + " (organization 404s are user accounts). See the crawl_failures table.",
            style="yellow",
        )  # fmt: skip
    for bucket, stats in doc["requests"].items():
        console.print(
            f"{bucket}: {int(stats['requests']):,} requests, {int(stats['throttled']):,} throttled (429)", style="dim"
        )
