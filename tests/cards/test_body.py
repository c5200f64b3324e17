"""What the card body says, read with evidence: the issue's examples, one by one."""

from __future__ import annotations

import pytest

from ptmscope.cards.analysis import analyze_card
from ptmscope.cards.body import parse_number
from tests.conftest import FIXTURES

LABELLED = FIXTURES.parent / "data" / "cards-labelled" / "cards"


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
    # BERT's paper in the fine-tune's BibTeX, and CoNLL-2003's on the ACL Anthology: both cited, neither its own
    assert set(_names(a, "paper", "cited")) >= {"arxiv:1810.04805", "url:https://www.aclweb.org/anthology/W03-0419.pdf"}
    assert not _names(a, "paper", "own")
    assert "Limitations and bias" in _names(a, "limitation")


@pytest.mark.parametrize(
    ("sentence", "base"),
    [
        ("This model is a fine-tuned version of [distilbert-base-uncased]"
         "(https://huggingface.co/distilbert-base-uncased) on the imdb dataset.",  # offline: card text, never fetched
         "distilbert-base-uncased"),
        ("The encoder was initialized from bert-base-cased and trained further.", "bert-base-cased"),
        ("A detector based on [DETR]"
         "(https://huggingface.co/facebook/detr-resnet-50) with a new head.",  # offline: card text, never fetched
         "facebook/detr-resnet-50"),
        ("Fine-tuned [facebook/wav2vec2-large-xlsr-53]"
         "(https://huggingface.co/facebook/wav2vec2-large-xlsr-53) in French.",  # offline: card text, never fetched
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
        "[emotion](https://huggingface.co/datasets/dair-ai/emotion) dataset.\n"  # offline: card text, never fetched
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
        "# m\n\nThis model is a fine-tuned version of "
        "[bert-base-cased](https://huggingface.co/bert-base-cased) on the"  # offline: card text, never fetched
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
        ("Consider the newer [hindi-tpu-electra]"
         "(https://huggingface.co/monsoon-nlp/hindi-tpu-electra).", []),  # offline: card text, never fetched
        ("The notebook shows GPU vs. TPU setup.", []),
        ("We trained for 3 days on 8 A100-80GB GPUs.", ["8 A100-80GB GPUs"]),
    ],
)  # fmt: skip
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


# -- the second round of rules: each written from a real card's wording, tested on text made here --


def test_a_json_dump_of_training_arguments_gives_hyperparameters_and_the_base():
    args = (
        '{\n  "doc_stride": 128,\n  "fp16": false,\n  "learning_rate": 3e-05,\n'
        '  "model_name_or_path": "albert-large-v2",\n'
        '  "num_train_epochs": 5,\n  "seed": 42,\n  "warmup_steps": 0,\n  "save_steps": 5000\n}'
    )
    a = _card(f"# m\n\n## Notable Arguments\n```json\n{args}\n```\n")
    hyper = {f.name: f.value for f in a.body.of("hyperparameter")}
    assert hyper == {
        "doc_stride": "128",
        "mixed_precision_training": "false",
        "learning_rate": "3e-05",
        "num_epochs": "5",
        "seed": "42",
        "lr_scheduler_warmup_steps": "0",
    }  # save_steps is no hyper-parameter of the vocabulary: left out
    assert _names(a, "base_model") == ["albert-large-v2"]


def test_a_json_block_naming_fewer_than_three_hyperparameters_is_not_a_training_dump():
    a = _card('# m\n\n```json\n{"seed": 1, "labels": ["a", "b"]}\n```\n\n```json\n{"broken": \n```\n')
    assert a.body.of("hyperparameter") == []


def test_versions_in_a_code_block_under_an_environment_heading():
    block = '{\n  "transformers": "2.5.1",\n  "pytorch": "1.4.0=py3.6_cuda10.1",\n  "python": "3.6.5"\n}'
    a = _card(f"# m\n\n## Environment Setup\n```json\n{block}\n```\n\n## Usage\n```\ntorch==9.9.9\n```\n")
    assert {f.name: f.value for f in a.body.of("environment")} == {
        "transformers": "2.5.1",
        "pytorch": "1.4.0",
        "python": "3.6.5",
    }  # the usage block's pin is not the model's environment


def test_sentences_that_state_hyperparameters():
    a = _card(
        "# m\n\n## Training\n\nWe train the model during 100k steps. We used the AdamW optimizer with a 2e-5 "
        "learning rate. Models are trained on a context length of 8192 tokens.\n\n- warmup = 600\n"
        "- Training tokens: 1.4T tokens\n"
    )
    hyper = {f.name: f.value for f in a.body.of("hyperparameter")}
    assert hyper["training_steps"] == "100k"
    assert hyper["optimizer"] == "AdamW"
    assert hyper["learning_rate"] == "2e-5"
    assert hyper["max_seq_length"] == "8192"
    assert hyper["lr_scheduler_warmup_steps"] == "600"
    assert hyper["training_tokens"] == "1.4T tokens"


def test_a_toolkits_paper_in_the_bibtex_is_cited_not_the_models_own():
    bib = (
        "@misc{speechbrain,\n  title={{SpeechBrain}: A General-Purpose Speech Toolkit},\n  eprint={2106.04624},\n}\n"
        "@inproceedings{ours,\n  title={Attention is All You Need in Speech Separation},\n  eprint={2010.13154},\n}"
    )
    a = _card(f"# m\n\nA separation model.\n\n## Citing\n\nPlease cite:\n```bibtex\n{bib}\n```\n")
    assert _names(a, "paper", "own") == ["arxiv:2010.13154"]
    assert _names(a, "paper", "cited") == ["arxiv:2106.04624"]


def test_semantic_scholar_bibtex_gives_the_arxiv_id():
    a = _card("# m\n\n## Citation\n```\n@article{x,\n  journal={ArXiv},\n  volume={abs/1910.01108}\n}\n```\n")
    assert [f.name for f in a.body.of("paper")] == ["arxiv:1910.01108"]


@pytest.mark.parametrize(
    ("body", "url"),
    [
        ("- **Paper:** https://stability.ai/research/svd-paper", "url:https://stability.ai/research/svd-paper"),
        ("* [Gemma Technical Report](https://storage.googleapis.com/gemma-report.pdf)",
         "url:https://storage.googleapis.com/gemma-report.pdf"),
        ("For details, please refer to the [Research paper](https://stability.ai/news/sd3-paper).",
         "url:https://stability.ai/news/sd3-paper"),
    ],
)  # fmt: skip
def test_a_paper_that_is_only_a_web_page_or_a_pdf(body, url):
    assert _names(_card(f"# m\n\n{body}\n"), "paper", "own") == [url]


def test_a_paper_link_after_words_that_cite_it_is_cited_even_beside_the_models_name():
    a = _card(
        "# MultiBERTs\n\nWe pre-trained the MultiBERTs models on Wikipedia and Books Corpus, initially collected "
        "for [Turc et al., 2019](https://arxiv.org/abs/1908.08962). See our [technical report]"
        "(https://arxiv.org/abs/2106.16163) for details.\n",
        repo="google/multiberts-seed_0",
    )
    assert _names(a, "paper", "own") == ["arxiv:2106.16163"]
    assert _names(a, "paper", "cited") == ["arxiv:1908.08962"]


def test_code_links_our_repo_in_link_text_and_a_library_folder():
    a = _card("# m\n\nSee our [project repo page](https://github.com/luyug/Reranker).\n", repo="Luyu/bert-mdoc")
    assert _names(a, "code", "own") == ["github.com/luyug/Reranker"]
    b = _card(
        "# m\n\nThe code for the distillation process can be found "
        "[here](https://github.com/huggingface/transformers/tree/main/examples/distillation).\n\n"
        "Made with [transformers](https://github.com/huggingface/transformers).\n"
    )
    assert _names(b, "code", "own") == ["github.com/huggingface/transformers/tree/main/examples/distillation"]
    assert _names(b, "code", "library") == ["github.com/huggingface/transformers"]


@pytest.mark.parametrize(
    ("sentence", "base"),
    [
        ("Trained with unlabelled sentences, using [roberta-base](https://huggingface.co/roberta-base) as the base "
         "model.", "roberta-base"),
        ("We used the pretrained [`nreimers/MiniLM-L6-H384-uncased`](https://huggingface.co/nreimers/MiniLM-L6-H384-"
         "uncased) model.", "nreimers/MiniLM-L6-H384-uncased"),
        ("This model fine-tuned [google/t5-v1_1-base](https://huggingface.co/google/t5-v1_1-base) for 31k steps.",
         "google/t5-v1_1-base"),
        ("It was finetuned from [SVD Image-to-Video [14 frames]](https://huggingface.co/stabilityai/svd-img2vid).",
         "stabilityai/svd-img2vid"),
        ("An [adapter](https://adapterhub.ml) for the `roberta-base` model.", "roberta-base"),
    ],
)  # fmt: skip
def test_more_ways_to_name_a_base_model(sentence, base):
    assert _names(_card(f"# m\n\n{sentence}\n"), "base_model") == [base]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("This model was fine-tuned on JW300 + OPUS CC-Align + [Igbo CC-100](http://data.statmt.org/cc-100/)",
         {"JW300", "OPUS CC-Align", "Igbo CC-100"}),
        ("This model was trained on the [MS Marco Passage Ranking](https://github.com/microsoft/MSMARCO) task.",
         {"MS Marco Passage Ranking"}),
        ("The encoder was trained solely on Natural Questions (NQ).", {"Natural Questions"}),
        ("I have used IMDB URDU dataset to create this model.", {"IMDB URDU"}),
        ("We used the NER dataset in Catalan.", set()),
        ("The model was trained with [MultipleNegativesRankingLoss](https://www.sbert.net/docs/losses.html).", set()),
    ],
)  # fmt: skip
def test_datasets_named_in_training_sentences(body, expected):
    assert set(_names(_card(f"# m\n\n{body}\n", metadata="license: mit\n"), "dataset")) == expected


