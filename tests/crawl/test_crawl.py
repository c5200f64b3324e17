"""The crawler against serve-hub: equal to the source, with faults, failures stored, reruns continue."""

from __future__ import annotations

import pytest

from ptmscope.crawl import CrawlOptions, crawl
from ptmscope.errors import CrawlMismatchError, ListingFailedError, SourceUnreachableError
from ptmscope.hub.server import FaultPlan
from ptmscope.store import Store
from tests.replay import FAST_BUDGETS, faults, handler_server, running_hub, small_store, table

FAST = {"backoff_base": 0.01, "concurrency": 4, "budgets": FAST_BUDGETS}
# Tables a crawl fills from the listing and the cards, compared column by column (source_file differs by design).
CRAWLED = {
    "models": ("source_file",),
    "model_tags": (),
    "model_files": (),
    "model_datasets": (),
    "model_licenses": (),
    "base_models": (),
    "model_links": (),
    "claims": (),
    "card_sections": (),
    "repo_files": (),
}


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return small_store(tmp_path_factory.mktemp("crawl") / "src.duckdb")


def snapshot_rows(db_path, name):
    with Store(db_path, read_only=True) as store:
        sid = store.snapshot(name).snapshot_id
        out = {t: table(store, sid, t, exclude) for t, exclude in CRAWLED.items()}
        out["cards"] = [r for r in table(store, sid, "cards", ("source_file",)) if r[1] != "missing"]
        return out


def test_crawl_equals_the_served_snapshot(db, tmp_path, online):
    with running_hub(db) as hub, Store(tmp_path / "out.duckdb") as store:
        report = crawl(store, hub.url, "copy", CrawlOptions(**FAST))
        assert report.snapshot.status == "complete" and report.total_models == 10
        assert report.cards_fetched == 7 and report.cards_missing == 2  # org3/* list no README.md
        failures = store.query("SELECT stage, item, http_status, retryable FROM crawl_failures ORDER BY 1, 2")
        # org2/tc-c lists a README the dump never had: a stored 404; no namespace is an organization here.
        assert ("card", "org2/tc-c", 404, False) in failures
        assert {f[1] for f in failures if f[0] == "org"} == {"org1", "org2", "org3", "org4"}
        assert report.requests["api"]["requests"] == 1 + 4  # one listing page, four overviews
    assert snapshot_rows(tmp_path / "out.duckdb", "copy") == snapshot_rows(db, "src")


