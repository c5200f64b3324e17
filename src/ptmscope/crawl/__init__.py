"""``ptmscope crawl`` as a library function: a registry endpoint -> a snapshot, resumably.

Three stages, each resumable on its own:

1. **models** (``listing``): the listing ``/api/models`` with ``expand`` in pages of 1,000 (one
   API request per thousand models). A page's rows and the URL of the next page are committed in
   one transaction, so a crawl killed at any moment continues from the first page it had not
   committed, with no model lost or duplicated.
2. **cards** (``cards``): each model's README.md at its listed sha through the resolver bucket
   (skipped for models whose file list has no README), checked against the ETag and kept, or
   copied from a base snapshot when the model's sha did not change.
3. **organizations** (``orgs``): ``/api/organizations/{namespace}/overview`` for every namespace.
   A 404 means a user account (or a deleted organization).

Cards and organizations spend different rate-limit buckets, so they run side by side (``run``),
each fetching chunk by chunk on a thread pool (``chunks``).

Requests are paced per rate-limit bucket, bounded (connect, read, a total deadline per request,
a cap on any pause the server asks for) and retried (``ptmscope.hub.client``). An item that
still fails is stored in ``crawl_failures`` with its reason and the run goes on; a rerun of the
same command retries the retryable ones. Nothing is written outside the store. Where the crawl
stands (``crawl_state``) and every SQL statement it runs are in ``state``.

The store is held only for short transactions (a page, a chunk of cards): between them the
crawler closes its DuckDB connection (``handle``), so ``study``, ``audit`` or ``snapshots`` can
open the store while a crawl runs (DuckDB lets one process at a time open a file for writing;
each side waits for the other's turn).

Modules, in the order a run uses them: ``options`` (what to crawl, what a run did), ``run`` (the
run), ``handle`` (the store's connection), ``state`` (the crawl's state and SQL), ``context``
(what the stages share), ``listing``, ``chunks``, ``cards``, ``orgs`` (the stages) and
``sanitize`` (what the hub sends, made safe to store).
"""

from ptmscope.crawl.cards import README_LISTED_NOT_SERVED
from ptmscope.crawl.listing import IDLE_PAGES
from ptmscope.crawl.options import EXPAND, LOCK_WAIT, PAGE_SIZE, CrawlOptions, CrawlReport
from ptmscope.crawl.orgs import NOT_AN_ORG
from ptmscope.crawl.run import crawl
from ptmscope.crawl.sanitize import repo_id_problem

__all__ = [
    "EXPAND",
    "IDLE_PAGES",
    "LOCK_WAIT",
    "NOT_AN_ORG",
    "PAGE_SIZE",
    "README_LISTED_NOT_SERVED",
    "CrawlOptions",
    "CrawlReport",
    "crawl",
    "repo_id_problem",
]
