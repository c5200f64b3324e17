"""serve-hub: the Hub API as huggingface_hub uses it, files, pagination, hostile paths, faults, budgets."""

from __future__ import annotations

import json
import threading
import time

import duckdb
import httpx2
import pytest
from huggingface_hub import HfApi

from ptmscope.hub.ratelimit import Budget
from ptmscope.hub.server import FaultPlan, serve
from tests.replay import faults, running_hub, small_store


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return small_store(tmp_path_factory.mktemp("hub") / "src.duckdb")


def test_huggingface_hub_lists_and_reads_models(db, online):
    with running_hub(db) as hub:
        assert hub.server_address[0] == "127.0.0.1"
        api = HfApi(endpoint=hub.url, token=False)
        models = list(api.list_models(full=True, cardData=True))
        assert len(models) == 10 and models[0].id == "legacy-gen"
        by_id = {m.id: m for m in models}
        assert [s.rfilename for s in by_id["org1/tc-a"].siblings] == ["README.md", "pytorch_model.bin"]
        assert by_id["org1/tc-a"].pipeline_tag == "text-classification"
        info = api.model_info("org1/tc-a")
        assert info.downloads == 1000 and info.config == {
            "model_type": "bert",
            "architectures": ["BertForSequenceClassification"],
        }
        assert [m.id for m in api.list_models(author="org4")] == ["org4/asr", "org4/ft", "org4/untagged"]
        assert [m.id for m in api.list_models(filter="dataset:glue")] == ["legacy-gen", "org1/tc-a"]
        assert [m.id for m in api.list_models(sort="downloads", limit=2)] == ["legacy-gen", "org1/tc-a"]
        assert [m.id for m in api.list_models(search="ner")] == ["org2/ner-a", "org3/ner-b"]


def test_pages_follow_link_headers_with_expand(db):
    with running_hub(db) as hub:
        seen, url = [], f"{hub.url}/api/models?limit=3&expand[]=sha&expand[]=tags"
        while url:
            response = httpx2.get(url)
            page = response.json()
            assert len(page) <= 3 and all(set(m) <= {"_id", "id", "modelId", "sha", "tags"} for m in page)
            seen += [m["id"] for m in page]
            url = response.links.get("next", {}).get("url")
            assert response.headers["RateLimit"].startswith('"api";r=')
        assert len(seen) == 10 == len(set(seen))
        sorted_pages, url = [], f"{hub.url}/api/models?limit=4&sort=downloads&direction=1"
        while url:
            response = httpx2.get(url)
            sorted_pages += [m.get("downloads") for m in response.json()]
            url = response.links.get("next", {}).get("url")
        known = [d for d in sorted_pages if d is not None]
        assert len(sorted_pages) == 10 and known == sorted(known) and sorted_pages[: len(known)] == known


def test_files_organizations_and_errors(db):
    with running_hub(db) as hub:
        readme = httpx2.get(f"{hub.url}/org1/tc-a/resolve/main/README.md")
        assert readme.status_code == 200 and readme.text.startswith("---\nlicense: mit")
        assert readme.headers["RateLimit"].startswith('"resolvers"')
        from ptmscope.store.rows import git_blob_id

        assert readme.headers["ETag"] == f'"{git_blob_id(readme.content)}"'
        missing = httpx2.get(f"{hub.url}/org1/tc-a/resolve/main/config.json")
        assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "EntryNotFound"
        assert httpx2.get(f"{hub.url}/org1/tc-a/resolve/deadbeef/README.md").headers["X-Error-Code"] == (
            "RevisionNotFound"
        )
        assert httpx2.get(f"{hub.url}/nobody/nothing/resolve/main/README.md").status_code == 404
        for hostile in ("a/%2e%2e/%2e%2e/etc/passwd", "%2e%2e/README.md", "a//b", "a%5c..%5cb", "a%00b"):
            assert httpx2.get(f"{hub.url}/org1/tc-a/resolve/main/{hostile}").status_code == 400, hostile
        injected = httpx2.get(f"{hub.url}/org1/tc-a/resolve/x%0d%0aSet-Cookie:%20a=b/README.md")
        assert injected.status_code == 404 and "set-cookie" not in injected.headers
        assert "\n" not in injected.headers["X-Error-Message"]
        assert httpx2.get(f"{hub.url}/api/organizations/org1/overview").status_code == 404
        assert httpx2.post(f"{hub.url}/org1/tc-a/git-receive-pack", content=b"x").status_code in (403, 404)
        assert httpx2.get(f"{hub.url}/api/models/org1/tc-a/revision/main").json()["id"] == "org1/tc-a"


