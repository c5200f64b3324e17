"""What the card body says, read with evidence: the issue's examples, one by one."""

from __future__ import annotations

import pytest

from ptmscope.cards.analysis import analyze_card
from ptmscope.cards.body import parse_number
from tests.conftest import FIXTURES

LABELLED = FIXTURES / "cards_labelled" / "cards"


def _card(body: str, repo: str = "acme/model", metadata: str = "license: mit\n") -> object:
    return analyze_card(f"---\n{metadata}---\n{body}", "hub-2023", repo)


def _results(a) -> set[tuple]:
    return {(r.dataset, r.split, r.metric, r.value) for r in a.body.results}


def _names(a, kind: str, role: str | None = None) -> list[str]:
    return [f.name for f in a.body.of(kind, role)]


def test_dslim_bert_base_ner_reports_its_results_with_evidence():
    a = analyze_card((LABELLED / "001.md").read_text(encoding="utf-8"), "hub-2022", "dslim/bert-base-NER")
    # "metric|dev|test" without outer pipes, under "Eval results"
    assert {("conll2003", "test", "f1", 91.3), ("conll2003", "validation", "f1", 95.1)} <= _results(a)
    f1 = next(r for r in a.body.results if r.metric == "f1" and r.split == "test")
    assert f1.found_in == "table" and f1.evidence.line == 81 and "91.3" in f1.evidence.snippet
    assert _names(a, "base_model") == [
        "bert-base-cased"
    ]  # "this model is a *bert-base-cased* model that was fine-tuned"
    assert _names(a, "hardware") == ["a single NVIDIA V100 GPU"]
    assert _names(a, "paper", "cited") == ["arxiv:1810.04805"]  # BERT's paper, in the fine-tune's BibTeX
    assert "Limitations and bias" in _names(a, "limitation")


@pytest.mark.parametrize(
    ("sentence", "base"),
    [
        ("This model is a fine-tuned version of [distilbert-base-uncased](https://huggingface.co/distilbert-base-uncased)"
         " on the imdb dataset.", "distilbert-base-uncased"),
        ("The encoder was initialized from bert-base-cased and trained further.", "bert-base-cased"),
        ("A detector based on [DETR](https://huggingface.co/facebook/detr-resnet-50) with a new head.",
         "facebook/detr-resnet-50"),
        ("Fine-tuned [facebook/wav2vec2-large-xlsr-53]"
         "(https://huggingface.co/facebook/wav2vec2-large-xlsr-53) in French.",
         "facebook/wav2vec2-large-xlsr-53"),
        ("This model is based on a pretrained GPT-2 which is fine-tuned on tweets.", "gpt2"),
    ],
)  # fmt: skip
def test_base_models_named_in_text(sentence, base):
    assert _names(_card(f"# m\n\n{sentence}\n"), "base_model") == [base]


def test_base_and_dataset_in_a_training_command():
    a = _card("## Training\n\n```bash\npython run_qa.py --model_name_or_path roberta-base --dataset_name squad "
              "--learning_rate 3e-5 --num_train_epochs 2 --per_device_train_batch_size 12\n```\n")  # fmt: skip
    assert _names(a, "base_model") == ["roberta-base"] and _names(a, "dataset") == ["squad"]
    assert {f.name: f.value for f in a.body.of("hyperparameter")} == {
        "learning_rate": "3e-5", "num_epochs": "2", "train_batch_size": "12"
    }  # fmt: skip


def test_names_that_are_not_hub_ids_are_not_bases():
    a = _card("# m\n\nThis model is a BERT model fine-tuned on news. It is based on the original paper.\n")
    assert _names(a, "base_model") == []


