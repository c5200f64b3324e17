"""verify against a Hub: the user's token only for its own endpoint, and no network fails fast with one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import ClassVar

import pytest

from ptmscope.verify.run import VerifyOptions, verify_model
from tests.replay import handler_server
from tests.verify.conftest import model_copy
from tests.verify.test_verify import SENTIMENT, _FakeHub, sentiment_test  # noqa: F401 - a fixture
from tests.verify.tiny import card


class _RecordingHub(_FakeHub):
    """The fake Hub, remembering the Authorization header of every request."""

    seen: ClassVar[list[str | None]] = []

    def do_GET(self):
        type(self).seen.append(self.headers.get("Authorization"))
        super().do_GET()


@pytest.fixture
def recording_hub(text_model, tmp_path, monkeypatch):
    folder = model_copy(text_model.folder, tmp_path / "served", card([{**SENTIMENT, "value": 0.99}],
                                                                      pipeline_tag="text-classification"))  # fmt: skip
    _RecordingHub.folder = folder
    _RecordingHub.requested = []
    _RecordingHub.seen = []
    with handler_server(_RecordingHub) as endpoint:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
        yield endpoint


def test_the_users_token_goes_only_to_the_endpoint_it_belongs_to(recording_hub, sentiment_test, tmp_path,  # noqa: F811
                                                                 monkeypatch):  # fmt: skip
    monkeypatch.setenv("HF_TOKEN", "hf_env_secret")
    monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")
    options = VerifyOptions(dataset=str(sentiment_test), dataset_name="sentiment", endpoint=recording_hub,
                            cache_dir=tmp_path / "cache-1")  # fmt: skip
    result = verify_model("acme/tiny", options)
    assert result.model_source == "hub" and _RecordingHub.seen and set(_RecordingHub.seen) == {None}
    assert any("not sending your Hugging Face token" in note for note in result.notes)

    _RecordingHub.seen = []
    monkeypatch.setenv("HF_ENDPOINT", recording_hub)  # the endpoint the token belongs to
    verify_model("acme/tiny", VerifyOptions(**{**options.__dict__, "cache_dir": tmp_path / "cache-2"}))
    assert set(_RecordingHub.seen) == {"Bearer hf_env_secret"}


@pytest.mark.parametrize("endpoint", ["http://nonexistent.invalid", "http://127.0.0.1:9"])
def test_verify_without_a_reachable_hub_fails_within_10_s_with_one_line(tmp_path, endpoint):
    data = tmp_path / "test.csv"
    data.write_text("text,label\ngood,1\nbad,0\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    command = [sys.executable, "-m", "ptmscope", "verify", "acme/tiny", "--dataset", str(data), "--endpoint",
               endpoint, "--no-store", "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert time.monotonic() - started < 10
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"Error: cannot reach {endpoint}"), done.stderr


class _ThrottlingHub(_FakeHub):
    """Lists the model, then answers every file with 429 and a Retry-After of three years."""

    def do_GET(self):
        path = self.path.split("?")[0]
        if "/resolve/" in path:
            type(self).requested.append(path)
            self._send(429, b"slow down", {"Retry-After": "99999999", "RateLimit": '"api";r=0;t=99999999'})
        else:
            super().do_GET()


def test_a_retry_after_of_years_is_capped_in_huggingface_hubs_downloads(text_model, sentiment_test, tmp_path,  # noqa: F811
                                                                         monkeypatch):  # fmt: skip
    """Before: huggingface_hub slept what the server said (three years), with no timeout either."""
    import threading

    import ptmscope.verify.model as model

    monkeypatch.setattr(model, "HUB_MAX_PAUSE", 1)  # 60 s in use; huggingface_hub retries 5 times
    served_card = card([{**SENTIMENT, "value": 0.99}], pipeline_tag="text-classification")
    _ThrottlingHub.folder = model_copy(text_model.folder, tmp_path / "served", served_card)
    _ThrottlingHub.requested = []
    outcome: list[object] = []
    with handler_server(_ThrottlingHub) as endpoint:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
        options = VerifyOptions(dataset=str(sentiment_test), dataset_name="sentiment", endpoint=endpoint,
                                cache_dir=tmp_path / "cache")  # fmt: skip

        def run() -> None:
            try:
                outcome.append(verify_model("acme/tiny", options))
            except Exception as error:  # what the CLI turns into one line and exit 2
                outcome.append(error)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(timeout=120)
    assert not worker.is_alive(), "verify still sleeping on the server's Retry-After"
    assert len(_ThrottlingHub.requested) >= 2  # it did retry, after capped pauses
    from ptmscope.errors import PtmscopeError

    assert outcome and isinstance(outcome[0], PtmscopeError)  # one line and exit 2 in the CLI
