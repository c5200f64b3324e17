"""The crawler against hostile and broken endpoints: bounded in time, on the endpoint only, nothing collected lost.

Every server here is the test's own, on 127.0.0.1. Where the old crawler hung (a loop, a trickle, a
pause of years), the crawl runs in a thread joined with a generous bound, so a regression fails the
test instead of stalling the suite.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from ptmscope.crawl import CrawlOptions, crawl
from ptmscope.errors import ListingFailedError
from ptmscope.store import Store
from tests.replay import FAST_BUDGETS, handler_server, running_hub, small_store

FAST: dict[str, Any] = {"backoff_base": 0.01, "concurrency": 4, "budgets": FAST_BUDGETS}
SHA = "a" * 40


def bounded(fn: Callable[[], Any], seconds: float) -> Any:
    """``fn()`` in a thread; fails when it has not returned after ``seconds`` (the old code hung here)."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as error:  # handed to the test
            out["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in out:
        raise out["error"]
    return out["value"]


def model(rid: str, **extra: Any) -> dict[str, Any]:
    return {"id": rid, "sha": SHA, "siblings": [{"rfilename": "README.md"}], **extra}


class Scripted(BaseHTTPRequestHandler):
    """A handler with helpers; subclasses answer ``do_GET``."""

    def log_message(self, *args: object) -> None:
        pass

    def send(self, status: int, body: bytes | str | list | dict = b"", headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# -- 1. a listing that loops --------------------------------------------------------------------------


def test_a_next_link_back_to_an_earlier_page_stops_the_listing_as_a_failure(tmp_path, online):
    asked: list[str] = []

    class Loop(Scripted):
        def do_GET(self):
            if not self.path.startswith("/api/models"):
                return self.send(404, {"error": "no"})
            asked.append(self.path)
            if len(asked) > 40:  # the old crawler never stopped: end it here so the test fails, not hangs
                return self.send(400, {"error": "enough"})
            host = f"http://{self.headers['Host']}"
            if "cursor=B" in self.path:  # page B leads back to page A, the first page, as it was asked for
                self.send(200, [model("b/one")], {"Link": f'<{host}{asked[0]}>; rel="next"'})
            else:
                self.send(200, [model("a/one")], {"Link": f'<{host}/api/models?cursor=B>; rel="next"'})

    with handler_server(Loop) as url, Store(tmp_path / "out.duckdb") as store:
        report = bounded(lambda: crawl(store, url, "loop", CrawlOptions(**FAST, cards=False, orgs=False)), 60)
        assert report.snapshot.status == "partial" and report.total_models == 2
        assert "leads back to page 1: a loop" in (report.listing_stopped or "")
        failures = store.query("SELECT stage, item, retryable FROM crawl_failures")
        assert failures == [("list", url + asked[0], True)]  # a rerun asks for it again
        assert store.query("SELECT count(*) FROM import_errors")[0][0] == 0
        assert store.query("SELECT listing_done FROM crawl_state") == [(False,)]
    assert len(asked) == 2  # A, B: A is not fetched a second time


def test_pages_that_bring_no_new_model_stop_the_listing(tmp_path, online):
    """A cursor that always moves on but never brings anything new (endless empty pages) is stopped too."""
    asked: list[str] = []

    class Empty(Scripted):
        def do_GET(self):
            asked.append(self.path)
            if len(asked) > 60:
                return self.send(400, {"error": "enough"})
            base = f"http://{self.headers['Host']}/api/models"
            self.send(200, [model("a/one")] if len(asked) == 1 else [],
                      {"Link": f'<{base}?cursor={len(asked)}>; rel="next"'})  # fmt: skip

    with handler_server(Empty) as url, Store(tmp_path / "out.duckdb") as store:
        report = bounded(lambda: crawl(store, url, "idle", CrawlOptions(**FAST, cards=False, orgs=False)), 60)
        assert report.snapshot.status == "partial" and report.total_models == 1
        assert "no new model" in (report.listing_stopped or "")
    assert len(asked) == 6  # the first page, then five empty ones


# -- 2. a response that trickles -----------------------------------------------------------------------


class Trickle(Scripted):
    """A listing of one model whose README (or its headers) arrives a byte at a time, for up to a minute."""

    started = threading.Event()
    headers_too = False

    def do_GET(self):
        if self.path.startswith("/api/models"):
            return self.send(200, [model("o/slow")])
        if "/resolve/" not in self.path:
            return self.send(404, {"error": "no"})
        type(self).started.set()
        try:
            if self.headers_too:
                for byte in b"HTTP/1.0 200 OK\r\nX-Padding: " + b"x" * 200:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.25)
                return
            self.send_response(200)
            self.send_header("Content-Length", "240")
            self.end_headers()
            for _ in range(240):
                self.wfile.write(b"#")
                self.wfile.flush()
                time.sleep(0.25)
        except OSError:
            pass


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_trickling_response_is_cut_at_the_deadline(tmp_path, online, headers_too):
    handler = type("T", (Trickle,), {"started": threading.Event(), "headers_too": headers_too})
    with handler_server(handler) as url, Store(tmp_path / "out.duckdb") as store:
        started = time.monotonic()
        options = CrawlOptions(**FAST, orgs=False, deadline=3.0)
        report = bounded(lambda: crawl(store, url, "slow", options), 45)
        assert time.monotonic() - started < 30  # the trickle lasts a minute
        assert report.cards_fetched == 0
        rows = store.query("SELECT item, reason, retryable FROM crawl_failures WHERE stage = 'card'")
        assert rows == [("o/slow", "no complete response within the 3 s deadline per request", True)]
        assert report.retryable_failures == 1


def test_ctrl_c_stops_a_stuck_readme_fetch_at_once_and_keeps_the_listing(tmp_path):
    """A real SIGINT to ``ptmscope crawl`` while a README trickles: exit 130 within seconds, models kept."""
    import os
    import signal
    import subprocess
    import sys

    handler = type("T", (Trickle,), {"started": threading.Event()})
    db = tmp_path / "out.duckdb"
    with handler_server(handler) as url:
        env = {**os.environ, "HF_HUB_OFFLINE": "0"}
        process = subprocess.Popen(
            [sys.executable, "-m", "ptmscope", "crawl", "--endpoint", url, "--snapshot", "stuck", "--db", str(db),
             "--deadline", "600"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            # a runner started in the background ignores SIGINT, and children inherit that: undo it
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        try:
            assert handler.started.wait(60), "the README was never asked for"
            time.sleep(1.0)
            interrupted = time.monotonic()
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=30)  # the trickle would last a minute
            took = time.monotonic() - interrupted
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 130, err
    assert took < 15 and "Traceback" not in err
    with Store(db, read_only=True) as store:
        assert store.snapshot("stuck").status == "partial"
        assert store.query("SELECT repo_id FROM models") == [("o/slow",)]


# -- 3. pauses of years and headers that do not parse --------------------------------------------------


def test_a_pause_of_years_is_not_waited_but_a_failure_with_a_warning(tmp_path, online, capsys):
    asked: list[str] = []

    class Years(Scripted):
        def do_GET(self):
            asked.append(self.path)
            if self.path.startswith("/api/models"):
                # The api bucket is spent until the reset in three years: organization overviews cannot be asked.
                return self.send(200, [model("org/a")], {"RateLimit": '"api";r=0;t=99999999'})
            if self.path.startswith("/org/a/resolve/"):
                return self.send(
                    429, {"error": "later"}, {"Retry-After": "99999999", "RateLimit": '"resolvers";r=5;t=9'}
                )
            return self.send(404, {"error": "no"})

    with handler_server(Years) as url, Store(tmp_path / "out.duckdb") as store:
        report = bounded(lambda: crawl(store, url, "years", CrawlOptions(**FAST)), 60)
        failures = dict(store.query("SELECT stage, reason FROM crawl_failures WHERE retryable"))
        assert "over the 600 s cap" in failures["card"] and "99,999,999 s" in failures["card"]
        assert "over the 600 s cap" in failures["org"] and "pause the api bucket" in failures["org"]
        assert report.retryable_failures == 2
    err = capsys.readouterr().err
    assert "ptmscope: warning:" in err and "over the 600 s cap" in err
    assert not any(path.startswith("/api/organizations") for path in asked)  # not sent, not waited for
    # Its Retry-After was not waited: asked once per pass (the second pass retries what failed in the first).
    assert sum(path.startswith("/org/a/resolve/") for path in asked) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "nan"},
        {"Retry-After": "-5"},
        {"Retry-After": "inf"},
        {"Retry-After": "Wed, 99 Foo 2024 99:99:99 GMT"},
        {"RateLimit": '"resolvers";r=0;t=' + "9" * 5_000},
        {
            "RateLimit": '"resolvers";r=' + "9" * 5_000 + ";t=1",
            "RateLimit-Policy": '"fixed window";"resolvers";q=0;w=0',
        },
        {"RateLimit": '"resolvers";r=3;t=2', "RateLimit-Policy": '"fixed window";"resolvers";q=1;w=' + "9" * 5_000},
    ],
    ids=["nan", "negative", "inf", "bad-date", "t-5000-digits", "r-5000-digits-q0", "w-5000-digits"],
)
@pytest.mark.parametrize("where", ["listing", "readme"])
def test_unparseable_pause_headers_never_crash(tmp_path, online, headers, where):
    """A 503 with garbage in its pause headers, then the answer: no traceback; fetched, or a failure over the cap."""
    tries = {"n": 0}

    class Garbage(Scripted):
        def do_GET(self):
            if self.path.startswith("/api/models") == (where == "listing"):
                tries["n"] += 1
                if tries["n"] == 1:
                    return self.send(503, {"error": "slow down"}, headers)
            if self.path.startswith("/api/models"):
                return self.send(200, [model("o/m")])
            return self.send(200, b"# card\n")

    forever = "t=" + "9" * 20 in str(headers)  # a spent budget until the end of time: over the cap
    with handler_server(Garbage) as url, Store(tmp_path / "out.duckdb") as store:
        run = lambda: crawl(store, url, "g", CrawlOptions(**FAST, orgs=False))  # noqa: E731
        if forever and where == "listing":
            with pytest.raises(ListingFailedError, match="over the 600 s cap"):
                bounded(run, 60)
            return
        report = bounded(run, 60)
        assert report.snapshot.status == "complete"
        cards = store.query("SELECT count(*) FROM cards")[0][0]
        failures = [r[0] for r in store.query("SELECT reason FROM crawl_failures")]
        if forever:
            assert cards == 0 and len(failures) == 1 and "over the 600 s cap" in failures[0]
        else:  # unusable: ignored, and the retry after the ordinary backoff gets the card
            assert cards == 1 and failures == []