def test_training_datasets_from_lists_links_and_sentences():
    a = _card(
        "## Training data\n\nThe model was pretrained on:\n- [BookCorpus](https://example.org/bc), 11,038 books;\n"
        "- English Wikipedia (excluding lists)\n\nIt was then fine-tuned on the "
        "[emotion](https://huggingface.co/datasets/dair-ai/emotion) dataset.\n"
    )
    names = set(_names(a, "dataset"))
    assert {"BookCorpus", "English Wikipedia", "dair-ai/emotion"} <= names
    assert not names & {"a large", "same", "the"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("## Results\n\nThe model achieves 91.3 F1 on CoNLL-2003.\n", ("conll-2003", None, "f1", 91.3)),
        ("## Evaluation\n\n| Dataset | Accuracy |\n|---|---|\n| imdb | 0,912 |\n", ("imdb", None, "accuracy", 0.912)),
        ("## Evaluation\n\n<table><tr><th>metric</th><th>test</th></tr><tr><td>WER</td><td>12.5</td></tr></table>\n",
         (None, "test", "wer", 12.5)),
        ("## Results\n\n**Test Result**: 29.31 %\n\nWER on Common Voice.\n", (None, "test", "wer", 29.31)),
    ],
)  # fmt: skip
def test_results_from_sentences_tables_html_and_decimal_commas(body, expected):
    assert expected in _results(_card(body))


def test_the_trainers_list_is_read_and_its_training_log_is_not():
    a = _card(
        "# m\n\nThis model is a fine-tuned version of [bert-base-cased](https://huggingface.co/bert-base-cased) on the"
        " conll2003 dataset.\nIt achieves the following results on the evaluation set:\n"
        "- Loss: 0.0621\n- F1: 0.9296\n\n"
        "### Training results\n\n| Training Loss | Epoch | Step | Validation Loss | F1 |\n|---|---|---|---|---|\n"
        "| 0.2 | 1.0 | 878 | 0.07 | 0.91 |\n"
    )
    assert _results(a) == {("conll2003", None, "loss", 0.0621), ("conll2003", None, "f1", 0.9296)}
    assert {r.found_in for r in a.body.results} == {"list"}


def test_baselines_are_not_the_models_results():
    a = _card("# m\n\nThis model reaches an accuracy of 91.3 on the dev set (for comparison, bert-base-uncased reaches"
              " an accuracy of 92.7).\n")  # fmt: skip
    assert {r.value for r in a.body.results} == {91.3}


def test_a_table_whose_columns_are_models_gives_this_models_column():
    body = (
        "## Evaluation\n\n"
        "| Category | Benchmark (Metric) | GPT-4o | DeepSeek V3 | DeepSeek R1 |\n|---|---|---|---|---|\n"
        "| | Architecture | - | MoE | MoE |\n| | # Activated Params | - | 37B | 37B |\n"
        "| English | MMLU (Pass@1) | 87.2 | 88.5 | 90.8 |\n| | DROP (3-shot F1) | 83.7 | 91.6 | 92.2 |\n"
    )
    a = _card(body, "deepseek-ai/DeepSeek-R1")
    assert _results(a) == {("mmlu", None, "pass@1", 90.8), ("drop", None, "f1", 92.2)}
    # the column of a model named like ROUGE-1's short spelling is a model, not a metric
    assert not _card(body, "acme/other-model").body.results


def test_a_column_that_is_only_a_size_is_the_model_of_that_size():
    body = "| Benchmark | Metric | 2B Params | 7B Params |\n|---|---|---|---|\n| MMLU | 5-shot, top-1 | 42.3 | 64.3 |\n"
    assert {r.value for r in _card(body, "google/gemma-7b").body.results} == {64.3}
    assert {r.value for r in _card(body, "google/gemma-2b").body.results} == {42.3}


def test_rows_of_another_version_or_size_are_baselines():
    body = (
        "|Model|Size|Code|MMLU|\n|---|---|---|---|\n|Llama 1|7B|14.1|35.1|\n|Llama 1|13B|18.9|46.9|\n"
        "|Llama 2|7B|16.8|45.3|\n|Llama 2|13B|24.5|54.8|\n"
    )
    assert {r.value for r in _card(body, "meta-llama/Llama-2-7b-hf").body.results} == {16.8, 45.3}


def test_html_entities_in_cells_are_text_not_numbers():
    body = "||Params|GQA|MMLU|\n|---|---|---|---|\n|Ours|7B|&#10007;|45.3|\n"
    assert {r.value for r in _card(body).body.results} == {45.3}


def test_hyperparameters_with_values_from_the_trainers_list_and_sentences():
    a = _card(
        "## Training procedure\n\n### Training hyperparameters\n\nThe following hyperparameters were used:\n"
        "- learning_rate: 2e-05\n- train_batch_size: 16\n- seed: 42\n- doc_stride: 128\n\n"
        "We trained for 2 epochs with a weight decay of 0.01.\n"
    )
    assert {f.name: f.value for f in a.body.of("hyperparameter")} == {
        "learning_rate": "2e-05", "train_batch_size": "16", "seed": "42", "doc_stride": "128", "num_epochs": "2",
        "weight_decay": "0.01",
    }  # fmt: skip
    assert all(f.evidence.line > 0 for f in a.body.of("hyperparameter"))