def test_datasets_from_a_training_data_list_and_table_take_the_link_text():
    a = _card(
        "# m\n\n## Training data\n\n- [Stories](https://arxiv.org/abs/1806.02847) a dataset containing CommonCrawl "
        "data.\n\n| Dataset | Number of training tuples |\n| --- | --- |\n"
        "| [WikiAnswers](https://github.com/afader/oqa) Duplicate question pairs from WikiAnswers | 77,427,422 |\n"
        "| [GOOAQ: Open Question Answering with Diverse Answer Types](https://github.com/allenai/gooaq) pairs "
        "| 3,012 |\n"
    )
    assert {"Stories", "WikiAnswers", "GOOAQ"} <= set(_names(a, "dataset"))


def test_a_limitation_stated_in_passing_counts_only_without_a_section():
    a = _card("# m\n\n## Intended uses\n\nText longer than 512 word pieces is truncated. It might not work well for "
              "longer text.\n")  # fmt: skip
    assert _names(a, "limitation") == ["sentence"]
    assert "might not work well" in a.body.of("limitation")[0].evidence.snippet
    assert _names(_card("# m\n\nIt works well for short text.\n"), "limitation") == []


def test_results_of_the_base_model_section_and_of_the_pretrained_row_are_not_this_models():
    table = (
        "| Benchmark | Qwen2.5 72B | DeepSeek-V3 |\n| --- | --- | --- |\n| MMLU | 85.0 | 87.1 |\n"
        "| DROP | 80.6 | 89.0 |\n"
    )
    chat = _card(f"# m\n\n## Evaluation\n### Base Model\n{table}\n### Chat Model\n{table.replace('87.1', '88.5')}",
                 repo="deepseek-ai/DeepSeek-V3")  # fmt: skip
    assert {r.value for r in chat.body.results} == {88.5, 89.0}
    rows = (
        "| Model | Size | MMLU | BBH |\n| --- | --- | --- | --- |\n| Llama 2 | 7B | 45.3 | 32.6 |\n"
        "| Llama-2-Chat | 7B | 47.0 | 35.1 |\n"
    )
    assert {
        r.value for r in _card(f"# m\n\n## Results\n{rows}", repo="meta-llama/Llama-2-7b-chat-hf").body.results
    } == {
        47.0,
        35.1,
    }