# -- 4. no network ------------------------------------------------------------------------------------------


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("endpoint", ["closed", "http://nonexistent.invalid"])
def test_an_unreachable_endpoint_fails_at_once_with_one_line_and_no_snapshot(tmp_path, endpoint):
    """A refused connection or a DNS failure: exit 2 within 10 s, one error line, no empty snapshot left."""
    import os
    import subprocess
    import sys

    if endpoint == "closed":
        endpoint = f"http://127.0.0.1:{closed_port()}"
    db = tmp_path / "out.duckdb"
    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ptmscope", "crawl", "--endpoint", endpoint, "--limit", "10", "--db", str(db)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    took = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert took < 10 + 5  # 10 s, plus the interpreter's start on a loaded machine
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "cannot connect to" in errors[0] and "Traceback" not in done.stderr
    assert "rerun the same command" not in done.stderr
    with Store(db, read_only=True) as store:
        assert store.snapshots() == []


# -- 5. redirects off the endpoint --------------------------------------------------------------------


def test_redirects_off_the_endpoint_are_refused_and_recorded(tmp_path, online):
    stolen: list[str] = []

    class Elsewhere(Scripted):
        def do_GET(self):
            stolen.append(self.path)
            self.send(200, [model("evil/model")] if self.path.startswith("/api/") else b"# evil card\n")

    with handler_server(Elsewhere) as evil:

        class Redirecting(Scripted):
            def do_GET(self):
                base = f"http://{self.headers['Host']}"
                if self.path.startswith("/api/models") and ("cursor=2" in self.path or "author=away" in self.path):
                    return self.send(302, b"", {"Location": f"{evil}/api/models?cursor=2"})
                if self.path.startswith("/api/models"):
                    items = [model("o/away"), model("o/moved"), model("o/home")]
                    return self.send(200, items, {"Link": f'<{base}/api/models?cursor=2>; rel="next"'})
                if self.path.startswith("/o/away/resolve/"):
                    return self.send(302, b"", {"Location": f"{evil}/o/away/README.md"})
                if self.path.startswith("/o/moved/resolve/"):  # on the endpoint: followed
                    return self.send(307, b"", {"Location": "/o/home/resolve/x/README.md"})
                if self.path.startswith("/o/home/resolve/"):
                    return self.send(200, b"# home\n")
                return self.send(404, {"error": "no"})

        with handler_server(Redirecting) as url, Store(tmp_path / "out.duckdb") as store:
            report = bounded(lambda: crawl(store, url, "r", CrawlOptions(**FAST, orgs=False)), 60)
            # Page 2 redirected away: the listing stopped there (a stored failure, a partial crawl) ...
            assert report.snapshot.status == "partial" and "redirect off the endpoint" in report.listing_stopped
            assert [r[0] for r in store.query("SELECT repo_id FROM models ORDER BY 1")] == ["o/away", "o/home",
                                                                                            "o/moved"]  # fmt: skip
            listing = store.query("SELECT http_status, retryable, reason FROM crawl_failures WHERE stage = 'list'")
            assert listing[0][:2] == (302, False) and evil.split("//")[1] in listing[0][2]
            # ... and the cards of what was listed were read: the README redirected away is a failure, not a card.
            cards = dict(store.query("SELECT repo_id, status FROM cards"))
            assert set(cards) == {"o/home", "o/moved"}
            away = store.query("SELECT http_status, retryable, reason FROM crawl_failures WHERE item = 'o/away'")
            assert away[0][:2] == (302, False) and "redirect off the endpoint" in away[0][2]
            # A first page that redirects away: an error, and no empty snapshot left behind.
            with pytest.raises(ListingFailedError, match="redirect off the endpoint"):
                crawl(store, url, "first", CrawlOptions(**FAST, author="away"))
            assert store.find_snapshot("first") is None
    assert stolen == []  # the other host was never asked


