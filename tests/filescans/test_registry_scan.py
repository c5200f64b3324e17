"""``scan --snapshot``: a replay hub's repos scanned over HTTP ranges give the verdicts of a full local scan."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ptmscope.audits.stored_scan import report_for_files
from ptmscope.filescans.pipeline import FileScanOptions, scan_snapshot
from ptmscope.hub.ratelimit import Budget
from ptmscope.store import Store
from tests.filescans.conftest import Registry
from tests.replay import faults, running_hub

pytestmark = pytest.mark.usefixtures("online")

FAST = Budget("resolvers", 100_000, 10)


def stored(db: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(repo, path) -> (format, verdict, rules, size, oid) of the stored file scans."""
    with Store(db, read_only=True) as store:
        rows = store.query("SELECT repo_id, path, format, verdict, rules, size, oid FROM file_scans")
    return {(r[0], r[1]): (r[2] or "", r[3], tuple(r[4] or ()), r[5], r[6]) for r in rows}


def verdicts(rows: dict[tuple[str, str], tuple[Any, ...]]) -> dict[tuple[str, str], tuple[str, str, tuple[str, ...]]]:
    return {key: (fmt, verdict, rules) for key, (fmt, verdict, rules, _size, _oid) in rows.items()}


def run(db: Path, url: str, **options: Any) -> Any:
    options.setdefault("workers", 2)
    options.setdefault("rate", FAST)
    with Store(db) as store:
        return scan_snapshot(store, store.snapshot("reg"), endpoint=url, options=FileScanOptions(**options))


def test_a_remote_scan_gives_the_verdicts_of_a_full_local_scan_reading_a_sliver(registry: Registry, fresh_db: Path):
    with running_hub(registry.db, "reg", files=registry.files) as hub:
        report = run(fresh_db, hub.url)
    assert report.failed == 0 and report.files_failed == 0
    got = stored(fresh_db)
    assert verdicts(got) == registry.expected
    # the malicious corpus files are flagged, the large benign checkpoints are clean
    assert sum(1 for _fmt, verdict, _rules in registry.expected.values() if verdict == "dangerous") >= 40
    assert got[("big/pytorch-200m", "pytorch_model.bin")][:2] == ("pytorch-zip", "clean")
    assert got[("evil/gguf-ssti", "model.gguf")][1] == "dangerous"
    with Store(fresh_db, read_only=True) as store:
        hub = dict(store.query("SELECT hub_status, count(*) FROM file_scans GROUP BY hub_status"))
    assert hub == {"unsafe": 1, "safe": len(registry.expected) - 1}  # the Hub's own flags, from its security status
    with Store(fresh_db, read_only=True) as store:
        read = dict(store.query("SELECT repo_id || '/' || path, bytes_read FROM file_scans WHERE repo_id LIKE 'big/%'"))
    checkpoint = registry.sizes[("big/pytorch-200m", "pytorch_model.bin")]
    assert read["big/pytorch-200m/pytorch_model.bin"] <= 0.01 * checkpoint
    for name, size in (("big/legacy-bin/pytorch_model.bin", 50 << 20), ("big/safetensors/model.safetensors", 50 << 20)):
        assert read[name] <= 0.01 * size, name
    assert report.totals["repos_ok"] == report.ok == len({repo for repo, _ in registry.sizes})


def test_a_rerun_and_a_new_snapshot_of_the_same_blobs_read_nothing_again(registry: Registry, fresh_db: Path):
    with running_hub(registry.db, "reg", files=registry.files) as hub:
        run(fresh_db, hub.url)
        opened = hub.counts["resolvers"]
        again = run(fresh_db, hub.url)
        assert again.attempted == 0 and hub.counts["resolvers"] == opened
        with Store(fresh_db) as store:
            from ptmscope.importer import import_paths

            import_paths(store, [registry.listing], "reg-later")
            later = scan_snapshot(store, store.snapshot("reg-later"), endpoint=hub.url,
                                  options=FileScanOptions(workers=2, rate=FAST))  # fmt: skip
        assert later.files_scanned == 0 and later.files_reused == len(registry.expected)
        assert hub.counts["resolvers"] == opened and hub.counts["cdn"] > 0
        assert later.totals["files"] == again.totals["files"]


def test_faults_are_retried_what_still_fails_is_stored_and_a_rerun_completes(registry: Registry, fresh_db: Path):
    plan = faults("429=0.08,500=0.08,drop=0.04,slow=0.04", seed=7)
    with running_hub(registry.db, "reg", files=registry.files, faults=plan) as hub:
        first = run(fresh_db, hub.url)
        assert sum(plan.injected.values()) > 10
        with Store(fresh_db, read_only=True) as store:
            errors = store.query("SELECT reason FROM file_scans WHERE verdict = 'error'")
        # three tries per request: few files fail under a 20% fault rate, each with the reason
        assert first.files_failed == len(errors) < len(registry.expected) // 10
        assert all(reason for (reason,) in errors)
        for _ in range(5):
            if not run(fresh_db, hub.url).failed:
                break
    assert verdicts(stored(fresh_db)) == registry.expected