def test_a_table_of_model_variants_under_group_rows_and_a_precision_column():
    albert = (
        "| | Average | SQuAD1.1 | RACE |\n| --- | --- | --- | --- |\n| V2 | | | |\n"
        "| ALBERT-base | 82.3 | 90.2/83.2 | 66.8 |\n"
        "| ALBERT-large | 85.7 | 91.8/85.2 | 75.2 |\n| V1 | | | |\n| ALBERT-base | 80.1 | 89.3/82.3 | 64.0 |\n"
    )
    results = _card(f"# m\n\n## Results\n{albert}", repo="albert-base-v2").body.results
    assert {r.value for r in results} == {82.3, 90.2, 83.2, 66.8}  # V2's base row
    assert [r.dataset for r in results if r.value == 82.3] == ["average"]  # the average over the tasks, so named
    xtreme = (
        "| Models | MNLI | QNLI |\n| --- | --- | --- |\n| XtremeDistil-l6-h256 | 83.9 | 89.5 |\n"
        "| XtremeDistil-l6-h384 | 85.4 | 90.3 |\n"
    )
    picked = _card(f"# m\n\n## Results\n{xtreme}", repo="microsoft/xtremedistil-l6-h384-uncased").body.results
    assert {r.value for r in picked} == {85.4, 90.3}
    fp4 = "| Precision | MMLU | GSM8K |\n| --- | --- | --- |\n| FP8 | 90.8 | 96.3 |\n| FP4 | 90.7 | 96.1 |\n"
    results = _card(f"# m\n\n## Evaluation\n{fp4}", repo="nvidia/DeepSeek-R1-FP4").body.results
    assert {r.metric for r in results} <= {""} and {r.value for r in results} >= {90.7, 96.1}


