"""Stage 2, the cards: each model's README.md at its listed sha, through the resolver bucket.

Models whose file list has no README get a 'missing' card without a request. The bytes are
checked against the ETag (the git blob id) and kept (``repo_files``) so the snapshot can be served
again. Incremental: when a base snapshot is known (the last complete crawl of the same endpoint,
or ``CrawlOptions.base``), a model whose sha did not change gets its card rows copied instead of
fetched.
"""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from ptmscope.crawl.chunks import ChunkedStage, Rows
from ptmscope.crawl.sanitize import repo_id_problem
from ptmscope.hub.client import Fetched, FetchFailed
from ptmscope.store.rows import git_blob_id

README_LISTED_NOT_SERVED = "README.md is in the file list but the resolver answered 404"

CardOutcome = tuple[str, bool | None, bytes | FetchFailed]
"""A model's id, whether its file list names a README (None: no file list), and the bytes or the failure."""


class CardStage(ChunkedStage):
    """Copy unchanged cards from the base snapshot, fetch the rest."""

    name = "cards"

    def fetch_cards(self) -> None:
        """Run the stage: the copy, then two passes of fetches; mark it done."""
        base = self.state.read()["base_snapshot_id"]
        if base is not None and base != self.state.sid:
            self.report.cards_copied += self.state.copy_cards(int(base))
        self.fetch_all(self.state.models_without_card())
        self.state.update(cards_done=True)

    def select(self, only_failed: bool, after: str) -> Rows:
        return self.state.cards_to_fetch(only_failed, after)

    def start(self, rows: Rows, pool: ThreadPoolExecutor) -> list[Future[Any]]:
        return [pool.submit(self._fetch, row) for row in rows if row[2] is not False]

    def _fetch(self, item: tuple[str, str | None, bool | None]) -> CardOutcome:
        """One model's README (runs on the pool; a failure is returned, not raised)."""
        rid, sha, listed = item
        problem = repo_id_problem(rid)  # stored by an older version, or copied from an import
        if problem is not None:
            return rid, listed, FetchFailed(f"not a Hub model id ({problem}): no URL built", status=None,
                                            retryable=False, attempts=0)  # fmt: skip
        # Built here, not with hf_hub_url: that validates ids against today's rules and would
        # refuse real older ids (names over 96 characters).
        url = f"{self.run.endpoint}/{quote(rid, safe='/')}/resolve/{quote(sha or 'main', safe='')}/README.md"
        try:
            return rid, listed, self.run.client.get("resolvers", url, check=_etag_matches, cdn=True).body
        except FetchFailed as error:
            return rid, listed, error
        except Exception as error:  # a bug must not stop 2M models: it is stored with the model
            return rid, listed, FetchFailed(f"{type(error).__name__}: {error}", status=None, retryable=True,
                                            attempts=1)  # fmt: skip

    def finish(self, rows: Rows, results: list[CardOutcome]) -> None:
        writer = self.state.writer()
        source = f"{self.run.endpoint}/resolve"
        succeeded: list[str] = []
        failed: list[tuple[str, FetchFailed]] = []
        for rid, _, listed in rows:
            if listed is False:  # the file list has no README: the model has no card
                writer.builder.add_card(rid, None, source, "no README.md in the file list")
                self.report.cards_missing += 1
                succeeded.append(rid)
        for rid, listed, outcome in results:
            if isinstance(outcome, bytes):
                writer.builder.add_card(rid, _card_content(outcome), source, "README.md")
                self.report.cards_fetched += 1
                succeeded.append(rid)
            elif outcome.status == 404 and listed is None:  # no file list to say otherwise: no README
                writer.builder.add_card(rid, None, source, "README.md: 404")
                self.report.cards_missing += 1
                succeeded.append(rid)
            else:
                if outcome.status == 404:
                    outcome = FetchFailed(
                        f"{README_LISTED_NOT_SERVED} ({outcome.reason})"[:1_000],
                        status=404,
                        retryable=False,
                        attempts=outcome.attempts,
                    )
                failed.append((rid, outcome))
        batch = writer.builder.take()  # the cards are read here, without holding the store
        with self.state.transaction(writer):
            writer.write(batch)
            self.state.record_failures("card", failed, succeeded)
            self.run.count_failures("card", len(failed))


def _etag_matches(fetched: Fetched) -> str | None:
    """Why a resolved file's bytes do not match its ETag (the git blob id of small files), or None."""
    etag = next((v for k, v in fetched.headers.items() if k.lower() == "etag"), None)
    if etag is None:
        return None
    etag = etag.removeprefix("W/").strip('"')
    if re.fullmatch(r"[0-9a-f]{40}", etag) and git_blob_id(fetched.body) != etag:
        return f"the bytes received do not match the ETag {etag}"
    return None


def _card_content(body: bytes) -> str | bytes:
    """Text when the bytes are UTF-8 (as a dump would hold it), else the bytes for the card analysis to judge."""
    try:
        return body.decode("utf-8", errors="surrogatepass")
    except UnicodeDecodeError:
        return body