def test_pages_over_the_size_limit_are_asked_for_in_halves(db, tmp_path, online, monkeypatch):
    import httpx2

    import ptmscope.hub.client

    with running_hub(db) as hub:
        query = CrawlOptions(**FAST).listing_params()
        full_page = len(httpx2.get(f"{hub.url}/api/models", params=query).content)
        monkeypatch.setattr(ptmscope.hub.client, "MAX_BODY", full_page // 3)  # 10 models too big; 2 fit
        with Store(tmp_path / "out.duckdb") as store:
            report = crawl(store, hub.url, "halved", CrawlOptions(**FAST, cards=False, orgs=False))
            assert report.snapshot.status == "complete" and report.total_models == 10
            assert report.page_splits >= 2 and report.pages >= 4
        crawled, source = snapshot_rows(tmp_path / "out.duckdb", "halved"), snapshot_rows(db, "src")
        for listed in ("models", "model_tags", "model_files"):  # nothing lost or doubled by the splits
            assert crawled[listed] == source[listed], listed
        monkeypatch.setattr(ptmscope.hub.client, "MAX_BODY", 10)  # not even one model fits: a stored failure
        with Store(tmp_path / "one.duckdb") as store:
            with pytest.raises(ListingFailedError, match="larger than 10 bytes"):
                crawl(store, hub.url, "tiny", CrawlOptions(**FAST))
            # Nothing could be stored: the snapshot the run created is not left behind empty.
            assert store.find_snapshot("tiny") is None
            assert store.query("SELECT count(*) FROM crawl_failures")[0][0] == 0


def test_faults_of_every_kind_lose_nothing(db, tmp_path, online):
    plan = faults("429=0.15,500=0.1,slow=0.05,drop=0.05,badjson=0.1", seed=11)
    with running_hub(db, faults=plan) as hub, Store(tmp_path / "out.duckdb") as store:
        # 40% of requests fail here: 15 retries keep a spurious failure far below one in a million.
        report = crawl(store, hub.url, "faulty", CrawlOptions(**FAST, page_size=3, max_retries=15))
        assert report.snapshot.status == "complete" and report.pages == 4
        assert sum(plan.injected.values()) >= 5 and len(plan.injected) >= 3
        assert store.query("SELECT count(*) FROM crawl_failures WHERE retryable")[0][0] == 0
        assert store.query("SELECT count(*) FROM import_errors")[0][0] == 0  # no duplicate from a retried page
    assert snapshot_rows(tmp_path / "out.duckdb", "faulty") == snapshot_rows(db, "src")


def test_a_failing_listing_is_stored_and_a_rerun_continues(db, tmp_path, online):
    with running_hub(db) as hub, Store(tmp_path / "out.duckdb") as store:
        options = CrawlOptions(**FAST, page_size=4, max_retries=1)

        def break_after_the_first_page(stage, done, total):
            hub.faults = FaultPlan.parse("500=1.0")

        with pytest.raises(ListingFailedError, match="rerun"):
            crawl(store, hub.url, "broken", options, progress=break_after_the_first_page)
        snap = store.snapshot("broken")
        assert snap.status == "partial"
        assert store.query("SELECT stage, http_status, retryable FROM crawl_failures") == [("list", 500, True)]
        assert store.query("SELECT count(*) FROM models")[0][0] == 4
        hub.faults = FaultPlan()
        report = crawl(store, hub.url, "broken", options)
        assert report.resumed and report.snapshot.status == "complete" and report.total_models == 10
        assert store.query("SELECT count(*) FROM crawl_failures WHERE stage = 'list'")[0][0] == 0
        again = crawl(store, hub.url, "broken", options)
        assert again.already_complete and again.requests == {}
        with pytest.raises(CrawlMismatchError):
            crawl(store, hub.url, "broken", CrawlOptions(**FAST, author="org1"))


def test_unreachable_endpoint_and_offline_mode(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with Store(tmp_path / "out.duckdb") as store:
        with pytest.raises(SourceUnreachableError, match="offline"):
            crawl(store, "http://127.0.0.1:9", "off", CrawlOptions(**FAST))
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        # A refused connection is not retried, and the snapshot the run created is not left behind empty.
        with pytest.raises(SourceUnreachableError, match="Connection refused"):
            crawl(store, "http://127.0.0.1:9", "down", CrawlOptions(**FAST))
        assert store.find_snapshot("down") is None and store.find_snapshot("off") is None


def test_cli_crawl_and_clone_json(db, tmp_path, online):
    import json

    from click.testing import CliRunner

    from ptmscope.cli.main import cli

    out = str(tmp_path / "cli.duckdb")
    with running_hub(db) as hub:
        result = CliRunner().invoke(
            cli, ["crawl", "--endpoint", hub.url, "--snapshot", "c", "--db", out, "--json", "--limit", "5",
                  "--no-orgs"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["models"] == 5 and doc["status"] == "complete" and doc["run"]["organizations"] == 0
        result = CliRunner().invoke(cli, ["clone", str(tmp_path / "repos"), "--snapshot", "c", "--db", out,
                                          "--json", "--workers", "1"])  # fmt: skip
        assert result.exit_code == 2, result.output  # every repo failed: the run did not do what was asked
        doc = json.loads(result.stdout)
        assert doc["endpoint"] == hub.url and doc["totals"]["repos_failed"] == 5  # the fixture has no clones
    result = CliRunner().invoke(cli, ["crawl", "--endpoint", "http://127.0.0.1:9", "--db", out, "--rate-limit", "x"])
    assert result.exit_code == 2 and "--rate-limit" in result.output


def test_hostile_listing_items_and_links_are_recorded_not_followed(tmp_path, online):
    """A listing with unusable items and a next link to another host: items stored as errors, link not followed."""
    import json
    from http.server import BaseHTTPRequestHandler

    asked: list[str] = []

    class Hostile(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            asked.append(self.path)
            if self.path.startswith("/api/models"):
                body = json.dumps([{"id": "ok/model", "sha": "a" * 40}, "not an object", {"id": 5}, {"id": "x\ny"}])
                self.send_response(200)
                self.send_header("Link", '<http://198.51.100.7/api/models?cursor=steal>; rel="next"')
            else:
                body = json.dumps({"error": "nope"})
                self.send_response(404)
            data = body.encode()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with handler_server(Hostile) as url, Store(tmp_path / "out.duckdb") as store:
        report = crawl(store, url, "h", CrawlOptions(**FAST))
        # The listing stopped short: a stored failure and a partial crawl (what was listed is kept, cards included).
        assert report.snapshot.status == "partial" and report.total_models == 1
        assert "off the endpoint" in (report.listing_stopped or "")
        listing = store.query("SELECT item, reason, retryable FROM crawl_failures WHERE stage = 'list'")
        assert len(listing) == 1 and listing[0][0].startswith(url) and "198.51.100.7" in listing[0][1]
        reasons = [r[0] for r in store.query("SELECT reason FROM import_errors ORDER BY reason")]
        assert len(reasons) == 3  # the three unusable items
        assert store.query("SELECT status FROM cards") == [("missing",)]  # 404 and no file list
    assert not any("steal" in path for path in asked)


def test_an_interrupted_crawl_is_partial_and_continues(db, tmp_path, online):
    stops = {"left": 1}

    def interrupt(stage, done, total):
        if stage == "cards" and stops["left"]:
            stops["left"] -= 1
            raise KeyboardInterrupt

    with running_hub(db) as hub, Store(tmp_path / "out.duckdb") as store:
        options = CrawlOptions(**{**FAST, "concurrency": 1}, chunk=3, orgs=False)
        with pytest.raises(KeyboardInterrupt):
            crawl(store, hub.url, "ctrl-c", options, progress=interrupt)
        assert store.snapshot("ctrl-c").status == "partial"
        assert 0 < store.query("SELECT count(*) FROM cards")[0][0] < 9
        report = crawl(store, hub.url, "ctrl-c", options)
        assert report.resumed and report.snapshot.status == "complete"
        assert store.query("SELECT count(*), count(DISTINCT repo_id) FROM cards")[0] == (9, 9)


def test_an_endless_body_is_cut_at_the_size_limit_and_stored_as_a_failure(tmp_path, online, monkeypatch):
    """A README streamed without end (no Content-Length): read up to the limit, stored as a failure, crawl goes on."""
    import json
    from http.server import BaseHTTPRequestHandler

    import ptmscope.hub.client

    monkeypatch.setattr(ptmscope.hub.client, "MAX_BODY", 1 << 20)
    sent = {"endless": 0}

    class Endless(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.startswith("/api/models"):
                listing = [{"id": f"o/{name}", "sha": "a" * 40, "siblings": [{"rfilename": "README.md"}]}
                           for name in ("endless", "declared", "fine")]  # fmt: skip
                self._send(json.dumps(listing).encode())
            elif self.path.startswith("/o/endless/"):
                self.send_response(200)  # HTTP/1.0: the body ends when the connection closes, never here
                self.end_headers()
                try:
                    for _ in range(200):  # 200 MiB if nobody stops reading
                        self.wfile.write(b"x" * (1 << 20))
                        sent["endless"] += 1
                except OSError:
                    pass
            elif self.path.startswith("/o/declared/"):
                self.send_response(200)
                self.send_header("Content-Length", str(1 << 30))  # announced 1 GiB: not read at all
                self.end_headers()
            elif self.path.startswith("/o/fine/"):
                self._send(b"# fine\n")
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def _send(self, body):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with handler_server(Endless) as url, Store(tmp_path / "out.duckdb") as store:
        report = crawl(store, url, "e", CrawlOptions(**{**FAST, "max_retries": 0}, orgs=False))
        assert report.snapshot.status == "complete" and report.cards_fetched == 1
        failed = dict(store.query("SELECT item, reason FROM crawl_failures WHERE stage = 'card'"))
        assert set(failed) == {"o/endless", "o/declared"}
        assert all("larger than 1048576 bytes" in reason for reason in failed.values())
    assert sent["endless"] < 200  # the client stopped reading