def test_faults_are_seeded_and_budgets_enforced(db):
    plan = FaultPlan.parse("429=0.2,500=0.2,badjson=0.2", seed=5)
    again = FaultPlan.parse("429=0.2,500=0.2,badjson=0.2", seed=5)
    assert [plan.draw() for _ in range(50)] == [again.draw() for _ in range(50)]
    with pytest.raises(ValueError, match="KIND=PROBABILITY"):
        FaultPlan.parse("teapot=0.1")
    with pytest.raises(ValueError, match="more than 1"):
        FaultPlan.parse("429=0.6,500=0.6")
    with running_hub(db, faults=faults("badjson=1.0")) as hub:
        response = httpx2.get(f"{hub.url}/api/models")
        with pytest.raises(ValueError):
            response.json()
    with running_hub(db, faults=faults("drop=1.0")) as hub, pytest.raises(httpx2.RemoteProtocolError):
        httpx2.get(f"{hub.url}/api/models")
    with running_hub(db, rate_limits={"api": Budget("api", 2, 60)}) as hub:
        codes = [httpx2.get(f"{hub.url}/api/models/org1/tc-a").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        refused = httpx2.get(f"{hub.url}/api/models")
        assert refused.headers["RateLimit"].startswith('"api";r=0') and int(refused.headers["Retry-After"]) >= 1


def test_closing_waits_for_requests_in_flight(db):
    """server_close frees the in-memory snapshot only once no request is inside it (else: 500s, or an abort at exit)."""
    server = serve(db, None, faults=FaultPlan.parse("slow=1.0", seed=1, slow_seconds=0.5, retry_after=0))
    server.serve_in_thread()
    answers: list[int] = []
    client = threading.Thread(
        target=lambda: answers.append(httpx2.get(f"{server.url}/api/models/org1/tc-a", timeout=10).status_code)
    )
    client.start()
    deadline = time.monotonic() + 5
    while server._in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server._in_flight == 1  # the request sleeps in its injected slowness
    server.shutdown()
    server.server_close()
    client.join(10)
    assert answers == [200]
    with pytest.raises(duckdb.ConnectionException):  # the copy is freed once the server is closed
        server.data.model("org1/tc-a")


def test_the_serve_hub_command_serves_until_interrupted(db):
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ptmscope", "serve-hub", "--db", str(db), "--port", "0", "--rate-limit", "api=5/60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert [m["id"] for m in httpx2.get(f"{url}/api/models?limit=2").json()] == ["legacy-gen", "org1/tc-a"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert "api: 1 requests within the budget" in err


# --- request bodies are bounded (issue 12) ------------------------------------------------------


def raw_responses(url: str, request: bytes, count: int = 1, timeout: float = 10.0) -> list[tuple[int, bytes, bytes]]:
    """Send raw bytes, keep the connection open (no EOF), and read ``count`` responses: (status, head, body).

    The old server never answered a body it read to EOF: the ``recv`` then times out after ``timeout``.
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    responses: list[tuple[int, bytes, bytes]] = []
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while len(responses) < count:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {len(responses)} response(s)"
                data += chunk
            head, _, data = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
            )
            while len(data) < length:
                data += sock.recv(65536)
            responses.append((int(head.split(b" ", 2)[1]), head, data[:length]))
            data = data[length:]
    return responses


def post(path: str, headers: str, body: bytes = b"") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ("Transfer-Encoding: chunked\r\n", b"-1\r\n" + b"x" * 1000, 400),  # read to EOF before
        ("Transfer-Encoding: chunked\r\n", b"+5\r\nhello\r\n", 400),
        ("Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n", 400),
        ("Transfer-Encoding: chunked\r\n", b"fffffffffffffffffff\r\n", 400),
        ("Transfer-Encoding: chunked\r\n", b"500000\r\n" + b"x" * 1000, 413),  # 5 MiB announced: over the limit
        ("Transfer-Encoding: chunked\r\n", b"100000\r\n" + b"x" * (1 << 20) + b"\r\n" * 1 + b"400000\r\n", 413),
        ("Transfer-Encoding: chunked\r\n", b"5\r\nhelloXX", 400),  # no CRLF after the data
        ("Transfer-Encoding: gzip\r\n", b"xxxx", 400),
        ("Content-Length: 10485760\r\n", b"x" * 1000, 413),
        ("Content-Length: -5\r\n", b"", 400),
    ],
)
def test_request_bodies_are_bounded(db, headers: str, body: bytes, status: int):
    with running_hub(db) as hub:
        for path in ("/api/models", "/org1/tc-a.git/git-upload-pack", "/org1/tc-a/resolve/main/README.md"):
            ((code, head, _),) = raw_responses(hub.url, post(path, headers, body))
            assert code == status and b"Connection: close" in head, (path, code)


def test_a_well_formed_chunked_body_keeps_the_connection_usable(db):
    with running_hub(db) as hub:
        body = b"5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"
        request = post("/api/models", "Transfer-Encoding: chunked\r\n", body)
        request += b"GET /api/models/org1/tc-a HTTP/1.1\r\nHost: x\r\n\r\n"
        (first, head, _), (second, _, model) = raw_responses(hub.url, request, count=2)
        assert first == 405 and b"Connection: close" not in head
        assert second == 200 and json.loads(model)["id"] == "org1/tc-a"


def test_a_body_that_trickles_is_cut_off(db, monkeypatch: pytest.MonkeyPatch):
    import ptmscope.hub.server

    monkeypatch.setattr(ptmscope.hub.server, "BODY_SECONDS", 1.0)
    with running_hub(db) as hub:
        started = time.monotonic()
        ((code, _, body),) = raw_responses(hub.url, post("/api/models", "Content-Length: 100\r\n", b"x" * 10))
        assert code == 400 and b"not received within 1 s" in body and time.monotonic() - started < 10


# --- a snapshot without card bytes says so (issue 12) ---------------------------------------------


@pytest.fixture(scope="module")
def no_cards_db(tmp_path_factory):
    from ptmscope.importer import import_paths
    from ptmscope.store import Store
    from tests.replay import SMALL

    path = tmp_path_factory.mktemp("hub") / "nocards.duckdb"
    with Store(path) as store:
        import_paths(store, SMALL, "plain", keep_files=False)
    return path


def test_readme_404s_say_why(no_cards_db):
    with running_hub(no_cards_db) as hub:
        assert (hub.data.readmes, hub.data.cards, hub.data.models) == (0, 7, 10)
        kept_none = httpx2.get(f"{hub.url}/org1/tc-a/resolve/main/README.md")
        assert kept_none.status_code == 404 and kept_none.headers["X-Error-Code"] == "EntryNotFound"
        reason = kept_none.json()["error"]
        assert "did not keep its bytes (imported without --keep-cards)" in reason
        assert "serve-hub printed the exact command when it started" in reason
        from ptmscope.hub.replay import keep_cards_command

        assert keep_cards_command(hub.data.snapshot) == (
            "ptmscope import small_listing.jsonl small_cards.jsonl --snapshot plain-cards --keep-cards (the files "
            "this snapshot was imported from), then ptmscope serve-hub --snapshot plain-cards"
        )
        no_readme = httpx2.get(f"{hub.url}/org3/ner-b/resolve/main/README.md").json()["error"]
        assert no_readme == "Entry not found: org3/ner-b had no README.md when the snapshot was taken"
        no_card = httpx2.get(f"{hub.url}/org2/tc-c/resolve/main/README.md").json()["error"]
        assert "holds no card for org2/tc-c" in no_card
        other = httpx2.get(f"{hub.url}/org1/tc-a/resolve/main/config.json").json()["error"]
        assert "serves README.md only" in other
        assert hub.counts["readme-bytes-not-kept"] == 1


def test_serve_hub_says_at_start_how_many_readmes_it_serves_and_how_to_keep_them(no_cards_db, db):
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    outputs = []
    for store in (no_cards_db, db):
        process = subprocess.Popen(
            [sys.executable, "-m", "ptmscope", "serve-hub", "--db", str(store), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            url = process.stdout.readline().strip()
            assert httpx2.get(f"{url}/org1/tc-a/resolve/main/README.md").status_code in (200, 404)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        outputs.append(" ".join(err.split()))
    without, with_cards = outputs
    assert "README.md files to serve: 0 (7 models had a card)" in without
    assert f"--snapshot plain-cards --db {no_cards_db} --keep-cards" in without
    assert f"ptmscope serve-hub --snapshot plain-cards --db {no_cards_db}" in without
    assert "1 README.md requests answered 404 because the snapshot did not keep the card's bytes" in without
    assert "README.md files to serve: 7 (7 models had a card)" in with_cards and "Warning" not in with_cards


def test_a_port_in_use_is_one_line_and_exit_2(db):
    import socket

    from click.testing import CliRunner

    from ptmscope.cli.main import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve-hub", "--db", str(db), "--port", str(port)])
    assert result.exit_code == 2
    assert f"Error: cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
