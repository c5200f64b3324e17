"""``ptmscope scan OWNER/NAME`` against a Hub on 127.0.0.1: tokens go only where they belong, a dead
network is one clear line and exit 2 within seconds, an oversized file is not downloaded and
fails the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import socket
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner

from ptmscope.cli.main import cli
from tests.replay import handler_server, online  # noqa: F401 - the fixture, used by name below

from .conftest import Reduce

SHA = "a" * 40
EVIL = pickle.dumps(Reduce(os.system, "id"), protocol=2)
FILES = {
    "README.md": b"# card",
    "config.json": b"{}",
    "pytorch_model.bin": EVIL,
    "big.bin": b"\x80\x02N." + b"\x00" * 5000,
}
Seen = list[tuple[str, str, str | None]]


def fake_hub(
    seen: Seen,
    listing: str = "ok",
    resolve: str = "ok",
    lfs: dict[str, str] | None = None,
    redirect_to: str | None = None,
) -> type[BaseHTTPRequestHandler]:
    """A Hub with one repository, ``org/model``, recording (method, path, Authorization) of every request.

    ``listing``: ok, private (401), badjson, 429 (Retry-After: 99999), 429-once (Retry-After: 1, then ok).
    ``resolve``: ok, 429 (Retry-After: 99999), trickle (pytorch_model.bin, a byte every 0.3 s), redirect (to
    ``redirect_to``).
    """
    answered: set[str] = set()

    class Hub(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            seen.append((self.command, self.path, self.headers.get("Authorization")))
            if self.path.startswith("/api/models/org/model"):
                self._listing()
            elif (name := self.path.rsplit("/", 1)[-1]) in FILES and f"/resolve/{SHA}/" in self.path:
                self._resolve(name, FILES[name])
            elif self.path.startswith("/elsewhere/"):
                self._send(200, EVIL)
            else:
                self._send(404, b'{"error":"not found"}', {"X-Error-Code": "RepoNotFound"})

        def _listing(self) -> None:
            if listing == "private":
                self._send(401, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            elif listing == "badjson":
                self._send(200, b"<html>not json")
            elif listing == "429" or (listing == "429-once" and "listing" not in answered):
                answered.add("listing")
                self._send(429, b'{"error":"slow down"}', {"Retry-After": "99999" if listing == "429" else "1"})
            else:
                siblings = [
                    {
                        "rfilename": name,
                        "size": len(data),
                        **({"lfs": {"sha256": lfs[name]}} if name in (lfs or {}) else {}),
                    }
                    for name, data in FILES.items()
                ]
                self._send(200, json.dumps({"id": "org/model", "sha": SHA, "siblings": siblings}).encode())

        def _resolve(self, name: str, data: bytes) -> None:
            if resolve == "429":
                self._send(429, b'{"error":"slow down"}', {"Retry-After": "99999"})
            elif resolve == "redirect":
                self._send(302, b"", {"Location": f"{redirect_to}/elsewhere/file"})
            elif resolve == "trickle" and name == "pytorch_model.bin":
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                for i in range(len(data)):
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.3)
            else:
                self._send(200, data, {"X-Repo-Commit": SHA, "ETag": f'"{hashlib.sha1(data).hexdigest()}"'})

    return Hub


def scan(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["scan", "--no-progress", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def saved_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """HF_TOKEN and a token saved by ``hf auth login``, as a user who logged in to the Hub has."""
    import huggingface_hub.constants

    token_file = tmp_path / "hf-token"
    token_file.write_text("hf_saved_login_token")
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(token_file))
    monkeypatch.setenv("HF_TOKEN", "hf_env_token")
    return "hf_env_token"


@pytest.mark.usefixtures("online")
def test_the_users_hub_token_is_not_sent_to_another_endpoint(saved_login: str, tmp_path: Path):
    """Before: huggingface_hub's implicit token went to whatever --endpoint said (a hostile one too)."""
    seen: list[tuple[str, str, str | None]] = []
    with handler_server(fake_hub(seen)) as url:
        code, out, _ = scan("org/model", "--endpoint", url, "--cache-dir", str(tmp_path / "cache"))
    assert code == 1 and "posix.system" in out
    assert ("GET", f"/org/model/resolve/{SHA}/pytorch_model.bin", None) in seen
    assert [auth for *_, auth in seen] == [None] * len(seen) and len(seen) >= 3