def test_redirect_and_token_rules_of_the_client():
    """The token goes to the endpoint only; the real Hub's README redirects may reach its CDN, nothing else."""
    from ptmscope.hub.client import HubClient

    hub = HubClient("https://huggingface.co", token="hf_secret")
    assert hub.headers_for("https://huggingface.co/o/m/resolve/x/README.md")["authorization"] == "Bearer hf_secret"
    for other in ("https://cdn-lfs.huggingface.co/x", "https://evil.example/x", "http://huggingface.co/x",
                  "https://huggingface.co:8443/x"):  # fmt: skip
        assert "authorization" not in {k.lower() for k in hub.headers_for(other)}, other
    assert hub.may_follow("https://cdn-lfs.huggingface.co/repos/x", cdn=True)
    assert hub.may_follow("https://cas-bridge.xethub.hf.co/xet/x", cdn=True)
    assert not hub.may_follow("https://cdn-lfs.huggingface.co/repos/x")  # API calls: the endpoint only
    for refused in (
        "https://huggingface.co.evil.example/x",
        "http://cdn-lfs.huggingface.co/x",
        "https://evil.example/x",
    ):
        assert not hub.may_follow(refused, cdn=True), refused
    mirror = HubClient("http://127.0.0.1:8080")
    assert mirror.may_follow("http://127.0.0.1:8080/a") and not mirror.may_follow("http://127.0.0.1:8081/a")
    assert not mirror.may_follow("https://cdn-lfs.huggingface.co/x", cdn=True)  # the CDN is the real Hub's only


