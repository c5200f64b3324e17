"""The issue's round trip: a real dump with organizations and signed repos, served, crawled and cloned back.

Source: 200 real models of the Feb-2022 Hub (bundled sample) and their cards, imported with
their bytes; organizations (verified and not) added; six bare repos made here with real
OpenPGP- and SSH-signed commits and unsigned ones. ``serve-hub`` serves it; ``crawl`` and
``clone`` read it back into another store; the snapshots must be equal on every crawled field,
also with faults on, also when the crawler is SIGKILLed several times, also on Dask.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ptmscope.clone.pipeline import CloneOptions, clone_snapshot
from ptmscope.clone.units import repo_path
from ptmscope.crawl import CrawlOptions, crawl
from ptmscope.hub.ratelimit import Budget
from ptmscope.importer import import_paths
from ptmscope.records import OrgRecord
from ptmscope.sample import sample_paths
from ptmscope.store import Store
from ptmscope.store.writer import SnapshotWriter
from ptmscope.studies.run import run_study
from tests.crawl.test_crawl import CRAWLED
from tests.gitrepos import make_bare_repo, make_signers
from tests.replay import FAST_BUDGETS, faults, online, running_hub, table  # noqa: F401 - online is a fixture

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("online")]

FAST = CrawlOptions(backoff_base=0.01, concurrency=8, budgets=FAST_BUDGETS)
EXTRA = ["SpanBERT/spanbert-large-cased", "Jtisch7/bertFinancialSent", "osanseviero/test_tag",
         "facebook/wav2vec2-base-960h", "dslim/bert-base-NER", "Helsinki-NLP/opus-mt-zh-en",
         # a real id longer than huggingface_hub's 96-character rule of today
         "diegor2/t5-tiny-random-length-128-learning_rate-2e-05-weight_decay-0.01-finetuned-en-to-ro"
         "-TRAIN_EPOCHS-1"]  # fmt: skip
REPOS = {  # repo -> how each commit is signed, oldest first
    "facebook/wav2vec2-base-960h": ["none", "gpg"],
    "dslim/bert-base-NER": ["ssh"],
    "Helsinki-NLP/opus-mt-zh-en": ["none", "none"],
    "SpanBERT/spanbert-large-cased": ["gpg", "ssh", "none"],
    "osanseviero/test_tag": ["none"],
    "007J/smile": ["gpg"],
}
ORGS = [
    OrgRecord("facebook", "Meta AI", None, True, 900, 1200, 40000),
    OrgRecord("SpanBERT", "SpanBERT", None, False, 3, 2, 10),
    OrgRecord("Helsinki-NLP", "Language Technology Research Group", None, True, 12, 1400, 600),
    OrgRecord("dslim", None, None, None, None, None, None),
]


def clone_options(**kwargs):
    # A clone is 2-3 requests; with the fault rates (17% of requests) an attempt fails 40% of
    # the time, so 12 retries keep a spurious failure below one in 10,000 per repo.
    return CloneOptions(budget=FAST_BUDGETS["resolvers"], backoff=0.02, max_retries=12, **kwargs)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("roundtrip")
    infos, cards, _ = sample_paths()
    with gzip.open(infos, "rt", encoding="utf-8") as handle:
        lines = [line for i, line in enumerate(handle) if i < 200 or json.loads(line)["modelId"] in EXTRA]
    ids = {json.loads(line)["modelId"] for line in lines}
    assert ids >= set(REPOS)
    with gzip.open(cards, "rt", encoding="utf-8") as handle:
        card_lines = [line for line in handle if json.loads(line)["modelId"] in ids]
    (root / "infos.jsonl").write_text("".join(lines), encoding="utf-8")
    (root / "cards.jsonl").write_text("".join(card_lines), encoding="utf-8")
    signers = make_signers(root / "keys")
    expected = {}
    for index, (repo_id, kinds) in enumerate(REPOS.items()):
        target = repo_path(root / "source-repos", repo_id)
        expected[repo_id] = make_bare_repo(target, signers, kinds, work=root / "work" / str(index))
    db = root / "source.duckdb"
    with Store(db) as store:
        snap = import_paths(store, [root / "infos.jsonl", root / "cards.jsonl"], "source", keep_files=True).snapshot
        writer = SnapshotWriter(store, snap)
        for org in ORGS:
            writer.add_org(org, "test", org.name)
        writer.flush()
        clone_snapshot(store, snap, root / "source-repos", endpoint=None,
                       options=CloneOptions(existing_only=True, workers=1))  # fmt: skip
    return {"root": root, "db": db, "expected": expected, "models": len(ids)}


def dump_inconsistencies(db):
    """Models whose own file list has no README.md but whose card the 2022 card dump holds (scraped at
    another time). A crawl reads the card at the listed sha, where there is none: these cards cannot
    come back, so the comparison leaves their card rows out on both sides."""
    with Store(db, read_only=True) as store:
        found = store.query(
            "SELECT m.repo_id FROM models m JOIN cards c USING (snapshot_id, repo_id)"
            " WHERE m.snapshot_id = 1 AND m.has_readme = false AND c.status <> 'missing'"
        )
    return {r[0] for r in found}


def rows(db, name, skip_cards=frozenset()):
    """Everything a crawl + clone reproduces, table by table."""
    with Store(db, read_only=True) as store:
        sid = store.snapshot(name).snapshot_id
        out = {t: table(store, sid, t, exclude) for t, exclude in CRAWLED.items()}
        out["cards"] = [r for r in table(store, sid, "cards", ("source_file",)) if r[1] != "missing"]
        for key in ("card_results", "card_evidence", "model_indexes"):
            out[key] = table(store, sid, key)
        # Where each table says a row came from; a card's own rows have source 'card' (front matter) or 'text'.
        source_at = {"model_datasets": 2, "model_licenses": 2, "base_models": 3, "model_links": 3, "claims": 1,
                     "model_indexes": 1}  # fmt: skip
        for key in ("cards", "card_sections", "repo_files", "card_results", "card_evidence", *source_at):
            out[key] = [
                r for r in out[key]
                if r[0] not in skip_cards or (key in source_at and r[source_at[key]] not in ("card", "text"))
            ]  # fmt: skip
        out["organizations"] = table(store, sid, "organizations", ("source_file",))
        out["repo_clones"] = table(store, sid, "repo_clones", ("path", "reason", "attempts", "seconds", "cloned_at"))
        out["repo_clones"] = [r for r in out["repo_clones"] if r[1] == "ok"]
        out["commits"] = table(store, sid, "commits")
        return out


def crawl_and_clone(hub, db, dest, name, options=FAST, workers=2):
    with Store(db) as store:
        report = crawl(store, hub.url, name, options)
        snap = store.snapshot(name)
        clone_snapshot(store, snap, dest, endpoint=hub.url, options=clone_options(workers=workers))
    return report


@pytest.fixture(scope="module")
def clean(source, tmp_path_factory):
    import huggingface_hub.constants

    old, huggingface_hub.constants.HF_HUB_OFFLINE = huggingface_hub.constants.HF_HUB_OFFLINE, False
    try:
        root = tmp_path_factory.mktemp("clean")
        with running_hub(source["db"], "source") as hub:
            report = crawl_and_clone(hub, root / "out.duckdb", root / "repos", "clean")
    finally:
        huggingface_hub.constants.HF_HUB_OFFLINE = old
    return {"db": root / "out.duckdb", "report": report}


def test_round_trip_equals_the_source(source, clean):
    skip = dump_inconsistencies(source["db"])
    assert len(skip) <= 3, skip  # AKulk/wav2vec2-base-timit-epochs15 in this sample
    got, want = rows(clean["db"], "clean", skip), rows(source["db"], "source", skip)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == want[name], name
    assert len(got["models"]) == source["models"] and len(got["commits"]) == 10
    for repo_id, expected in source["expected"].items():  # (signature, key id) per commit, as git made them
        assert sorted(expected, key=str) == sorted(((r[7], r[8]) for r in got["commits"] if r[0] == repo_id), key=str)
    with Store(clean["db"], read_only=True) as store:
        # READMEs the file list names but the dump never had are stored failures (404), nothing else failed.
        failures = store.query("SELECT stage, http_status, retryable, count(*) FROM crawl_failures GROUP BY ALL")
        assert {f[0] for f in failures} <= {"card", "org"} and all(not f[2] for f in failures)
        study = run_study(store, store.snapshot("clean")).data
    with Store(source["db"], read_only=True) as store:
        listed_unserved = store.query(
            "SELECT count(*) FROM models m WHERE snapshot_id = 1 AND has_readme AND NOT EXISTS"
            " (SELECT 1 FROM cards c WHERE c.snapshot_id = 1 AND c.repo_id = m.repo_id)"
        )[0][0]
    assert sum(f[3] for f in failures if f[0] == "card") == listed_unserved
    signing = study["measurements"]["signing"]
    assert signing["repos_read"] == 6 and signing["repos_with_signed_commits"] == 4
    assert signing["commits"] == 10 and signing["signed_commits"] == 5
    assert signing["by_kind"] == {"openpgp": {"commits": 3, "repos": 3}, "ssh": {"commits": 2, "repos": 2}}
    assert signing["verified_orgs_with_signed_repos"] == 1  # facebook; SpanBERT is not verified
    row = next(r for r in study["table_iv"] if r["factor"] == "GPG commit signing")
    assert row["measured"] and row["numbers"]["repos_with_signed_commits"] == 4
    orgs = next(r for r in study["table_iv"] if r["factor"] == "Organization verification")
    assert orgs["measured"] and orgs["numbers"] == {"verified": 2, "organizations": 3}


def test_round_trip_with_faults_loses_nothing(source, clean, tmp_path):
    plan = faults("429=0.1,500=0.05,slow=0.05,drop=0.02,badjson=0.01", seed=7)
    with running_hub(source["db"], "source", faults=plan) as hub:
        report = crawl_and_clone(hub, tmp_path / "out.duckdb", tmp_path / "repos", "faulty")
    assert report.snapshot.status == "complete" and sum(plan.injected.values()) > 50
    assert rows(tmp_path / "out.duckdb", "faulty") == rows(clean["db"], "clean")
    with Store(tmp_path / "out.duckdb", read_only=True) as store:
        assert store.query("SELECT count(*) FROM crawl_failures WHERE retryable")[0][0] == 0
        assert store.query("SELECT count(*) FROM import_errors")[0][0] == 0


def test_sigkill_several_times_then_resume_equals_clean(source, clean, tmp_path):
    db = tmp_path / "killed.duckdb"
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "PTMSCOPE_DB": str(db)}
    slow = {"api": Budget("api", 20, 1), "resolvers": Budget("resolvers", 60, 1)}
    with running_hub(source["db"], "source", rate_limits=slow) as hub:
        command = [sys.executable, "-m", "ptmscope", "crawl", "--endpoint", hub.url, "--snapshot", "killed",
                   "--page-size", "25", "--json", "--rate-limit", "api=20/1,resolvers=60/1"]  # fmt: skip
        kills = 0
        for delay in (2.0, 3.0, 4.0, 5.0):
            process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(delay)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.communicate(timeout=60)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert kills >= 3
        with Store(db) as store:
            clone_snapshot(store, store.snapshot("killed"), tmp_path / "repos", endpoint=hub.url,
                           options=clone_options(workers=1))  # fmt: skip
    summary = json.loads(done.stdout)
    assert summary["status"] == "complete" and summary["resumed"]
    assert rows(db, "killed") == rows(clean["db"], "clean")
    with Store(db, read_only=True) as store:
        assert store.query("SELECT count(*), count(DISTINCT repo_id) FROM models")[0] == (source["models"],) * 2
        assert store.query("SELECT count(*) FROM import_errors")[0][0] == 0


def test_incremental_recrawl_fetches_only_changed_cards(source, clean, tmp_path):
    import shutil

    db = tmp_path / "again.duckdb"
    shutil.copy(clean["db"], db)
    with running_hub(source["db"], "source") as hub, Store(db) as store:
        # The hub runs on another port now, so the base is named (a crawl of the same endpoint is found alone).
        report = crawl(store, hub.url, "again", CrawlOptions(**{**FAST.__dict__, "base": "clean"}))
        first = clean["report"]
        assert report.base == "clean" and report.cards_copied == first.cards_fetched + first.cards_missing
        assert report.cards_fetched == 0
        # Only the READMEs that 404ed last time are asked again (their failure is not copied).
        assert report.requests["resolvers"]["requests"] == sum(
            1 for _ in store.query("SELECT 1 FROM crawl_failures WHERE snapshot_id = 1 AND stage = 'card'")
        )
    again, first = rows(db, "again"), rows(clean["db"], "clean")
    for name in CRAWLED:
        assert again[name] == first[name], name
    assert again["cards"] == first["cards"]


def test_clone_on_a_dask_localcluster_gives_the_local_pool_rows(source, clean, tmp_path):
    from distributed import Client, LocalCluster

    db = tmp_path / "dask.duckdb"
    with running_hub(source["db"], "source") as hub:
        with Store(db) as store:
            crawl(store, hub.url, "dask", CrawlOptions(**{**FAST.__dict__, "cards": False, "orgs": False}))
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                         host="127.0.0.1") as cluster,
            Client(cluster) as client,
            Store(db) as store,
        ):  # fmt: skip
            report = clone_snapshot(store, store.snapshot("dask"), tmp_path / "repos", endpoint=hub.url,
                                    options=clone_options(executor="dask", scheduler=client, timeout=60,
                                                          stall_timeout=150))  # fmt: skip
    assert report.cloned == 6
    got, want = rows(db, "dask"), rows(clean["db"], "clean")
    assert got["repo_clones"] == want["repo_clones"] and got["commits"] == want["commits"]


def test_huggingface_hub_reads_commits_and_organizations_from_the_replay(source):
    from huggingface_hub import HfApi

    with running_hub(source["db"], "source") as hub:
        api = HfApi(endpoint=hub.url, token=False)
        commits = api.list_repo_commits("SpanBERT/spanbert-large-cased")
        assert [c.title for c in commits] == [f"commit {i} <script>alert(1)</script>" for i in (2, 1, 0)]
        assert api.get_organization_overview("facebook").is_verified is True
        assert api.get_organization_overview("SpanBERT").is_verified is False