@pytest.mark.usefixtures("online")
def test_an_explicit_token_goes_to_the_endpoint_it_was_given_for(saved_login: str, tmp_path: Path):
    seen: list[tuple[str, str, str | None]] = []
    with handler_server(fake_hub(seen)) as url:
        code, _, _ = scan("org/model", "--endpoint", url, "--token", "hf_explicit", "--cache-dir", str(tmp_path))
    assert code == 1 and len(seen) >= 3
    assert {auth for *_, auth in seen} == {"Bearer hf_explicit"}


@pytest.mark.usefixtures("online")
def test_a_not_found_says_no_token_was_sent(saved_login: str):
    seen: list[tuple[str, str, str | None]] = []
    with handler_server(fake_hub(seen, listing="private")) as url:
        code, out, _ = scan("org/model", "--endpoint", url)
    assert code == 2 and "repository or revision not found" in out
    assert f"no token was sent to {url} (pass --token to send one)" in out


def test_token_resolution_is_huggingface_hubs_for_its_own_endpoint(saved_login: str, monkeypatch: pytest.MonkeyPatch):
    from ptmscope.scanners.hub import hub_token

    hub = "https://huggingface.co"  # offline: which token would be sent; no request is made
    monkeypatch.delenv("HF_ENDPOINT", raising=False)  # the tests' closed-port endpoint: here, the real Hub
    assert hub_token(hub) == "hf_env_token"
    assert hub_token(f"{hub}/", "hf_given") == "hf_given"
    assert hub_token("http://127.0.0.1:8080", "hf_given") == "hf_given"
    for elsewhere in ("http://huggingface.co", f"{hub}.evil.example", "http://127.0.0.1:9"):  # offline: no request
        assert hub_token(elsewhere) is False, elsewhere
    monkeypatch.setenv("HF_ENDPOINT", "https://mirror.example")  # the token belongs to the endpoint it is for
    assert hub_token("https://mirror.example") == "hf_env_token"
    assert hub_token(hub) is False
    monkeypatch.delenv("HF_ENDPOINT")
    monkeypatch.delenv("HF_TOKEN")
    assert hub_token(hub) == "hf_saved_login_token"  # the saved login


@pytest.mark.usefixtures("online")
def test_an_oversized_hub_file_is_not_downloaded_and_fails_the_run(tmp_path: Path):
    seen: list[tuple[str, str, str | None]] = []
    with handler_server(fake_hub(seen)) as url:
        code, out, _ = scan(
            "org/model", "--endpoint", url, "--max-file-size", "1K", "--format", "json", "--cache-dir", str(tmp_path)
        )
    files = {f["path"]: f for f in json.loads(out)["files"]}
    big = files["org/model/big.bin"]
    assert code == 1 and big["verdict"] == "unparseable" and "not downloaded" in big["reason"] and big["fails_run"]
    assert not [path for _, path, _ in seen if path.endswith("big.bin")]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.usefixtures("online")
@pytest.mark.parametrize("endpoint", ["refused", "http://nonexistent.invalid"])
def test_no_network_is_one_line_and_exit_2_within_seconds(endpoint: str):
    url = f"http://127.0.0.1:{closed_port()}" if endpoint == "refused" else endpoint
    started = time.monotonic()
    code, out, err = scan("org/model", "--endpoint", url)
    assert time.monotonic() - started < 10
    assert code == 2
    (line,) = out.strip().splitlines()
    assert line.startswith(f"ERROR org/model: cannot list files at {url}: ")
    assert "Traceback" not in out + err and "1 error(s)" in err


@pytest.mark.usefixtures("online")
def test_only_model_files_are_downloaded_and_nothing_is_left_behind(tmp_path: Path):
    seen: Seen = []
    with handler_server(fake_hub(seen)) as url:
        code, out, _ = scan("org/model@main", "--endpoint", url, "--format", "json", "--cache-dir", str(tmp_path))
    files = {f["path"]: f for f in json.loads(out)["files"]}
    assert code == 1 and files["org/model/pytorch_model.bin"]["verdict"] == "dangerous"
    assert sorted(path.rsplit("/", 1)[-1] for _, path, _ in seen if "/resolve/" in path) == [
        "big.bin",
        "pytorch_model.bin",
    ]
    assert seen[0][1] == "/api/models/org/model/revision/main?blobs=true"
    assert list(tmp_path.iterdir()) == []  # downloads are deleted once scanned