# -- 6. ids that are paths ----------------------------------------------------------------------------------


def test_ids_with_dot_dot_are_rejected_and_never_become_urls(tmp_path, online):
    asked: list[str] = []
    ids = ["..", "a/b/../../c", "../x", "a/..", "./a", "a//b", "a/b/c", "ok/fine", "glasses/resnet18.git",
           "owner/" + "n" * 120]  # fmt: skip

    class Paths(Scripted):
        def do_GET(self):
            asked.append(self.path)
            if self.path.startswith("/api/models"):
                return self.send(200, [model(rid) for rid in ids])
            return self.send(200, b"# card\n")

    with handler_server(Paths) as url, Store(tmp_path / "out.duckdb") as store:
        report = bounded(lambda: crawl(store, url, "ids", CrawlOptions(**FAST, orgs=False)), 60)
        assert report.snapshot.status == "complete"
        stored = {r[0] for r in store.query("SELECT repo_id FROM models")}
        assert stored == {"ok/fine", "glasses/resnet18.git", "owner/" + "n" * 120}
        reasons = [r[0] for r in store.query("SELECT reason FROM import_errors ORDER BY location")]
        assert len(reasons) == 7 and all("not a Hub model id" in r or "not a valid repo id" in r for r in reasons)
    readmes = sorted(p for p in asked if "/resolve/" in p)
    assert len(readmes) == 3 and not any(".." in p or "/c/resolve" in p for p in readmes)


