"""Stage 3, the organizations: ``/api/organizations/{namespace}/overview`` for every namespace.

The overview gives verification, members and followers. A 404 means a user account (or a deleted
organization): stored with the namespace so no rerun asks again, and not counted as a failure.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from ptmscope.crawl.chunks import ChunkedStage, Rows
from ptmscope.crawl.sanitize import int64
from ptmscope.hub.client import FetchFailed
from ptmscope.records import OrgRecord, as_bool, clean_id, clean_text

NOT_AN_ORG = "no organization overview (HTTP 404): a user account, or a deleted organization"


class OrgStage(ChunkedStage):
    """Every namespace's organization overview."""

    name = "organizations"

    def fetch_organizations(self) -> None:
        """Run the stage: two passes of fetches; mark it done."""
        self.fetch_all(None)
        self.state.update(orgs_done=True)

    def select(self, only_failed: bool, after: str) -> Rows:
        return self.state.namespaces_to_fetch(only_failed, after)

    def start(self, rows: Rows, pool: ThreadPoolExecutor) -> list[Future[Any]]:
        return [pool.submit(self._fetch, row[0]) for row in rows]

    def _fetch(self, name: str) -> tuple[str, Any]:
        """One namespace's overview, parsed, or the failure (runs on the pool; a failure is returned, not raised)."""
        url = f"{self.run.endpoint}/api/organizations/{quote(name, safe='')}/overview"
        try:
            return name, self.run.client.get_json("api", url)[0]
        except FetchFailed as error:
            return name, error
        except Exception as error:  # a bug must not stop the crawl: it is stored with the namespace
            return name, FetchFailed(f"{type(error).__name__}: {error}", status=None, retryable=True, attempts=1)

    def finish(self, rows: Rows, results: list[tuple[str, Any]]) -> None:
        writer = self.state.writer()
        source = f"{self.run.endpoint}/api/organizations"
        succeeded: list[str] = []
        failed: list[tuple[str, FetchFailed]] = []
        for name, outcome in results:
            if isinstance(outcome, FetchFailed):
                if outcome.status == 404:
                    outcome = FetchFailed(NOT_AN_ORG, status=404, retryable=False, attempts=outcome.attempts)
                    self.report.not_organizations += 1
                failed.append((name, outcome))
                continue
            org = _org_record(name, outcome)
            if org is None:
                failed.append(
                    (
                        name,
                        FetchFailed("organization overview is not an object", status=200, retryable=True, attempts=1),
                    )
                )
                continue
            writer.add(org, source, name)
            self.report.organizations += 1
            succeeded.append(name)
        batch = writer.builder.take()
        with self.state.transaction(writer):
            writer.write(batch)
            # A 404 (a user account) is not a failure of the crawl; it is stored so no rerun asks again.
            self.state.record_failures("org", failed, succeeded)
            self.run.count_failures("org", sum(1 for _, error in failed if error.reason != NOT_AN_ORG))


def _org_record(name: str, data: Any) -> OrgRecord | None:
    """An organization overview (``isVerified``, ``numUsers``...) as an ``OrgRecord``; the name asked for is kept."""
    if not isinstance(data, dict):
        return None
    if clean_id(data.get("name")) not in (None, name):
        return None
    return OrgRecord(
        name=name,
        fullname=clean_text(data.get("fullname"), 500),
        kind=None,
        is_verified=as_bool(data.get("isVerified")),
        num_users=int64(data.get("numUsers")),
        num_models=int64(data.get("numModels")),
        num_followers=int64(data.get("numFollowers")),
    )
