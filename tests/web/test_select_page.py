"""/select and /api/select against ``ptmscope select --json --explain`` itself, on the bundled Feb-2022 snapshot.

The CLI runs on a private copy of the store (it opens its store for writing); the server reads the shared one.
Both hold the same snapshot and audit run, so the shortlist, the counts and the exclusions must be the CLI's, the
page's exclusions being the first ``EXCLUDED_PER_RULE`` of each rule in the CLI's order.
"""

from __future__ import annotations

import html
import json
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner

from ptmscope.checks.model import ATTRIBUTES
from ptmscope.cli.main import cli, main
from ptmscope.web.select_page import EXCLUDED_PER_RULE
from tests.conftest import copy_of

from .conftest import FEB

_OPTIONS = {"task": "--task", "license": "--license", "format": "--format", "framework": "--framework",
            "language": "--language", "dataset": "--dataset", "claim": "--claim", "min_claim": "--min-claim",
            "max_params": "--max-params", "top": "--top"}  # fmt: skip
_FLAGS = {"exclude_unsafe": "--exclude-unsafe", "verified_owner": "--verified-owner"}


@pytest.fixture(scope="module")
def cli_db(feb2022_pristine, tmp_path_factory):
    return copy_of(feb2022_pristine, tmp_path_factory, "select-page-cli")


def cli_args(params: list[tuple[str, str]]) -> list[str]:
    """``ptmscope select`` options for the web form's parameters."""
    args = []
    for key, value in params:
        if key in _OPTIONS:
            args += [_OPTIONS[key], value]
        elif key in _FLAGS:
            args.append(_FLAGS[key])
        elif key.startswith("min_") and key[4:] in ATTRIBUTES:
            args += ["--min-score", f"{key[4:]}={value}"]
        else:
            raise AssertionError(f"no CLI option for {key}")
    return args


def cli_select(db, params: list[tuple[str, str]]) -> dict:
    result = CliRunner().invoke(cli, ["select", "--db", str(db), "--snapshot", FEB, "--json", "--explain",
                                      *cli_args(params)])  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def web_select(client, params: list[tuple[str, str]]) -> dict:
    response = client.get("/api/select?" + urlencode(params))
    assert response.status_code == 200, response.text
    return response.json()["selection"]


def first_of_each_rule(excluded: list[dict], limit: int) -> list[dict]:
    seen: dict[str, int] = {}
    kept = []
    for item in excluded:
        seen[item["rule"]] = seen.get(item["rule"], 0) + 1
        if seen[item["rule"]] <= limit:
            kept.append(item)
    return kept


def assert_same_selection(web: dict, cli_doc: dict) -> None:
    for key in ("schema", "audit_run", "requirements", "candidates", "eligible", "excluded_by_rule", "shortlist"):
        assert web[key] == cli_doc[key], key
    assert web["snapshot"]["name"] == cli_doc["snapshot"]["name"] == FEB
    assert web["excluded_per_rule"] == EXCLUDED_PER_RULE
    assert web["excluded"] == first_of_each_rule(cli_doc["excluded"], EXCLUDED_PER_RULE)


CASES = [
    [("task", "token-classification"), ("license", "permissive"), ("framework", "tf"), ("language", "en")],
    [("framework", "pytorch"), ("language", "de"), ("language", "fr"), ("dataset", "wikipedia"), ("top", "20")],
    [("task", "text-classification"), ("dataset", "glue"), ("format", "pytorch"), ("min_security", "5"),
     ("claim", "glue:accuracy"), ("min_claim", "0.8")],
]  # fmt: skip


@pytest.mark.parametrize("params", CASES, ids=["ner-tf-en", "broad-pytorch-de-fr", "glue-claim"])
def test_shortlist_and_exclusions_are_select_json(feb_client, cli_db, params):
    web = web_select(feb_client, params)
    cli_doc = cli_select(cli_db, params)
    assert_same_selection(web, cli_doc)
    assert web["excluded_by_rule"] and web["shortlist"]
    # the page: the count, each rule's group with its count, each listed model with its reason
    page = feb_client.get("/select?" + urlencode(params)).text
    assert f'<strong id="eligible">{web["eligible"]:,}</strong>' in page
    for rule, n in web["excluded_by_rule"].items():
        assert f'data-rule="{rule}"' in page and f'<strong>{rule}</strong> <span class="n">{n:,}</span>' in page
    for item in web["excluded"][:20]:
        assert f'href="/models/{item["repo_id"]}"' in page