def test_repo_id_rules():
    from ptmscope.crawl import repo_id_problem

    for good in ("bert-base-uncased", "google/bert_uncased_L-2_H-128_A-2", "glasses/resnet18.git", "a" * 150,
                 "Sarim24/NLP-datasets.git", "org/m.v1.0"):  # fmt: skip
        assert repo_id_problem(good) is None, good
    for bad in ("..", "a/..", "../a", "a/b/../../c", "a/./b", "/a", "a/", "a/b/c", "a b", "a/b\n", ".hidden/x",
                "a--b", "a/b..c", "é/x"):  # fmt: skip
        assert repo_id_problem(bad) is not None, bad


# -- 7. numbers past 64 bits --------------------------------------------------------------------------------


def test_counts_over_64_bits_are_stored_as_null_with_a_note(tmp_path, online):
    class Huge(Scripted):
        def do_GET(self):
            if self.path.startswith("/api/models"):
                return self.send(200, b'[{"id": "o/big", "sha": "' + SHA.encode() + b'", "likes": 1e30,'
                                 b' "downloads": 18446744073709551615, "usedStorage": 12},'
                                 b' {"id": "o/fine", "sha": "' + SHA.encode() + b'", "likes": 3}]')  # fmt: skip
            if self.path.startswith("/api/organizations/"):
                return self.send(200, {"name": "o", "numFollowers": 1e300, "numUsers": 2, "isVerified": True})
            return self.send(404, {"error": "no"})

    with handler_server(Huge) as url, Store(tmp_path / "out.duckdb") as store:
        report = bounded(lambda: crawl(store, url, "big", CrawlOptions(**FAST)), 60)
        assert report.snapshot.status == "complete" and report.total_models == 2
        rows = store.query("SELECT repo_id, likes, downloads, used_storage FROM models ORDER BY 1")
        assert rows == [("o/big", None, None, 12), ("o/fine", 3, None, None)]
        notes = [r[0] for r in store.query("SELECT reason FROM import_errors WHERE repo_id = 'o/big' ORDER BY 1")]
        assert len(notes) == 2 and all("outside the 64-bit integer range" in n and "NULL" in n for n in notes)
        assert store.query("SELECT num_followers, num_users, is_verified FROM organizations") == [(None, 2, True)]


# -- 8. the store is free while the crawl waits on the network ---------------------------------------------