def test_a_first_column_naming_a_dataset_and_its_languages():
    table = (
        "## Results\n\n| Common Voice Languages | Hours | WER | CER |\n|---|---|---|---|\n"
        "| de | 80.1 | 27.03 | 6.50 |\n| fr | 92.0 | 33.16 | 13.94 |\n"
    )
    got = _results(_card(f"# m\n\n{table}"))
    assert ("common voice (de)", None, "wer", 27.03) in got
    assert ("common voice (fr)", None, "cer", 13.94) in got
    assert not any(r[0] == "de" for r in got)
    # "Test languages" names no dataset: the rows stay what they are
    generic = "## Results\n\n| Test languages | WER |\n|---|---|\n| de | 27.0 |\n"
    assert ("de", "test", "wer", 27.0) in _results(_card(f"# m\n\n{generic}"))


def test_a_bare_row_of_numbers_takes_its_metric_from_the_caption():
    body = '## Evaluation\n\n*Result (WER)*:\n\n| "clean" | "other" |\n|---|---|\n| 3.4 | 8.6 |\n'
    a = _card(f"# m\n\n{body}", metadata="license: mit\ndatasets:\n- librispeech_asr\n")
    assert {(r.dataset, r.metric, r.value) for r in a.body.results} >= {
        ("librispeech_asr (clean)", "wer", 3.4),
        ("librispeech_asr (other)", "wer", 8.6),
    }
    # no metric in the caption, or two: no result guessed
    assert not _card("# m\n\nScores:\n\n| clean | other |\n|---|---|\n| 3.4 | 8.6 |\n").body.results
    two = "# m\n\nWER and CER:\n\n| clean | other |\n|---|---|\n| 3.4 | 8.6 |\n"
    assert not _card(two).body.results


