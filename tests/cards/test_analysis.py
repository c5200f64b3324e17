"""Model-card analysis on huggingface_hub's own card fixtures and on hostile cards."""

from __future__ import annotations

import time

import pytest

from ptmscope.cards.analysis import MAX_CARD_CHARS, analyze_card, card_facts, load_front_matter_yaml
from ptmscope.cards.model_index import claims_from_model_index
from ptmscope.cards.sections import classify_heading, find_sections
from tests.conftest import DATA

HF_FIXTURES = DATA / "huggingface_hub-card-fixtures"


def fixture(name: str) -> str:
    return (HF_FIXTURES / name).read_text(encoding="utf-8")


def test_simple_model_index_gives_two_valid_claims():
    a = analyze_card(fixture("sample_simple_model_index.md"))
    assert a.status == "ok"
    assert a.facts.model_index == "valid"
    assert a.facts.licenses == ["mit"]
    assert a.facts.datasets == ["beans"]
    assert a.facts.library_name == "timm"
    assert [(c.metric_type, c.value, c.dataset_split) for c in a.facts.claims] == [
        ("accuracy", 0.9, None),
        ("f1", 0.66, "test"),
    ]
    assert a.facts.claims[0].model_name == "my-cool-model"


def test_invalid_model_index_is_recorded_and_its_claims_still_counted():
    a = analyze_card(fixture("sample_invalid_model_index.md"))
    assert a.status == "ok"
    assert a.facts.model_index == "invalid"
    assert "dataset" in (a.facts.model_index_error or "")
    assert len(a.facts.claims) == 1
    assert a.facts.claims[0].value == 0.9 and a.facts.claims[0].dataset_type is None


def test_card_data_that_is_a_list_is_not_a_mapping():
    a = analyze_card(fixture("sample_invalid_card_data.md"))
    assert a.status == "not_a_mapping"
    assert a.facts.claims == []


def test_no_metadata_and_windows_line_breaks():
    assert analyze_card(fixture("sample_no_metadata.md")).status == "no_metadata"
    windows = analyze_card(fixture("sample_windows_line_breaks.md"))
    assert windows.status == "ok"
    assert windows.facts.licenses


def test_unrendered_template_is_a_yaml_error():
    a = analyze_card(fixture("sample_template.md"))
    assert a.status == "yaml_error"
    assert a.error and a.error.startswith("malformed YAML")


@pytest.mark.parametrize(
    ("content", "status"),
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        (b"\x00\x01\x02binary weights", "binary"),
        ("text\x00with NUL", "binary"),
        (b"\xff\xfe" + "not utf-8".encode("utf-16-le") * 40, "no_metadata"),  # UTF-16 is text, read as such
        ("---\nlicense: [unclosed\n---\n# card", "yaml_error"),
        ("---\n- a\n- b\n---\n# card", "not_a_mapping"),
        ("---\n\n---\n# card", "ok"),
        ("# just markdown", "no_metadata"),
        (b"---\nlicense: mit\n---\n\xc3\xa9t\xc3\xa9", "ok"),
    ],
)
def test_statuses(content, status):
    assert analyze_card(content).status == status


def test_yaml_alias_bomb_is_an_error_not_memory_exhaustion():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    bomb = "---\n" + "\n".join(lines) + "\n---\n# boom"
    started = time.perf_counter()
    a = analyze_card(bomb)
    assert a.status == "yaml_error"
    assert "nodes" in (a.error or "")
    assert time.perf_counter() - started < 10  # generous: it is bounded, not benchmarked


def test_deeply_nested_yaml_is_an_error():
    deep = "---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\n"
    assert analyze_card(deep).status == "yaml_error"


