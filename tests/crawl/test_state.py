"""The crawl's state in the store: a page's rows and the progress that says so commit together, or not at all."""

from __future__ import annotations

import pytest

from ptmscope.crawl.handle import StoreHandle
from ptmscope.crawl.options import CrawlOptions
from ptmscope.crawl.state import CrawlState
from ptmscope.hub.client import FetchFailed
from ptmscope.records import model_record_from_api
from ptmscope.store import Store
from ptmscope.store.writer import SnapshotWriter


def buffered(writer, *ids):
    for rid in ids:
        writer.add(model_record_from_api({"id": rid, "sha": "a" * 40}), "listing", rid)
    return writer.builder.take()


def test_a_page_and_its_progress_commit_together_or_not_at_all(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        handle = StoreHandle(store, release=True, lock_wait=5)  # as a crawl runs: closed between transactions
        state = CrawlState(store, handle, "http://hub.test", CrawlOptions(), "crawl", None)
        state.create_snapshot()
        failed = FetchFailed("boom", status=500, retryable=True, attempts=1)
        writer = state.writer()
        batch = buffered(writer, "a/one", "a/two")
        with pytest.raises(KeyboardInterrupt), state.transaction(writer):
            writer.write(batch)
            state.record_failures("list", [("page-2", failed)], [])
            state.update(next_url="page-2", pages=1)
            raise KeyboardInterrupt  # killed before the commit: none of it is stored
        assert state.model_count() == 0 and state.failures("list") == 0
        assert state.read()["next_url"] is None and state.read()["pages"] == 0
        writer = state.writer()
        batch = buffered(writer, "a/one", "a/two")
        with state.transaction(writer):
            writer.write(batch)
            state.record_failures("list", [("page-2", failed)], [])
            state.update(next_url="page-2", pages=1)
        assert state.model_count() == 2 and state.failures("list") == 1
        assert state.read()["next_url"] == "page-2" and state.read()["pages"] == 1
        handle.restore()


def test_a_caller_commits_writer_never_writes_or_commits_on_its_own(store):
    snapshot = store.create_snapshot("s", source="crawl")
    writer = SnapshotWriter(store, snapshot, batch_rows=1, commit_rows=1, track_ids=False, caller_commits=True)
    batch = buffered(writer, "a/one", "a/two")  # over batch_rows: buffered all the same
    assert store.query("SELECT count(*) FROM models") == [(0,)]
    with pytest.raises(RuntimeError, match="inside transaction"):
        writer.write(batch)
    with pytest.raises(RuntimeError, match="block commits"), writer.transaction():
        writer.write(batch)  # over commit_rows: not committed
        writer.commit()
    assert store.query("SELECT count(*) FROM models") == [(0,)]  # the block raised: rolled back
    with writer.transaction() as con:
        writer.write(batch)
        con.execute("UPDATE snapshots SET notes = 'with the rows' WHERE snapshot_id = ?", [snapshot.snapshot_id])
    assert store.query("SELECT count(*) FROM models") == [(2,)]
    assert store.query("SELECT notes FROM snapshots") == [("with the rows",)]