def test_an_improvement_written_with_an_arrow_gives_the_new_score():
    text = "It achieves new state-of-the-art results on FUNSD (0.7895 → 0.8420) and CORD (0.9493 -> 0.9601)."
    got = {(r.dataset, r.value, r.found_in) for r in _card(f"# m\n\n{text}\n").body.results}
    assert got == {("funsd", 0.842, "sentence"), ("cord", 0.9601, "sentence")}


def test_papers_on_the_acl_anthology_and_as_pdfs_and_a_template_citation():
    a = _card(
        "# m\n\nThe model of our paper, see [the paper](https://aclanthology.org/2020.acl-main.1.pdf).\n\n"
        "## Environmental Impact\n\nCarbon emissions can be estimated using the [Machine Learning Impact "
        "calculator](https://mlco2.github.io/impact#compute) presented in [Lacoste et al. (2019)]"
        "(https://arxiv.org/abs/1910.09700).\n"
    )
    assert _names(a, "paper", "own") == ["url:https://aclanthology.org/2020.acl-main.1.pdf"]
    assert _names(a, "paper", "cited") == ["arxiv:1910.09700"]
    pdf = _card('# m\n\n<a href="https://github.com/acme/model/blob/main/Model_Report.pdf"><b>Paper</b></a>\n')
    assert _names(pdf, "paper", "own") == ["url:https://github.com/acme/model/blob/main/Model_Report.pdf"]
    assert not _names(pdf, "code")  # a PDF kept in a repository is a paper, not code
    # the same paper with an arXiv id: the PDF beside it is not a second paper
    both = _card(
        "# m\n\nIntroduced in our paper https://arxiv.org/abs/2401.00001 "
        "([pdf](https://github.com/acme/model/blob/main/Model_Report.pdf)).\n"
    )
    assert _names(both, "paper", "own") == ["arxiv:2401.00001"]


def test_own_code_under_a_homepage_heading_in_a_folder_named_like_the_model_and_as_the_original():
    home = _card("# m\n\n## Homepage\n\n* https://github.com/acme/tools-kit\n", repo="acme/albert-tiny-zh")
    assert _names(home, "code", "own") == ["github.com/acme/tools-kit"]
    folder = _card("# m\n\n[GitHub](https://github.com/acme/many/tree/master/layoutx)\n", repo="acme/layoutx-base")
    assert _names(folder, "code", "own") == ["github.com/acme/many"]
    # another owner's folder named like the model is that project's support for it, not the model's code
    other = _card("## Inference\n\nSee https://github.com/sgl/engine/tree/main/layoutx.\n", repo="acme/layoutx-base")
    assert not _names(other, "code", "own")
    original = _card(
        "# m\n\nThe original model can be found under https://github.com/pytorch/fairseq/tree/main/examples/wav2vec\n",
        repo="acme/wav2vec2-base",
    )
    assert _names(original, "code", "own") == ["github.com/pytorch/fairseq/tree/main/examples/wav2vec"]


def test_accelerators_beyond_gpus_and_tpus():
    a = _card("# m\n\n## Training\n\nTrained on a cluster of 64 Cerebras CS-2 systems and on Intel Gaudi2.\n")
    assert {f.name.lower() for f in a.body.of("hardware")} >= {"64 cerebras cs-2", "intel gaudi2"}


def test_the_trainers_eval_keys_as_table_rows_and_a_row_named_by_part_of_the_id():
    rows = "## Validation Metrics\n\n| key | value |\n|---|---|\n| eval_accuracy | 0.941 |\n| eval_recall | 0.93 |\n"
    got = {(r.metric, r.value) for r in _card(f"# m\n\n{rows}").body.results}
    assert got == {("accuracy", 0.941), ("recall", 0.93)}
    table = (
        "## Summary\n\n|  | CETUC | LaPS |\n|---|---|---|\n| mls100 (demonstration below) | 0.192 | 0.162 |\n"
        "| mls100 + 4-gram (demonstration below) | 0.087 | 0.077 |\n"
    )
    values = {r.value for r in _card(f"# m\n\n{table}", repo="acme/bp-mls100-xlsr").body.results}
    assert values == {0.192, 0.162}  # the model's own row, not the row with a language model added