def test_environment_and_a_template_only_hardware_section():
    a = _card(
        "## Environmental Impact\n\n- **Hardware Type:** [More Information Needed]\n- **Hours used:** "
        "[More Information Needed]\n\n### Framework versions\n\n- Transformers 4.16.2\n- Pytorch 1.10.0+cu111\n"
    )
    assert _names(a, "hardware") == []
    assert {f.name: f.value for f in a.body.of("environment")} == {"transformers": "4.16.2", "pytorch": "1.10.0+cu111"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Trained on Tensor Processing Unit (TPU) hardware (TPUv5e), using TPUs.", ["TPUv5e"]),
        ("**Test Hardware:** 8xB200 GPU", ["8xB200 GPU"]),
        ("Consider the newer [hindi-tpu-electra](https://huggingface.co/monsoon-nlp/hindi-tpu-electra).", []),
        ("The notebook shows GPU vs. TPU setup.", []),
        ("We trained for 3 days on 8 A100-80GB GPUs.", ["8 A100-80GB GPUs"]),
    ],
)
def test_hardware_named_in_text(text, expected):
    assert _names(_card(f"## Training\n\n{text}\n"), "hardware") == expected


@pytest.mark.parametrize("heading", ["Known issues", "Bias", "Risks", "Out-of-scope use", "Limitations"])
def test_limitations_under_any_of_their_headings(heading):
    a = _card(f"## {heading}\n\nThe model was trained on news text only and fails on tweets and code-switched text.\n")
    assert _names(a, "limitation") == [heading]


def test_template_limitations_do_not_count():
    assert _names(_card("## Bias, Risks, and Limitations\n\n[More Information Needed]\n"), "limitation") == []


def test_own_paper_and_code_apart_from_citations_and_libraries():
    a = _card(
        "# SapBERT\n\nSapBERT was introduced in [this paper](https://arxiv.org/abs/2010.11784). The code is available"
        " at [our repository](https://github.com/acme/sapbert).\n\nIt uses [transformers]"
        "(https://github.com/huggingface/transformers).\n\n## Citation\n\n```bibtex\n@inproceedings{x,\n"
        "  title={A dataset},\n  eprint = {1905.07830},\n  doi = {10.18653/v1/N19-1423}}\n```\n",
        repo="acme/SapBERT-base",
        metadata="license: mit\nbase_model: bert-base-uncased\n",
    )
    assert _names(a, "paper", "own") == ["arxiv:2010.11784"]
    assert set(_names(a, "paper", "cited")) == {"arxiv:1905.07830", "doi:10.18653/v1/N19-1423"}  # no trailing }
    assert _names(a, "code", "own") == ["github.com/acme/sapbert"]
    assert _names(a, "code", "library") == ["github.com/huggingface/transformers"]


def test_utf16_cards_are_text_not_binary():
    a = analyze_card("---\nlicense: mit\n---\n# m\n\n## Limitations\n\nOnly English, and only news.\n".encode("utf-16"))
    assert a.status == "ok" and a.facts.licenses == ["mit"]


@pytest.mark.parametrize(
    ("text", "value", "written", "unit"),
    [("91.3", 91.3, "91.3", None), ("0,912", 0.912, "0,912", None), ("14,987", 14987.0, "14,987", None),
     ("93.5 %", 93.5, "93.5", "%"), ("20.0 ± 1.2", 20.0, "20.0", None)],
)  # fmt: skip
def test_numbers_as_cards_write_them(text, value, written, unit):
    assert parse_number(text) == (value, written, unit)


@pytest.mark.timeout(60)
def test_hostile_bodies_end():
    """A huge table, deep lists and a link storm: bounded, never a hang."""
    table = "| a | b |\n|---|---|\n" + "| x | 1 |\n" * 50_000
    nested = "".join("  " * i + "- item\n" for i in range(2_000))
    links = "[x](https://github.com/a/b) " * 20_000
    for body in (table, nested, links):
        a = _card(body)
        assert len(a.body.results) <= 300 and len(a.body.facts) <= 800