def test_the_store_can_be_opened_by_other_processes_while_a_crawl_runs(tmp_path, online):
    import subprocess
    import sys

    release = threading.Event()
    waiting = threading.Event()

    class Held(Scripted):
        def do_GET(self):
            if self.path.startswith("/api/models"):
                return self.send(200, [model("o/a"), model("o/b")])
            if "/resolve/" in self.path:
                waiting.set()
                release.wait(60)
                return self.send(200, b"# card\n")
            return self.send(404, {"error": "no"})

    db = tmp_path / "out.duckdb"
    read = (
        "import sys, duckdb; con = duckdb.connect(sys.argv[1]);"
        " print(con.execute('SELECT count(*) FROM models').fetchall()[0][0])"
    )
    with handler_server(Held) as url, Store(db) as store:
        result: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: result.update(report=crawl(store, url, "live", CrawlOptions(**FAST, orgs=False))),
            daemon=True,
        )
        thread.start()
        try:
            assert waiting.wait(60), "the crawl never reached its cards"
            # Another process opens the store for writing (as study and audit do) while the crawl waits.
            other = subprocess.run([sys.executable, "-c", read, str(db)], capture_output=True, text=True, timeout=120)
            assert other.returncode == 0, other.stderr
            assert other.stdout.strip() == "2"  # the committed listing is visible
            # ... and holds it while the crawl wants to write: the crawl waits for its turn.
            holder = subprocess.Popen([sys.executable, "-c", read + "; import time; time.sleep(3)", str(db)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
            time.sleep(1.5)
            release.set()
            holder.communicate(timeout=120)
            assert holder.returncode == 0
        finally:
            release.set()
            thread.join(120)
        assert not thread.is_alive()
        report = result["report"]
        assert report.snapshot.status == "complete" and report.cards_fetched == 2
        assert store.query("SELECT count(*) FROM cards")[0][0] == 2  # the caller's store is open again


# -- 9. tokens ------------------------------------------------------------------------------------------------


def test_the_token_goes_to_its_own_endpoint_only(tmp_path, online, monkeypatch):
    seen: list[tuple[str, str | None]] = []

    class Auth(Scripted):
        def do_GET(self):
            seen.append((self.path.split("?")[0], self.headers.get("Authorization")))
            if self.path.startswith("/api/models"):
                return self.send(200, [model("o/m")])
            return self.send(200, b"# card\n") if "/resolve/" in self.path else self.send(404, {"error": "no"})

    with handler_server(Auth) as url, Store(tmp_path / "out.duckdb") as store:
        monkeypatch.setenv("HF_TOKEN", "hf_from_env")
        monkeypatch.setenv("HF_ENDPOINT", url)  # huggingface_hub's token belongs to HF_ENDPOINT
        crawl(store, url, "mine", CrawlOptions(**FAST))
        assert seen and all(auth == "Bearer hf_from_env" for _, auth in seen), seen
        seen.clear()
        monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")  # another endpoint: the token stays home
        crawl(store, url, "theirs", CrawlOptions(**FAST))
        assert seen and all(auth is None for _, auth in seen), seen
        seen.clear()
        crawl(store, url, "given", CrawlOptions(**FAST, token="hf_explicit"))  # --token / PTMSCOPE_HF_TOKEN
        assert seen and all(auth == "Bearer hf_explicit" for _, auth in seen), seen


# -- 10. a loopback endpoint is not paced to the Hub's anonymous budget ---------------------------------------


def test_a_loopback_endpoint_starts_unpaced(tmp_path, online):
    from ptmscope.hub.client import HubClient
    from ptmscope.hub.ratelimit import PLANS

    db = small_store(tmp_path / "src.duckdb")
    with running_hub(db) as hub, Store(tmp_path / "out.duckdb") as store:
        options = CrawlOptions(backoff_base=0.01, concurrency=4)  # no --rate-limit
        report = crawl(store, hub.url, "local", options)
        assert report.snapshot.status == "complete" and report.requests["api"]["requests"] == 5
        # The anonymous plan spaces api requests 0.6 s apart: five of them would wait about 2.4 s.
        assert report.requests["api"]["waited"] < 0.5
    assert HubClient("http://localhost:8080", unpaced=True).pacers["api"].budget.limit > 10**6
    assert HubClient("https://mirror.example", unpaced=False).pacers["api"].budget.limit == PLANS["anonymous"]["api"]


def test_help_says_what_bounds_and_defaults_apply():
    from click.testing import CliRunner

    from ptmscope.cli.main import cli

    text = " ".join(CliRunner().invoke(cli, ["crawl", "--help"]).output.split())
    for said in ("loopback endpoint", "--deadline", "--max-pause", "connect 10 s", "read 30 s", "HF_TOKEN",
                 "never sent on a redirect", "Exit status"):  # fmt: skip
        assert said in text, said


def test_cli_exits_2_when_the_crawl_is_not_complete_and_0_when_it_is(tmp_path, online):
    from click.testing import CliRunner

    from ptmscope.cli.main import cli

    state = {"broken": True}

    class Flaky(Scripted):
        def do_GET(self):
            if self.path.startswith("/api/models"):
                return self.send(200, [model("o/a"), model("o/b")])
            if "/resolve/" in self.path and "/o/b/" in self.path and state["broken"]:
                return self.send(503, {"error": "down"}, {"Retry-After": "0"})  # retried at once, 8 times
            return self.send(200, b"# card\n") if "/resolve/" in self.path else self.send(404, {"error": "no"})

    db = str(tmp_path / "cli.duckdb")
    with handler_server(Flaky) as url:
        args = ["crawl", "--endpoint", url, "--snapshot", "s", "--db", db, "--json", "--no-orgs"]
        first = CliRunner().invoke(cli, args, env={"HF_HUB_OFFLINE": "0"})
        assert first.exit_code == 2, first.output
        doc = json.loads(first.stdout)
        assert doc["retryable_failures"] == 1 and doc["failures"] == {"card": 1}
        assert "Not complete" in first.stderr and "rerun the same command" in first.stderr
        state["broken"] = False
        second = CliRunner().invoke(cli, args, env={"HF_HUB_OFFLINE": "0"})
        assert second.exit_code == 0, second.output
        assert json.loads(second.stdout)["retryable_failures"] == 0