def test_one_benchmark_scored_by_two_tools_and_amounts_that_are_no_score():
    bleu = "## Eval results\n\nHere are the BLEU scores:\n\nmodel | fairseq | transformers\n---|---|---\n"
    bleu += "m | 28.3 | 27.52\n"
    a = _card(f"# m\n\n{bleu}", metadata="license: mit\ndatasets:\n- wmt16\n")
    assert {(r.dataset, r.metric, r.value) for r in a.body.results} == {
        ("wmt16", "bleu", 28.3),
        ("wmt16", "bleu", 27.52),
    }
    hours = "## Data\n\n| Dataset | Train | Test |\n|---|---|---|\n| MLS | 161h | 3.7h |\n| SID | | 1.0h |\n"
    assert not _card(f"# m\n\n{hours}").body.results
    shell = "## Eval\n\n```bash\nexport BS=8\nexport NUM_BEAMS=5\n```\n"
    assert not _card(f"# m\n\n{shell}").body.results


def test_a_year_in_parentheses_is_part_of_a_datasets_name_and_the_caption_gives_the_metric():
    table = (
        "## Performance\n\nModel performance is given as evaluation set accuracy in percent.\n\n"
        "|Dataset|Baseline|This model|\n|---|---|---|\n|Maas et al. (2011)|80.6|96.0|\n"
        "|Blitzer et al. (2007) (Books)|83.0|92.5|\n|MMLU (EM)|60.1|70.2|\n"
    )
    got = {(r.dataset, r.metric, r.value) for r in _card(f"# m\n\n{table}").body.results}
    assert got == {
        ("maas et al. (2011)", "accuracy", 96.0),
        ("blitzer et al. (2007) (books)", "accuracy", 92.5),
        ("mmlu", "exact_match", 70.2),
    }


def test_training_datasets_a_caption_announces_and_links_joined_by_plus():
    table = (
        "# Appendix\n\nPlease find an overview of the datasets used for training below.\n\n"
        "|Name|anger|joy|\n|---|---|---|\n|Crowdflower (2016)|Yes|Yes|\n|GoEmotions, Demszky et al. (2020)|Yes|Yes|\n"
    )
    assert set(_names(_card(f"# m\n\n{table}"), "dataset")) == {"Crowdflower", "GoEmotions"}
    # the same table without a caption saying so is not training data
    assert not _names(_card("# m\n\n|Name|anger|\n|---|---|\n|Crowdflower (2016)|Yes|\n"), "dataset")
    chain = (
        "Training data pairs were generated from the captions of [GCC](https://ai.google.com/cc/) + "
        "[MSCOCO](https://cocodataset.org/) + [VizWiz](https://vizwiz.org/)."
    )
    assert set(_names(_card(f"# m\n\n{chain}\n"), "dataset")) == {"GCC", "MSCOCO", "VizWiz"}


@pytest.mark.parametrize(
    "sentence",
    [
        "We fine-tuned it on 15 data sets and evaluated it in a leave-one-out manner (training on 14 data sets).",
        "It outperforms a model solely fine-tuned on the popular SST-2 data set.",
        "- Evaluation for all datasets scripts (depth estimation): see the repository.",
    ],
)
def test_numbers_adjectives_and_scripts_are_no_dataset_names(sentence):
    names = _names(_card(f"# m\n\n## Training data\n\n{sentence}\n"), "dataset")
    assert not {"15", "14", "popular SST-2"} & set(names)
    assert not any("scripts" in n for n in names)


