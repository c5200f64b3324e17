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
FILES = {"README.md": b"# card", "pytorch_model.bin": EVIL, "big.bin": b"\x80\x02N." + b"\x00" * 5000}


def fake_hub(seen: list[tuple[str, str, str | None]], private: bool = False) -> type[BaseHTTPRequestHandler]:
    """A Hub with one repository, ``org/model``, recording (method, path, Authorization) of every request."""

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

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            seen.append((self.command, self.path, self.headers.get("Authorization")))
            if private:
                self._send(401, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            elif self.path.startswith("/api/models/org/model"):
                siblings = [{"rfilename": name, "size": len(data)} for name, data in FILES.items()]
                self._send(200, json.dumps({"id": "org/model", "sha": SHA, "siblings": siblings}).encode())
            elif (name := self.path.rsplit("/", 1)[-1]) in FILES and f"/resolve/{SHA}/" in self.path:
                data = FILES[name]
                self._send(200, data, {"X-Repo-Commit": SHA, "ETag": f'"{hashlib.sha1(data).hexdigest()}"'})
            else:
                self._send(404, b'{"error":"not found"}', {"X-Error-Code": "EntryNotFound"})

    return Hub


def scan(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["scan", "--no-progress", *args])
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
    with handler_server(fake_hub(seen, private=True)) as url:
        code, out, _ = scan("org/model", "--endpoint", url)
    assert code == 2 and "repository or revision not found" in out
    assert f"no token was sent to {url} (pass --token to send one)" in out


def test_token_resolution_is_huggingface_hubs_for_the_hub_only(saved_login: str, monkeypatch: pytest.MonkeyPatch):
    from ptmscope.scanners.hub import hub_token

    assert hub_token("https://huggingface.co") == "hf_env_token"
    assert hub_token("https://huggingface.co/", "hf_given") == "hf_given"
    assert hub_token("http://127.0.0.1:8080", "hf_given") == "hf_given"
    for elsewhere in ("http://huggingface.co", "https://huggingface.co.evil.example", "http://127.0.0.1:9"):
        assert hub_token(elsewhere) is False, elsewhere
    monkeypatch.delenv("HF_TOKEN")
    assert hub_token("https://huggingface.co") == "hf_saved_login_token"  # the saved login


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
