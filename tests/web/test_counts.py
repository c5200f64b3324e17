"""Facet counts are the counts the CLI and plain SQL give, on the bundled Feb-2022 Hub."""

from __future__ import annotations

import json

import duckdb
from click.testing import CliRunner

from ptmscope.checks.licenses import catalogue
from ptmscope.cli.main import cli
from ptmscope.store.derived import is_format_sql


def _sql(db, sql, params=()):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _counts(client, facet, url="/api/models"):
    doc = client.get(url).json()
    return doc["total"], {v["value"]: v["count"] for v in doc["facets"][facet]["values"]}


def test_task_and_library_counts_equal_sql(feb_client, feb_db, feb_explorer):
    sid = feb_explorer.snapshot.snapshot_id
    total, tasks = _counts(feb_client, "task")
    assert total == 29_432
    by_task = dict(_sql(feb_db, "SELECT coalesce(pipeline_tag, 'none'), count(*) FROM models WHERE snapshot_id = ?"
                                " GROUP BY 1", [sid]))  # fmt: skip
    assert tasks == dict(sorted(by_task.items(), key=lambda kv: -kv[1])[:12])
    assert dict(feb_explorer.index.counts("task")) == by_task  # every value, not only the top 12
    libraries = dict(_sql(feb_db, "SELECT coalesce(library_name, 'none'), count(*) FROM models WHERE snapshot_id = ?"
                                  " GROUP BY 1", [sid]))  # fmt: skip
    assert dict(feb_explorer.index.counts("library")) == libraries


def test_counts_equal_what_ptmscope_study_prints(feb_client, feb_db, feb_explorer, tmp_path):
    db = tmp_path / "copy.duckdb"
    db.write_bytes(feb_db.read_bytes())
    result = CliRunner().invoke(cli, ["study", "--db", str(db), "--snapshot", "hub-2022-02", "--json"])
    assert result.exit_code == 0, result.output
    study = json.loads(result.stdout)
    ms = study["measurements"]
    index = feb_explorer.index
    formats = dict(index.counts("format"))
    for name, count in ms["weight_formats"]["any"].items():
        assert formats.get(name, 0) == count, name
    assert formats["none"] == ms["weight_formats"]["exclusive"]["no_weight_files"]
    licenses = dict(index.counts("license"))
    assert {k: licenses[k] for k in ms["licenses"]["counts"]} == ms["licenses"]["counts"]
    assert licenses["none"] == ms["licenses"]["none"]
    datasets = dict(index.counts("dataset"))
    assert {k: datasets[k] for k in ms["datasets"]["counts"]} == ms["datasets"]["counts"]
    architectures = dict(index.counts("architecture"))
    assert {k: architectures[k] for k in ms["architectures"]["counts"]} == ms["architectures"]["counts"]
    # Fig. 7: a task's models with claims, through the URL its bar links to
    for task, row in study["claims_by_task"].items():
        tasks = ms["claims"]["folded"] if task == "other" else [task]
        query = "&".join(f"task={t}" for t in tasks)
        assert feb_client.get(f"/api/models?{query}&claims=yes").json()["total"] == row["with_claims"], task
        assert feb_client.get(f"/api/models?{query}").json()["total"] == row["total"], task


def test_a_facet_click_gives_the_sql_count_within_a_search(feb_client, feb_db, feb_explorer):
    sid = feb_explorer.snapshot.snapshot_id
    _total, formats = _counts(feb_client, "format", "/api/models?q=bert&task=fill-mask")
    expected = _sql(
        feb_db,
        f"SELECT count(DISTINCT m.repo_id) FROM models m JOIN model_files f USING (snapshot_id, repo_id)"
        f" WHERE m.snapshot_id = ? AND contains(lower(m.repo_id), 'bert') AND m.pipeline_tag = 'fill-mask'"
        f" AND {is_format_sql('lower(f.path)', 'tensorflow')}",
        [sid],
    )[0][0]
    assert formats["tensorflow"] == expected
    clicked = feb_client.get("/api/models?q=bert&task=fill-mask&format=tensorflow").json()
    assert clicked["total"] == expected


def test_licence_classes_flags_and_select_candidates_equal_sql(feb_client, feb_db, feb_explorer):
    sid = feb_explorer.snapshot.snapshot_id
    classes = dict(feb_explorer.index.counts("license_class"))
    for kind in ("permissive", "copyleft", "non-commercial"):
        ids = [i for i, entry in catalogue().items() if entry["kind"] == kind]
        expected = _sql(
            feb_db,
            "SELECT count(DISTINCT repo_id) FROM model_licenses WHERE snapshot_id = ? AND trim(license) <> ''"
            " AND list_contains(?, split_part(lower(trim(license)), ':', 1))",
            [sid, ids],
        )[0][0]
        assert classes.get(kind, 0) == expected, kind
    doc = feb_client.get("/api/select?task=text-classification").json()["selection"]
    assert doc["candidates"] == dict(feb_explorer.index.counts("task"))["text-classification"]  # select's own count
    hub = "json_array_length(json_extract(security_status, '$.filesWithIssues')) > 0"
    flagged = _sql(feb_db, f"SELECT count(*) FROM models WHERE snapshot_id = ? AND {hub}", [sid])[0][0]
    assert dict(feb_explorer.index.counts("flagged")).get("hub", 0) == flagged