def test_a_broad_query_lists_a_bounded_number_of_exclusions(feb_client, cli_db):
    params = [("framework", "pytorch"), ("language", "de"), ("language", "fr"), ("dataset", "wikipedia")]
    web = web_select(feb_client, params)
    assert web["candidates"] == 29_432  # no task: every model is a candidate
    big = {rule: n for rule, n in web["excluded_by_rule"].items() if n > EXCLUDED_PER_RULE}
    assert big, web["excluded_by_rule"]
    listed = {rule: sum(1 for e in web["excluded"] if e["rule"] == rule) for rule in web["excluded_by_rule"]}
    assert listed == {rule: min(n, EXCLUDED_PER_RULE) for rule, n in web["excluded_by_rule"].items()}
    page = feb_client.get("/select?" + urlencode(params)).text
    for rule, n in big.items():
        assert f"… and {n - EXCLUDED_PER_RULE:,} more excluded by {rule}." in page


def test_framework_language_and_dataset_narrow_as_the_cli_does(feb_client, cli_db):
    task = [("task", "token-classification")]
    steps = [task, [*task, ("framework", "tf")], [*task, ("framework", "tf"), ("language", "en")],
             [*task, ("framework", "tf"), ("language", "en"), ("dataset", "conll2003")]]  # fmt: skip
    eligible = []
    for params in steps:
        web, cli_doc = web_select(feb_client, params), cli_select(cli_db, params)
        assert (web["eligible"], web["excluded_by_rule"]) == (cli_doc["eligible"], cli_doc["excluded_by_rule"])
        assert [c["repo_id"] for c in web["shortlist"]] == [c["repo_id"] for c in cli_doc["shortlist"]]
        eligible.append(web["eligible"])
    assert eligible[0] > eligible[1] > eligible[2] > eligible[3] > 0, eligible
    # several values of one requirement: any one of them
    de, fr = (web_select(feb_client, [*task, ("language", lang)])["eligible"] for lang in ("de", "fr"))
    both = web_select(feb_client, [*task, ("language", "de"), ("language", "fr")])
    assert max(de, fr) <= both["eligible"] <= de + fr and both["requirements"]["languages"] == ["de", "fr"]
    assert both["eligible"] == cli_select(cli_db, [*task, ("language", "de"), ("language", "fr")])["eligible"]
    # aliases as the CLI reads them: tensorflow is tf, the dataset's short name matches its namespaced id
    tensorflow = web_select(feb_client, [*task, ("framework", "tensorflow")])
    assert tensorflow["eligible"] == web_select(feb_client, steps[1])["eligible"]


def test_the_form_offers_the_snapshots_common_values(feb_client):
    doc = feb_client.get("/api/select").json()
    choices = doc["choices"]
    assert [c["value"] for c in choices["framework"][:3]] == ["pytorch", "jax", "tf"]
    assert "keras" not in {c["value"] for c in choices["framework"]}  # select reads it as tf
    assert choices["language"][0]["value"] == "en" and {"de", "fr", "zh"} <= {c["value"] for c in choices["language"]}
    assert {"wikipedia", "conll2003", "glue"} <= {c["value"] for c in choices["dataset"]}
    for values in choices.values():
        counts = [c["models"] for c in values]
        assert counts == sorted(counts, reverse=True) and 0 < len(values) <= 50
    page = feb_client.get("/select?framework=tf&language=en&language=de").text
    for key in ("framework", "language", "dataset"):
        assert f'<datalist id="{key}-values">' in page
    assert page.count('<input name="language"') == 3  # the two given, one empty for another
    assert 'name="language" value="de"' in page and 'name="framework" value="tf"' in page
    assert '<option value="conll2003">' in page


@pytest.mark.parametrize(
    "params",
    [[("format", "exe")], [("min_security", "11")], [("min_documentation", "-1")], [("max_params", "-5")],
     [("task", "fill-mask"), ("framework", "tf"), ("format", "pickle")]],
)  # fmt: skip
def test_a_bad_value_is_the_clis_error_message(feb_client, params, capsys):
    response = feb_client.get("/api/select?" + urlencode(params))
    with pytest.raises(SystemExit) as exited:
        main(["select", "--db", "/nonexistent/never-opened.duckdb", *cli_args(params)])
    assert exited.value.code == 2
    printed = capsys.readouterr().err.splitlines()[0]
    assert response.status_code == 400 and printed == f"Error: {response.json()['error']}", printed
    page = feb_client.get("/select?" + urlencode(params))
    assert page.status_code == 400 and response.json()["error"] in html.unescape(page.text)


def test_min_claim_needs_a_claim(feb_client):
    response = feb_client.get("/api/select?min_claim=0.9")
    assert response.status_code == 400 and response.json()["error"] == "min_claim needs claim"