def test_a_dead_hub_fails_repos_with_the_reason_and_a_rerun_finishes_them(registry: Registry, fresh_db: Path):
    with running_hub(registry.db, "reg", files=registry.files, faults=faults("500=1.0")) as hub:
        broken = run(fresh_db, hub.url, limit=3)
    assert broken.failed == 3 and broken.files_failed > 0
    assert all("500" in reason for reason in broken.reasons), broken.reasons
    with running_hub(registry.db, "reg", files=registry.files) as hub:
        fixed = run(fresh_db, hub.url)
    assert fixed.failed == 0 and verdicts(stored(fresh_db)) == registry.expected
    with Store(fresh_db, read_only=True) as store:
        assert store.query("SELECT count(*) FROM file_scans WHERE verdict = 'error'")[0][0] == 0


def test_the_byte_budget_makes_a_file_unparseable_never_clean(registry: Registry, fresh_db: Path):
    with running_hub(registry.db, "reg", files=registry.files) as hub:
        run(fresh_db, hub.url, budget_bytes=4096)
    got = stored(fresh_db)
    big = got[("corpus/modelaudit", "tests/assets/samples/pickles/safe_large_model.pkl")]
    assert big[1] == "unparseable" and "remote-budget-exceeded" in big[2]
    assert all(v[1] != "clean" for k, v in got.items() if registry.sizes[k] > 64 << 10 and k[0] != "big/safetensors"
               and not k[1].endswith((".gguf", ".safetensors")))  # fmt: skip


def _cli(registry: Registry, db: Path, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ptmscope", "scan", "--snapshot", "reg", "--db", str(db), "--endpoint", url,
            "--format", "json", "--workers", "2", *extra]  # fmt: skip


@pytest.mark.slow
def test_sigkill_mid_run_then_a_rerun_equals_a_clean_run(registry: Registry, fresh_db: Path, tmp_path: Path):
    clean = tmp_path / "clean.duckdb"
    shutil.copyfile(registry.db, clean)
    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    with running_hub(registry.db, "reg", files=registry.files) as hub:
        run(clean, hub.url)
        kills = 0
        for delay in (1.5, 2.5, 3.5):
            # 40 file opens a second: the run takes several seconds, so each kill lands mid-run
            process = subprocess.Popen([*_cli(registry, fresh_db, hub.url), "--rate-limit", "resolvers=40/1"], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
            time.sleep(delay)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.communicate(timeout=60)
        done = subprocess.run(_cli(registry, fresh_db, hub.url), env=env, capture_output=True, text=True, timeout=300)
    assert kills >= 2
    assert done.returncode == 1, done.stderr  # the corpus holds malicious files
    document = json.loads(done.stdout)
    assert document["totals"]["repos_failed"] == 0
    assert verdicts(stored(fresh_db)) == verdicts(stored(clean)) == registry.expected
    with Store(fresh_db, read_only=True) as store:
        assert (
            store.query("SELECT count(*), count(DISTINCT repo_id) FROM file_scan_repos")[0]
            == (len({repo for repo, _ in registry.sizes}),) * 2
        )


@pytest.mark.slow
def test_a_dask_localcluster_with_two_workers_stores_identical_results(registry: Registry, fresh_db: Path,
                                                                       tmp_path: Path):  # fmt: skip
    from distributed import Client, LocalCluster

    local = tmp_path / "local.duckdb"
    shutil.copyfile(registry.db, local)
    with running_hub(registry.db, "reg", files=registry.files) as hub:
        run(local, hub.url)
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                         host="127.0.0.1") as cluster,
            Client(cluster) as client,
        ):  # fmt: skip
            report = run(fresh_db, hub.url, executor="dask", scheduler=client, stall_timeout=120)
    assert report.failed == 0
    assert stored(fresh_db) == stored(local)