def test_huge_card_is_truncated_not_refused():
    card = "---\nlicense: mit\n---\n" + ("word " * (MAX_CARD_CHARS // 4))
    a = analyze_card(card)
    assert a.status == "ok" and a.truncated


def test_yaml_timestamps_and_non_string_keys_become_plain_json():
    data = load_front_matter_yaml("date: 2022-01-20\n1: one\nnan: .nan\n")
    assert data == {"date": "2022-01-20", "1": "one", "nan": None}


def test_claims_read_leniently():
    claims, without_value = claims_from_model_index(
        [
            {
                "name": "m",
                "results": [
                    {
                        "task": "text-classification",
                        "dataset": "imdb",
                        "metrics": {"type": "accuracy", "value": "93.5%"},
                    }
                ],
            },
            {"results": [{"metrics": [{"type": "wer", "value": None}, {"type": "cer", "value": "20.0 ± 1.2"}]}]},
            "garbage",
            {"results": "garbage"},
        ]
    )
    assert [(c.task_type, c.dataset_type, c.metric_type, c.value, c.value_text, c.status) for c in claims] == [
        ("text-classification", "imdb", "accuracy", 93.5, "93.5%", "valid"),
        (None, None, "cer", None, "20.0 ± 1.2", "not_numeric"),
    ]
    assert without_value == 1


def test_empty_model_index_has_no_claims():
    facts = card_facts({"model-index": [{"name": "x", "results": []}]})
    assert facts.model_index == "empty" and facts.claims == []


def test_license_other_uses_license_name():
    assert card_facts({"license": "other", "license_name": "llama2"}).licenses == ["other:llama2"]


def test_sections_placeholders_and_signals():
    card = """---
license: apache-2.0
---
# My model

## Model description
More information needed

## Intended uses & limitations
[More Information Needed]

## Training procedure

### Training hyperparameters
- learning_rate: 2e-05
- train_batch_size: 16
- num_epochs: 3

### Training results
| Epoch | Validation Loss | Accuracy |
|:-----:|:---------------:|:--------:|
| 1     | 0.31            | 0.91     |

## How to use
```python
# Load the model  (a comment, not a heading)
from transformers import pipeline
```

Trained on 8 A100 GPUs. See https://github.com/huggingface/transformers.git and arXiv:1810.04805.
"""
    a = analyze_card(card)
    sections = {s.section: s for s in a.sections}
    assert not sections["description"].filled
    assert not sections["intended_use"].filled
    assert sections["training"].filled and sections["hyperparameters"].filled
    assert sections["evaluation"].filled  # "Training results" is an evaluation heading
    assert sections["get_started"].filled
    assert a.placeholders == 2
    assert a.mentions_hyperparameters and a.mentions_hardware
    assert a.has_usage_code
    assert not a.has_results_table  # a per-epoch training log is not a results table
    assert ("github", "huggingface/transformers", "library") in a.links
    assert ("arxiv", "1810.04805", "cited") in a.links
    assert {f.name: f.value for f in a.body.of("hyperparameter")} == {
        "learning_rate": "2e-05", "train_batch_size": "16", "num_epochs": "3"
    }  # fmt: skip
    assert [f.name for f in a.body.of("hardware")] == ["8 A100 GPUs"]


@pytest.mark.parametrize(
    ("heading", "section"),
    [
        ("Training hyperparameters", "hyperparameters"),
        ("Training procedure", "training"),
        ("Training and evaluation data", "training_data"),
        ("Bias, Risks, and Limitations", "limitations"),
        ("How to Get Started with the Model", "get_started"),
        ("Environmental Impact", "hardware"),
        ("Framework versions", "environment"),
        ("BibTeX entry and citation info", "citation"),
        ("Intended uses & limitations", "intended_use"),
        ("Out-of-Scope Use", "limitations"),
        ("Direct Use", "intended_use"),
        ("Something else entirely", None),
    ],
)
def test_heading_classification(heading, section):
    assert classify_heading(heading) == section


def test_headings_inside_code_fences_are_ignored():
    body = "## Usage\n```bash\n# install\npip install x\n```\n"
    assert [s.section for s in find_sections(body)] == ["get_started"]


def test_every_real_fixture_card_analyses_without_raising():
    for path in sorted(HF_FIXTURES.glob("*.md")):
        analysis = analyze_card(path.read_bytes())
        assert analysis.status in {"ok", "no_metadata", "yaml_error", "not_a_mapping"}, path.name