@pytest.mark.usefixtures("online")
def test_a_file_in_the_huggingface_cache_is_scanned_there(tmp_path: Path):
    snapshot = tmp_path / "models--org--model" / "snapshots" / SHA
    snapshot.mkdir(parents=True)
    (snapshot / "pytorch_model.bin").write_bytes(EVIL)
    seen: Seen = []
    with handler_server(fake_hub(seen, resolve="429")) as url:
        code, out, _ = scan("org/model", "--endpoint", url, "--cache-dir", str(tmp_path), "--max-file-size", "1K")
    assert code == 1 and "posix.system" in out
    assert not [path for _, path, _ in seen if "/resolve/" in path]


@pytest.mark.usefixtures("online")
@pytest.mark.parametrize(("listing", "message"), [("badjson", "not a repository's JSON"), ("private", "not found")])
def test_a_bad_listing_is_one_error_line(listing: str, message: str):
    with handler_server(fake_hub([], listing=listing)) as url:
        code, out, _ = scan("org/model", "--endpoint", url)
    (line,) = out.strip().splitlines()
    assert code == 2 and line.startswith("ERROR org/model: ") and message in line


@pytest.mark.usefixtures("online")
def test_a_huge_retry_after_is_capped_and_the_deadline_holds(monkeypatch: pytest.MonkeyPatch):
    """Before: huggingface_hub slept the whole Retry-After (99,999 s), five times, per file."""
    from ptmscope.scanners import hub

    started = time.monotonic()
    with handler_server(fake_hub([], listing="429")) as url:
        code, out, _ = scan("org/model", "--endpoint", url)
    assert code == 2 and "asks to wait 99,999 s, past this request's 60 s deadline" in out
    assert time.monotonic() - started < 10
    monkeypatch.setattr(hub, "RETRY_AFTER_CAP", 0.5)  # a capped wait is taken, with a warning, then a retry
    seen: Seen = []
    with handler_server(fake_hub(seen, resolve="429")) as url:
        code, out, err = scan("org/model", "--endpoint", url, "--max-file-size", "1K", "--skipped", "ok")
    assert code == 2 and "download failed: HTTP 429" in out and "waiting 0.5 s (the cap)" in err
    assert len([path for _, path, _ in seen if path.endswith("pytorch_model.bin")]) == hub.ATTEMPTS


@pytest.mark.usefixtures("online")
def test_a_short_retry_after_is_honoured():
    seen: Seen = []
    with handler_server(fake_hub(seen, listing="429-once")) as url:
        code, _, _ = scan("org/model", "--endpoint", url, "--max-file-size", "1K", "--skipped", "ok")
    assert code == 1 and [path for _, path, _ in seen].count("/api/models/org/model?blobs=true") == 2


@pytest.mark.usefixtures("online")
def test_a_trickling_download_is_cut_at_its_deadline(monkeypatch: pytest.MonkeyPatch):
    from ptmscope.scanners import hub

    monkeypatch.setattr(hub, "DOWNLOAD_DEADLINE", 1.0)
    started = time.monotonic()
    with handler_server(fake_hub([], resolve="trickle")) as url:
        code, out, _ = scan("org/model", "--endpoint", url, "--max-file-size", "1K", "--skipped", "ok")
        elapsed = time.monotonic() - started
    assert code == 2 and "pytorch_model.bin  download failed: not received within 1 s" in out
    assert elapsed < 10  # the whole file takes 15 s to trickle


@pytest.mark.usefixtures("online")
def test_a_redirect_to_another_host_gets_no_token(tmp_path: Path):
    elsewhere: Seen = []
    seen: Seen = []
    with (
        handler_server(fake_hub(elsewhere)) as other,
        handler_server(fake_hub(seen, resolve="redirect", redirect_to=other)) as url,
    ):
        code, out, _ = scan("org/model", "--endpoint", url, "--token", "hf_explicit", "--max-file-size", "1K")
    assert code == 1 and "posix.system" in out
    assert {auth for *_, auth in seen} == {"Bearer hf_explicit"}
    assert elsewhere and {auth for *_, auth in elsewhere} == {None}


@pytest.mark.usefixtures("online")
def test_a_download_that_does_not_match_its_lfs_sha256_is_an_error():
    lfs = {"pytorch_model.bin": hashlib.sha256(b"something else").hexdigest()}
    with handler_server(fake_hub([], lfs=lfs)) as url:
        code, out, _ = scan("org/model", "--endpoint", url, "--max-file-size", "1K", "--skipped", "ok")
    assert code == 2 and "do not match the listed LFS sha256" in out
