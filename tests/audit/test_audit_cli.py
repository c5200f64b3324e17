"""`ptmscope audit` as a gate and a witness: --fail-under, refused flags, the judging snapshot, tokens, no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
from click.testing import CliRunner

from ptmscope.cli.main import cli
from ptmscope.importer import import_paths
from ptmscope.store import Store
from tests.audit.test_audit import _FakeHub, risky  # noqa: F401 - a fixture
from tests.replay import handler_server

SQUATTER = "facebok/bart-large"

HUB = "https://huggingface.co"  # offline: the endpoint a stored crawl record names; never called


def audit(*args: str) -> object:
    return CliRunner().invoke(cli, ["audit", *args])


def test_fail_under_exits_1_when_a_score_is_under_and_0_when_not(risky):  # noqa: F811
    base = [SQUATTER, "--db", str(risky), "--snapshot", "risky", "--offline", "--json"]
    result = audit(*base)
    assert result.exit_code == 0, result.output
    scores = {a: v["score"] for a, v in json.loads(result.stdout)["scores"].items()}
    security = scores["security"]
    assert security is not None and security < 9

    result = audit(*base, "--fail-under", "security=9")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)  # the report is still written, then the gate speaks
    assert document["gate"]["failed"] == [f"security {security:.2f} < 9"]
    assert "under --fail-under: security" in result.stderr

    lowest = min(v for v in scores.values() if v is not None)
    assert audit(*base, "--fail-under", f"{lowest:.2f}").exit_code == 0
    assert audit(*base, "--fail-under", f"{lowest + 0.5:.2f}").exit_code == 1  # the bare form gates every attribute
    assert audit(*base, "--fail-under", "security=0", "--fail-under", "0").exit_code == 0


def test_fail_under_on_an_inconclusive_attribute_fails_and_typos_are_usage_errors(risky, tmp_path):  # noqa: F811
    weights = tmp_path / "weights.yaml"  # popularity and maintenance switched off: no check can decide them
    weights.write_text("version: 1\nchecks:\n" + "".join(f"  {c}: 0\n" for c in (
        "is_downloaded_within_task", "is_liked_within_task", "has_derived_models", "recently_updated",
        "has_commit_history")))  # fmt: skip
    base = [SQUATTER, "--db", str(risky), "--snapshot", "risky", "--offline", "--json", "--weights", str(weights)]
    scores = json.loads(audit(*base).stdout)["scores"]
    assert scores["popularity"]["score"] is None
    assert audit(*base, "--fail-under", "0").exit_code == 0  # the bare form gates the conclusive attributes
    result = audit(*base, "--fail-under", "popularity=0")  # named: it must show it, and cannot
    assert result.exit_code == 1 and "popularity is inconclusive" in result.stderr
    for bad in ("securty=3", "security=11", "high"):
        result = audit(*base, "--fail-under", bad)
        assert result.exit_code == 2 and "--fail-under" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "flags",
    [["--sarif", "x.sarif"], ["--html", "x.html"], ["--explain"], ["--cyclonedx", "-"], ["--fail-under", "5"],
     ["--badges", "b"], ["--offline"]],
)  # fmt: skip
def test_audit_all_refuses_the_flags_it_would_ignore(risky, tmp_path, flags):  # noqa: F811
    result = audit("--all", "--db", str(risky), "--snapshot", "risky", *flags)
    assert result.exit_code == 2
    assert flags[0].split("/")[0] in result.output and "one MODEL" in result.output
    assert not (tmp_path / "x.sarif").exists()


def add_limited_crawl(db, name="test-crawl", limit=5000):
    """A newer snapshot that is a --limit crawl of the same models (as `crawl --limit` records it)."""
    listing, cards = db.parent / "models.jsonl", db.parent / "cards.jsonl"
    with Store(db) as store:
        snap = import_paths(store, [listing, cards], name, jobs=1).snapshot
        store.con.execute("UPDATE snapshots SET source = 'crawl', taken_at = ? WHERE snapshot_id = ?",
                          [datetime.now(UTC), snap.snapshot_id])  # fmt: skip
        store.con.execute(
            "INSERT INTO crawl_state (snapshot_id, endpoint, params, updated_at) VALUES (?, ?, ?, ?)",
            [snap.snapshot_id, HUB, json.dumps({"listing": {"limit": 1000}, "max_models": limit}),
             datetime.now(UTC)],
        )  # fmt: skip


def test_default_snapshot_is_the_newest_complete_full_one_and_the_report_names_it(risky, tmp_path):  # noqa: F811
    add_limited_crawl(risky)
    result = audit(SQUATTER, "--db", str(risky), "--offline", "--json", "--html", str(tmp_path / "card.html"))
    assert result.exit_code == 0, result.output
    context = json.loads(result.stdout)["context"]
    assert context["snapshot"] == "risky" and context["chosen"] == "newest complete"  # not the newer test crawl
    assert context["models"] == 24 and context["skipped"] == ["test-crawl: a crawl limited to 5,000 models (--limit)"]
    assert any("holds 24 models (under 10,000)" in w for w in context["warnings"])
    assert "warning: snapshot risky holds 24 models" in result.stderr
    html = (tmp_path / "card.html").read_text()
    assert "judged against snapshot <code>risky</code> (24 models, newest complete)" in html and "under 10,000" in html

    result = audit(SQUATTER, "--db", str(risky), "--offline", "--snapshot", "test-crawl", "--json")
    context = json.loads(result.stdout)["context"]
    assert context["snapshot"] == "test-crawl" and context["chosen"] == "named"
    assert context["partial"] == "a crawl limited to 5,000 models (--limit)"
    assert "is partial: a crawl limited to 5,000 models" in result.stderr

    result = audit(SQUATTER, "--db", str(risky), "--offline")  # the terminal report names it too
    assert "judged against snapshot risky, 24 models, newest complete" in " ".join(result.stdout.split())


def test_audit_all_and_select_default_to_the_newest_complete_snapshot(risky):  # noqa: F811
    add_limited_crawl(risky)
    result = audit("--all", "--db", str(risky), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["snapshot"] == "risky" and document["context"]["chosen"] == "newest complete"
    assert "Snapshot risky (24 models, newest complete; newer partial snapshots passed over: test-crawl" in (
        " ".join(result.stderr.split())
    )
    result = CliRunner().invoke(cli, ["select", "--db", str(risky), "--json", "--task", "text-generation"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["snapshot"]["name"] == "risky" and document["context"]["warnings"]
    result = CliRunner().invoke(cli, ["select", "--db", str(risky), "--json", "--snapshot", "latest"])
    assert json.loads(result.stdout)["context"]["partial"].startswith("a crawl limited")


class _RecordingHub(_FakeHub):
    """The fake Hub, remembering the Authorization header of every request."""

    seen: ClassVar[list[str | None]] = []

    def do_GET(self):
        type(self).seen.append(self.headers.get("Authorization"))
        super().do_GET()


@pytest.fixture
def recording_hub(monkeypatch):
    _RecordingHub.seen = []
    with handler_server(_RecordingHub) as endpoint:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
        yield endpoint


def test_the_users_token_goes_only_to_the_endpoint_it_belongs_to(recording_hub, tmp_path, monkeypatch):
    db = str(tmp_path / "none.duckdb")
    monkeypatch.setenv("HF_TOKEN", "hf_env_secret")
    monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")  # offline: only where the token belongs
    result = audit("acme/remote", "--db", db, "--endpoint", recording_hub, "--json")
    assert result.exit_code == 0, result.output
    assert _RecordingHub.seen and set(_RecordingHub.seen) == {None}  # another endpoint: no token at all
    assert f"not sending your Hugging Face token to {recording_hub}" in " ".join(result.stderr.split())

    _RecordingHub.seen = []
    monkeypatch.setenv("HF_ENDPOINT", recording_hub)  # the token's own endpoint (huggingface_hub's setting)
    assert audit("acme/remote", "--db", db, "--endpoint", recording_hub, "--json").exit_code == 0
    assert set(_RecordingHub.seen) == {"Bearer hf_env_secret"}

    _RecordingHub.seen = []
    monkeypatch.delenv("HF_TOKEN")
    saved = tmp_path / "saved-token"
    saved.write_text("hf_saved_login\n")
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(saved))  # `hf auth login` wrote it
    assert audit("acme/remote", "--db", db, "--endpoint", recording_hub, "--json").exit_code == 0
    assert set(_RecordingHub.seen) == {"Bearer hf_saved_login"}

    _RecordingHub.seen = []
    monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")  # offline: only where the token belongs
    result = audit("acme/remote", "--db", db, "--endpoint", recording_hub, "--token", "hf_given", "--json")
    assert result.exit_code == 0 and set(_RecordingHub.seen) == {"Bearer hf_given"}  # --token: the user's choice


@pytest.mark.parametrize("endpoint", ["http://nonexistent.invalid", "http://127.0.0.1:9"])
def test_audit_without_a_reachable_hub_fails_within_10_s_with_one_line(tmp_path, endpoint):
    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    command = [sys.executable, "-m", "ptmscope", "audit", "acme/remote", "--endpoint", endpoint,
               "--db", str(tmp_path / "none.duckdb")]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert time.monotonic() - started < 10
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"Error: cannot reach {endpoint}"), done.stderr  # no retry lines
    assert lines[1].startswith("Hint:")


class _Stalling(BaseHTTPRequestHandler):
    """A hostile hub: 429 with a pause of three years on every API call."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(429)
        self.send_header("Retry-After", "99999999")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def test_a_retry_after_of_years_is_capped_not_waited(tmp_path):
    with handler_server(_Stalling) as url:
        command = [sys.executable, "-m", "ptmscope", "audit", "acme/remote", "--endpoint", url,
                   "--db", str(tmp_path / "none.duckdb")]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "HF_HUB_OFFLINE": "0"})  # fmt: skip
    assert time.monotonic() - started < 60  # the old code slept 99,999,999 s
    assert done.returncode == 2 and "over the 60 s cap: not waited" in done.stderr and "Traceback" not in done.stderr


class _Trickle(BaseHTTPRequestHandler):
    """A hostile hub that sends a model record one byte a second, forever."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            for _ in range(600):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            pass


def test_a_trickling_hub_is_cut_at_the_deadline_per_request(recording_hub, monkeypatch):
    from ptmscope.errors import SourceError
    from ptmscope.sources.hub import fetch_model

    with handler_server(_Trickle) as url:
        started = time.monotonic()
        with pytest.raises(SourceError, match="deadline"):
            fetch_model("acme/remote", endpoint=url, deadline=3, retries=0)
        assert time.monotonic() - started < 30


def test_a_redirect_off_the_endpoint_is_not_followed(recording_hub, tmp_path):
    from ptmscope.errors import SourceError
    from ptmscope.sources.hub import fetch_model

    class Redirecting(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", f"{recording_hub}{self.path}")  # another origin (another port)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with handler_server(Redirecting) as url, pytest.raises(SourceError, match="redirect off the endpoint"):
        fetch_model("acme/remote", endpoint=url, token="hf_secret")
    assert _RecordingHub.seen == []  # the other host was never asked, with or without the token