def test_scores_said_in_prose_printed_as_a_dict_and_spec_rows_that_are_no_score():
    prose = "Model attained a Rouge1 score of 31.2 and RougeL score of 24.5."
    assert {(r.metric, r.value) for r in _card(f"# m\n\n{prose}\n").body.results} == {
        ("rouge1", 31.2),
        ("rougel", 24.5),
    }
    printout = "## Results:\n```yaml\n'Accuracy': 0.9723, 'P-Si-SNR': 10.36\n```\n"
    assert {(r.metric, r.value) for r in _card(f"# m\n\n{printout}").body.results} == {
        ("accuracy", 0.9723),
        ("p-si-snr", 10.36),
    }
    spec = "## Specs\n\n| Setting | Value |\n|---|---|\n| Resolution | 544 |\n| Video length | 97 |\n| FPS | 24 |\n"
    assert not _card(f"# m\n\n{spec}").body.results


def test_a_dataset_column_beside_a_task_column_and_two_metrics_in_one_cell():
    table = (
        "## Results\n\n| Task | Dataset | Metric | LUKE-large | luke-base | Previous SOTA |\n"
        "|---|---|---|---|---|---|\n"
        "| Extractive QA | [SQuAD v1.1](https://squad.example/) | EM/F1 | 90.2/95.4 | 86.1/92.3 | 89.9/95.1 |\n"
        "| NER | CoNLL-2003 | F1 | 94.3 | 93.3 | 93.5 |\n"
    )
    got = {(r.dataset, r.metric, r.value) for r in _card(f"# m\n\n{table}", repo="acme/luke-base").body.results}
    assert got == {("squad v1.1", "exact_match", 86.1), ("squad v1.1", "f1", 92.3), ("conll-2003", "f1", 93.3)}


def test_trained_with_a_named_corpus():
    a = _card("# m\n\nModel trained with SemEval 2017 corpus (around ~40k tweets).\n")
    assert _names(a, "dataset") == ["SemEval 2017"]


def test_proceedings_links_without_the_word_paper_and_a_footnote_reference_list():
    a = _card(
        "# m\n\nFor more details, please refer to: [HerBERT: a Polish model](https://aclanthology.org/2021.bsnlp-1.1)."
        "\n\nSee also (https://openreview.net/pdf?id=r1xMH1BtvB) and (https://ieeexplore.ieee.org/document/9414205).\n",
        repo="acme/herbert-base",
    )
    assert set(_names(a, "paper")) == {
        "url:https://aclanthology.org/2021.bsnlp-1.1",
        "url:https://openreview.net/pdf?id=r1xMH1BtvB",
        "url:https://ieeexplore.ieee.org/document/9414205",
    }
    refs = _card(
        "# m\n\nIt is fine-tuned on SNLI\\[1\\].\n\n"
        "\\[1\\]: Bowman S. (2015) A large annotated corpus. arXiv preprint [arXiv:1508.05326](https://arxiv.org/abs/1508.05326)\n"
    )
    assert _names(refs, "paper", "cited") == ["arxiv:1508.05326"]
    assert not _names(refs, "paper", "own")


def test_the_base_models_repository_the_owners_repo_and_code_to_visit():
    base = _card(
        "# m\n\nBase model is [BerTweet](https://github.com/VinAIResearch/BERTweet).\n", repo="acme/bertweet-x"
    )
    assert _names(base, "code", "cited") == ["github.com/VinAIResearch/BERTweet"]
    owners = _card("# m\n\n * [GitHub repo](https://github.com/debatelab/aacorpus)\n", repo="debatelab/cript-large")
    assert _names(owners, "code", "own") == ["github.com/debatelab/aacorpus"]
    visit = _card(
        "# m\n\n## More\n\nFor training data, source code, and a usage example please visit: "
        "https://github.com/someone/neural-ranking-kd\n",
        repo="acme/distilbert-dot",
    )
    assert _names(visit, "code", "own") == ["github.com/someone/neural-ranking-kd"]
    # another owner's "[github repo]" link to report a demo's issues is that tool's, not the model's
    demo = _card(
        "# m\n\nReport any issues with the demo at the [github repo](https://github.com/nateraw/huggingpics).\n"
    )
    assert not _names(demo, "code", "own")