def test_cli_json_exit_codes_and_the_study_row(registry: Registry, fresh_db: Path):
    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    with running_hub(registry.db, "reg", files=registry.files) as hub:
        done = subprocess.run(_cli(registry, fresh_db, hub.url, "--limit", "2"), env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    document = json.loads(done.stdout)
    assert document["run"]["repos"] == 2 and document["run"]["repos_failed"] == 0
    study = subprocess.run([sys.executable, "-m", "ptmscope", "study", "--snapshot", "reg", "--db", str(fresh_db),
                            "--json"], env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert study.returncode == 0, study.stderr
    rows = {r["factor"]: r for r in json.loads(study.stdout)["table_iv"]}
    malware = rows["Malware scan"]
    assert malware["measured"] and "ptmscope read" in malware["value"]
    assert malware["numbers"]["ptmscope"]["repos_scanned"] == 2
    assert "models have files the Hub's scanners flagged" in malware["value"]


def test_usage_errors_say_what_to_do(tmp_path: Path):
    both = subprocess.run([sys.executable, "-m", "ptmscope", "scan", "x.bin", "--snapshot", "reg"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert both.returncode == 2 and "not both" in both.stderr
    command = [sys.executable, "-m", "ptmscope", "scan", "--snapshot", "reg", "--format", "sarif",
               "--db", str(tmp_path / "none.duckdb")]  # fmt: skip
    sarif = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert sarif.returncode == 2 and "SARIF" in sarif.stderr
    nothing = subprocess.run([sys.executable, "-m", "ptmscope", "scan"], capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 2 and "--snapshot" in nothing.stderr


def test_select_and_audit_use_the_stored_verdicts(registry: Registry, fresh_db: Path):
    with running_hub(registry.db, "reg", files=registry.files) as hub:
        run(fresh_db, hub.url)
    with Store(fresh_db, read_only=True) as store:
        files = store.query(
            "SELECT path, lfs_sha256 FROM model_files WHERE snapshot_id = 1 AND repo_id = 'evil/gguf-ssti'"
        )
        report = report_for_files(store.con, "evil/gguf-ssti", [(p, o) for p, o in files])
        assert report is not None and report.worst() == "dangerous"
        # one changed blob and the stored verdicts no longer stand for the repo
        assert report_for_files(store.con, "evil/gguf-ssti", [(p, "0" * 64) for p, _ in files]) is None
    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    command = [sys.executable, "-m", "ptmscope", "select", "--snapshot", "reg", "--db", str(fresh_db),
               "--exclude-unsafe", "--explain", "--top", "100", "--json"]  # fmt: skip
    select = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert select.returncode in (0, 1), select.stderr
    document = json.loads(select.stdout)
    excluded = {e["repo_id"]: e["reason"] for e in document["excluded"]}
    assert "ptmscope's scan flagged model.gguf (dangerous" in excluded["evil/gguf-ssti"]
    kept = {c["repo_id"] for c in document["shortlist"]}
    assert {"big/safetensors", "big/pytorch-200m"} <= kept  # pickle inside, but a stored scan vouches for it


def test_repos_without_a_file_list_are_listed_with_the_tree_api(registry: Registry, tmp_path: Path):
    bare = tmp_path / "bare.jsonl"
    repos = ["big/gguf", "evil/gguf-ssti", "corpus/fickling"]
    records = [json.loads(line) for line in registry.listing.read_text().splitlines()]
    bare.write_text("".join(json.dumps({"modelId": r["modelId"], "sha": r["sha"]}) + "\n"
                            for r in records if r["modelId"] in repos))  # fmt: skip
    db = tmp_path / "bare.duckdb"
    from ptmscope.importer import import_paths

    with Store(db) as store:
        import_paths(store, [bare], "reg")
    # the hub serves the full listing (it knows the files); the snapshot being scanned does not
    with running_hub(registry.db, "reg", files=registry.files) as hub:
        report = run(db, hub.url)
        assert hub.counts["api"] >= len(repos)  # one tree listing per repo
    assert report.failed == 0 and report.attempted == len(repos)
    want = {k: v for k, v in registry.expected.items() if k[0] in repos}
    assert verdicts(stored(db)) == want


def _audit(db: Path, url: str, *args: str) -> tuple[dict[str, Any], str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    command = [sys.executable, "-m", "ptmscope", "audit", *args, "--db", str(db), "--endpoint", url, "--json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout), done.stderr


def test_audit_reads_the_stored_verdicts_in_the_snapshot_and_for_a_hub_model(registry: Registry, fresh_db: Path,
                                                                             tmp_path: Path):  # fmt: skip
    with running_hub(registry.db, "reg", files=registry.files) as hub:
        run(fresh_db, hub.url)
        in_snapshot, _ = _audit(fresh_db, hub.url, "evil/gguf-ssti", "--snapshot", "reg")
        outcome = {f["check"]: f for f in in_snapshot["findings"]}["passes_file_scan"]
        assert outcome["outcome"] == "false" and "dangerous" in outcome["evidence"]
        # judged against another snapshot, the model comes from the hub: its blobs' stored verdicts stand in
        # for a download (the hub counts no CDN request for it)
        other = tmp_path / "other.jsonl"
        other.write_text(json.dumps({"modelId": "someone/else", "sha": "0" * 40}) + "\n")
        from ptmscope.importer import import_paths

        with Store(fresh_db) as store:
            import_paths(store, [other], "other")
        cdn = hub.counts["cdn"]
        from_hub, said = _audit(fresh_db, hub.url, "evil/gguf-ssti", "--snapshot", "other", "--scan")
        assert hub.counts["cdn"] == cdn
    outcome = {f["check"]: f for f in from_hub["findings"]}["passes_file_scan"]
    assert outcome["outcome"] == "false" and "dangerous" in outcome["evidence"]
    assert "nothing was downloaded" in said
