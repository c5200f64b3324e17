"""What a card's body says: results, base models, datasets, hyper-parameters, hardware, environment, limitations, links.

Every fact carries its evidence: the snippet it was read from and the card line it is on.
The readers work on ``ptmscope.cards.markdown.Document`` (sections, tables, list items,
code blocks, links) and on the front matter's own facts, which they never contradict:

- results: rows of a results table (this model's rows, not baselines or per-epoch training
  logs), the Trainer's "achieves the following results on the evaluation set" list, and
  sentences ("achieves 91.3 F1 on CoNLL-2003", "Test WER: 19.2 %"); values normalised
  (decimal commas, percent signs, "±" spreads) and kept as written;
- base models: "a fine-tuned version of [X](https://huggingface.co/X)", "initialized from X",
  "based on X", ``--model_name_or_path X``; only names that can be Hub ids;
- datasets: "fine-tuned on the X dataset", ``huggingface.co/datasets/X`` links in training
  sections, ``--dataset_name X``;
- hyper-parameters with values: the Trainer's list, "Hyperparameter | Value" tables, training
  commands' flags, sentences ("for 3 epochs", "a batch size of 32", "a learning rate of 5e-5");
- hardware (GPU/TPU models and counts), environment (framework versions), limitations (a
  filled section under any of its headings);
- links: arXiv ids, DOIs and code repositories, each marked as the model's own or cited.

Bounded like the rest of the card analysis: the document is already capped, and so is each
list here.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from itertools import islice
from typing import Any, Protocol

from ptmscope.cards.markdown import Block, Document, Table
from ptmscope.cards.sections import PLACEHOLDER, meaningful_chars

MAX_FACTS = 200
MAX_RESULTS = 300
SNIPPET = 200


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a fact was read: a bounded snippet of the card and its 1-based line."""

    snippet: str
    line: int


@dataclass(frozen=True, slots=True)
class Fact:
    """One thing the card states, with where it says it."""

    kind: str
    """base_model | dataset | hyperparameter | hardware | environment | limitation | license | paper | code"""
    name: str
    value: str | None
    declared_in: str
    """text | table | command | link | list"""
    role: str | None
    """For papers and code: own | cited | library."""
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Result:
    """One number a card reports for the model."""

    dataset: str | None
    split: str | None
    metric: str
    value: float
    value_text: str
    unit: str | None
    """'%' when written as a percentage."""
    found_in: str
    """table | list | sentence | code"""
    evidence: Evidence


def _snippet(text: str) -> str:
    return " ".join(text.split())[:SNIPPET]


# -- numbers and metric names ----------------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.])([-+]?\d{1,7}(?:[.,]\d+)?)(?:\s*(?:±|\+/-|\+-)\s*\d+(?:[.,]\d+)?)?\s*(%)?")


def parse_number(text: str) -> tuple[float, str, str | None] | None:
    """(value, as written, unit) of the first number in a cell or phrase; decimal commas read as points."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    written = match.group(1)
    digits = written
    if "," in written:
        whole, _, fraction = written.partition(",")
        if len(fraction) == 3 and whole.lstrip("+-") not in ("0", ""):
            digits = whole + fraction  # a thousands separator: 14,987
        else:
            digits = whole + "." + fraction  # a decimal comma: 0,912
    try:
        value = float(digits)
    except ValueError:
        return None
    return value, written, match.group(2)


# metric id -> the lower-case spellings cards use (whole words)
METRICS: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy", "acc", "acc.", "top-1 accuracy", "top1 accuracy", "top-1"),
    "f1": (
        "f1",
        "f1 score",
        "f1-score",
        "f-1",
        "f1-measure",
        "f measure",
        "f-score",
        "micro f1",
        "macro f1",
        "weighted f1",
        "macro-f1",
        "micro-f1",
        "f1 (macro)",
        "f1-micro",
        "f1-macro",
    ),
    "precision": ("precision", "prec", "prec."),
    "recall": ("recall", "rec"),
    "exact_match": ("exact match", "exact_match", "em", "exact"),
    "wer": ("wer", "word error rate", "test wer"),
    "cer": ("cer", "character error rate", "test cer"),
    "bleu": ("bleu", "sacrebleu", "bleu score", "bleu-4"),
    "chrf": ("chrf", "chr-f", "chrf2", "chrf++"),
    "rouge1": ("rouge1", "rouge-1", "rouge 1", "r-1", "r1"),
    "rouge2": ("rouge2", "rouge-2", "rouge 2", "r-2", "r2"),
    "rougel": ("rougel", "rouge-l", "rouge l", "r-l", "rl"),
    "rougelsum": ("rougelsum", "rouge-lsum", "rouge lsum"),
    "rouge": ("rouge",),
    "loss": ("loss", "eval loss", "validation loss", "eval_loss", "test loss"),
    "matthews_correlation": ("matthews correlation", "matthews_correlation", "mcc", "matthews corr"),
    "spearman": ("spearman", "spearmanr", "spearman correlation", "cosine spearman", "spearman's rho"),
    "pearson": ("pearson", "pearsonr", "pearson correlation", "cosine pearson"),
    "perplexity": ("perplexity", "ppl"),
    "map": ("map", "mean average precision"),
    "mrr": ("mrr", "mean reciprocal rank"),
    "auc": ("auc", "roc auc", "roc-auc", "auroc"),
    "meteor": ("meteor",),
    "ter": ("ter",),
}
_METRIC_OF = {spelling: metric for metric, spellings in METRICS.items() for spelling in spellings}
_METRIC_WORDS = "|".join(sorted((re.escape(s) for s in _METRIC_OF), key=len, reverse=True))
_METRIC_IN_TEXT = re.compile(rf"(?<![\w-])({_METRIC_WORDS})(?![\w-])", re.IGNORECASE)


def metric_of(label: str) -> str | None:
    """The metric id a header or row label names, or None."""
    text = " ".join(label.lower().replace("*", "").split()).strip(" :")
    if not text or len(text) > 40:
        return None
    if text in _METRIC_OF:
        return _METRIC_OF[text]
    match = _METRIC_IN_TEXT.search(text)
    if match and len(text) <= len(match.group(1)) + 16:  # "test f1", "F1 (dev)", "accuracy (%)"
        spelling = match.group(1).lower()
        if len(spelling) <= 2:  # "R1", "EM" inside a longer label only beside words that qualify a metric
            rest = text[: match.start()] + " " + text[match.end() :]
            if not all(w in _METRIC_QUALIFIERS for w in re.findall(r"[a-z0-9]+", rest)):
                return None  # "DeepSeek R1" is a model, not ROUGE-1
        return _METRIC_OF[spelling]
    if "_" in text:  # the Trainer's keys: "eval_accuracy", "test_recall"
        return metric_of(text.replace("_", " "))
    return None


_METRIC_QUALIFIERS = frozenset(
    [
        "test",
        "dev",
        "validation",
        "val",
        "valid",
        "eval",
        "evaluation",
        "score",
        "mean",
        "avg",
        "average",
        "macro",
        "micro",
        "weighted",
        "set",
        "on",
        "the",
        "overall",
        "span",
        "token",
        "entity",
    ]
)


_SPLITS = {
    "test": "test",
    "testing": "test",
    "dev": "validation",
    "development": "validation",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "eval": "validation",
    "evaluation": "validation",
    "train": "train",
    "training": "train",
}
_SPLIT_IN_TEXT = re.compile(r"\b(test|testing|dev|development|validation|valid|val)\b", re.IGNORECASE)


def split_of(label: str) -> str | None:
    """The split a label names ('test', 'validation', 'train'), or None."""
    text = label.lower().strip(" :*")
    if text in _SPLITS:
        return _SPLITS[text]
    match = _SPLIT_IN_TEXT.search(text)
    return _SPLITS[match.group(1).lower()] if match else None


# -- results ---------------------------------------------------------------------------------------

_LOG_COLUMNS = ("epoch", "step", "training loss", "train loss")
_ENTITY_HEADERS = ("model", "models", "method", "system", "checkpoint", "name", "network", "architecture")
_DATASET_HEADERS = (
    "dataset",
    "datasets",
    "task",
    "tasks",
    "benchmark",
    "data",
    "corpus",
    "test set",
    "testset",
    "language",
    "lang",
    "split",
    "set",
    "subset",
    "domain",
    "eval set",
    "evaluation set",
)
_OURS = re.compile(r"\b(ours|this model|this work|our model|proposed)\b", re.IGNORECASE)
# the words that name a tuned variant of a pretrained model in its id (Llama-2-7b-chat, Qwen2-7B-Instruct)
_TUNED_VARIANTS = frozenset({"chat", "instruct", "it", "sft", "dpo", "rlhf", "orpo"})
# a section of a tuned model's card about the pretrained model it came from ("### Base Model")
# (the heading names it alone: "# BERT base model (uncased)" is the card's own title)
_BASE_SECTION = re.compile(r"^\W*(?:the\s+)?(?:base|pre-?trained)\s+models?\b", re.IGNORECASE)


def _is_training_log(table: Table) -> bool:
    header = [h.lower() for h in table.header]
    return any(h in ("epoch", "epochs") for h in header) and any(
        h in ("step", "steps", "training loss", "train loss", "validation loss") for h in header
    )


def _model_words(repo_id: str) -> set[str]:
    name = repo_id.rsplit("/", 1)[-1].lower()
    return {w for w in re.split(r"[^a-z0-9]+", name) if len(w) > 1}


_SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)
_SIZE_ONLY = re.compile(r"(?:\d+(?:\.\d+)?\s*[bm]|params?|parameters|models?|version|[\s(),-])+", re.IGNORECASE)


def _sizes(text: str) -> set[str]:
    """Model sizes a name or label gives ("7b", "1.5b", "350m")."""
    return {f"{float(n):g}{unit.lower()}" for n, unit in _SIZE.findall(text)}


def _versions(text: str) -> set[str]:
    """Bare version numbers a name or label gives ("2" of "Llama 2 7B", not the size)."""
    spaced = text.replace("-", " ").replace("_", " ")
    return set(re.findall(r"(?<![\w.])\d{1,2}(?![\w.])", spaced)) | set(
        re.findall(r"(?<![\w.])[vV](\d{1,2})(?![\w.])", spaced)
    )


_PARENTHESES = re.compile(r"\([^()]{0,80}\)")


def _is_this_model(label: str, repo_id: str, rows: int) -> bool:
    """Is a table row (or column) about the model of the card (not a baseline it is compared with)?

    Sizes must agree where both say one: "Llama 2 13B" is not Llama-2-7b; a label that is
    only a size ("7B Params") is the model of that size.
    """
    text = label.lower()
    if rows == 1 or _OURS.search(text):
        return True
    own_sizes, label_sizes = _sizes(repo_id.rsplit("/", 1)[-1]), _sizes(label)
    if own_sizes and label_sizes:
        if not own_sizes & label_sizes:
            return False
        if _SIZE_ONLY.fullmatch(label):
            return True
    own_versions, label_versions = _versions(repo_id.rsplit("/", 1)[-1]), _versions(label)
    if own_versions and label_versions and not own_versions & label_versions:
        return False  # "Llama 1 7B" is not Llama-2-7b
    variant = _model_words(repo_id) & _TUNED_VARIANTS
    if variant and not variant & set(re.split(r"[^a-z0-9]+", text)):
        return False  # "Llama 2 7B" in Llama-2-7b-chat's card is the pretrained model it was tuned from
    name = repo_id.rsplit("/", 1)[-1].lower()
    if name and (name in text.replace(" ", "-") or text.replace(" ", "-") in name):
        return True
    bare = _PARENTHESES.sub("", text).strip(" *")
    if len(bare) >= 4 and re.fullmatch(r"[a-z0-9][a-z0-9.-]*", bare) and f"-{bare}-" in f"-{name}-":
        return True  # "mls100 (demonstration below)" in lgris/bp-mls100-xlsr's card: a whole part of the name
    words = _model_words(repo_id)
    label_words = {w for w in re.split(r"[^a-z0-9]+", text) if len(w) > 1}
    return bool(label_words) and len(label_words & words) >= max(2, len(label_words) - 1)


_AVERAGE = re.compile(r"avg|average|mean", re.IGNORECASE)
_NOT_A_TASK = re.compile(
    r"^(?:#?\s*params?|parameters|size|speed-?up|latency|score|"
    r"total|time|memory|flops|#|layers?|hidden|con(?:tex|ten)t length|tokens|lr|learning rate|batch)\b",
    re.IGNORECASE,
)


def _split_names(column: str, count: int) -> list[str]:
    """Names for the values of a cell holding several ("90.2/83.2" under "SQuAD1.1" or "MNLI-(m/mm)")."""
    if count <= 1:
        return [column]
    match = re.fullmatch(r"(.+?)[-\s]*\(([^)]*/[^)]*)\)\s*", column)
    if match:
        return [f"{match.group(1)}-{suffix.strip()}" for suffix in match.group(2).split("/")]
    return [column] * count


_BENCHMARK_HEADER = re.compile(r"(?:benchmarks?|datasets?|tasks?|evaluation|eval|test|categor(?:y|ies)|subjects?)\b",
                               re.IGNORECASE)  # fmt: skip
# a benchmark's parts as rows ("| Category | ... |": Health, Nutrition): the caption names the benchmark
_PARTS_HEADER = re.compile(r"categor(?:y|ies)|subjects?", re.IGNORECASE)
_METRIC_HEADER = re.compile(r"metrics?|measure", re.IGNORECASE)
_SETTING_HEADER = re.compile(r"#?\s*(?:shots?|n-shot|setting|few-shot|category|type|domain)", re.IGNORECASE)
_NOT_A_BENCHMARK = re.compile(r"^#|params|architecture|context|size|tokens\b", re.IGNORECASE)
_YEAR = re.compile(r"(?:19|20)\d\d[a-z]?")
_PARENTHESISED = re.compile(r"^(.*?)\s*\(([^()]{1,40})\)\s*$")


def _benchmark_column(header: list[str]) -> int | None:
    """The column of benchmark names among the first three ("Benchmark (Metric)" over a "Category" beside it)."""
    named = [j for j, h in enumerate(header[:3]) if _BENCHMARK_HEADER.match(h.strip(" *"))]
    datasets = [j for j in named if re.match(r"datasets?|benchmarks?", header[j].strip(" *"), re.IGNORECASE)]
    if datasets:  # "| Task | Dataset | Metric |": the dataset names the benchmark
        return datasets[0]
    return next((j for j in named if not _PARTS_HEADER.match(header[j].strip(" *"))), named[0] if named else None)


def _compared_models_results(table: Table, repo_id: str) -> list[tuple[str, str, str, list[str]]] | None:
    """(benchmark, metric, cell, row) of this model's column in a table whose columns are models.

    "| Benchmark (Metric) | GPT-4o | DeepSeek V3 | DeepSeek R1 |" or "| Benchmark | Metric |
    2B Params | 7B Params |": the column that names the card's model (or its size) is its
    result; the others are the baselines it is compared with. None when the table is not
    of this shape or several columns could be this model's; empty when the columns are other models.
    """
    header = table.header
    if len(header) < 3:
        return None
    bench = _benchmark_column(header)
    if bench is None:
        return None
    metric_column = next((j for j, h in enumerate(header) if j != bench and _METRIC_HEADER.fullmatch(h.strip(" *"))),
                         None)  # fmt: skip
    others = [
        j
        for j in range(bench + 1, len(header))
        if j != metric_column and header[j].strip() and not _SETTING_HEADER.fullmatch(header[j].strip(" *"))
    ]
    if len(others) < 2:
        return None
    own = [j for j in others if _is_this_model(header[j], repo_id, len(others))]
    if len(own) > 1:
        name = re.sub(r"[^a-z0-9]", "", repo_id.rsplit("/", 1)[-1].lower())
        own = [j for j in own if re.sub(r"[^a-z0-9]", "", header[j].lower()) == name]
    if len(own) != 1:
        labels = [row[bench] for row in table.rows if bench < len(row)]
        models_as_columns = not any(_KNOWN_EVAL.search(header[j]) for j in others) and (
            "bench" in header[bench].lower() or sum(bool(_KNOWN_EVAL.search(x)) for x in labels) * 2 >= len(labels)
        )
        return [] if models_as_columns and not own else None  # a comparison of other models says nothing of this one
    column = own[0]
    default_metric = _caption_metric(table.caption) or ""  # "Model performance is given as ... accuracy in percent."
    out: list[tuple[str, str, str, list[str]]] = []
    for row in table.rows:
        if column >= len(row) or bench >= len(row):
            continue
        label = row[bench].strip(" *")
        if not label or _NOT_A_BENCHMARK.search(label):
            continue
        dataset, metric = label, default_metric
        parenthesised = _PARENTHESISED.match(label)
        if parenthesised:
            inner = parenthesised.group(2)
            found = _METRIC_IN_TEXT.search(inner)
            named = metric_of(inner) or (_METRIC_OF[found.group(1).lower()] if found else None)
            if named or not (_YEAR.fullmatch(inner.strip()) or default_metric):
                # "MMLU (EM)", "GSM8K (8-shot)": the metric or the setting; "Maas et al. (2011)" is a name
                dataset, metric = parenthesised.group(1), named or inner.lower()
        if metric_column is not None and metric_column < len(row) and row[metric_column].strip():
            cell = row[metric_column].strip(" *")
            names, values = cell.split("/"), row[column].split("/")
            if len(names) > 1 and len(names) == len(values):  # "EM/F1" over "86.1/92.3"
                for name, value in zip(names, values, strict=True):
                    out.append((dataset.lower(), metric_of(name) or name.strip().lower(), value, row))
                continue
            metric = metric_of(cell) or cell.lower()
        out.append((dataset.lower(), metric, row[column], row))
    return out


_NUMBER_FORMAT = re.compile(r"(?:nv|mx)?(?:fp|bf|int|uint)\d{1,2}|w\d{1,2}a\d{1,2}", re.IGNORECASE)


# a cell that is an amount of data or time, not a score: "161h", "5.4 hours", "12GB", "20k"
_AMOUNT = re.compile(r"~?\d[\d.,]*\s*(?:h|hrs?|hours?|mins?|minutes?|days?|[kmgt]i?b|[km])", re.IGNORECASE)
_Add = Callable[[str | None, str | None, str, str, list[str]], None]
"""Records one result read from a table: (dataset, split, metric, cell, row)."""


def _table_results(table: Table, repo_id: str, context_dataset: str | None) -> list[Result]:
    if table.rows and len(table.rows) >= 2 and not any(h.strip() for h in table.header):
        # an empty header row ("| | |" over "|---|---|") then the real header as the first row, a common trick
        table = replace(table, header=table.rows[0], rows=[r for r in table.rows[1:] if any(c.strip() for c in r)])
    if _is_training_log(table) or not table.rows:
        return []
    if any(_BASE_SECTION.match(h) for h in table.headings) and not _model_words(repo_id) & {"base", "pretrained"}:
        return []  # the results of the base model this one was tuned from, not this model's
    header = table.header
    first = header[0].lower().strip(" :*") if header else ""
    metric_columns = {j: m for j, h in enumerate(header) if j > 0 and (m := metric_of(h))}
    row_metrics = [metric_of(row[0]) if row else None for row in table.rows]
    results: list[Result] = []

    def add(dataset: str | None, split: str | None, metric: str, cell: str, row: list[str]) -> None:
        number = parse_number(cell)
        if number is None or len(results) >= MAX_RESULTS or _AMOUNT.fullmatch(cell.strip(" *")):
            return
        value, written, unit = number
        snippet = _snippet(" | ".join(row))
        results.append(Result(dataset, split, metric, value, written, unit, "table", Evidence(snippet, table.line)))

    compared = _compared_models_results(table, repo_id)
    by_header = {j: parsed for j, h in enumerate(header) if j > 0 and (parsed := _header_metrics(h))}
    if compared is None and first in _ENTITY_HEADERS and any(len(p[1]) > 1 for p in by_header.values()):
        _entity_rows_results(table, repo_id, context_dataset, by_header, add)
    elif compared is not None:
        column = _benchmark_column(header)
        parts = column is not None and bool(_PARTS_HEADER.match(header[column].strip(" *"))) and bool(context_dataset)
        for benchmark, measure, cell, row in compared:
            named = f"{context_dataset} ({benchmark})" if parts else benchmark
            add(named, split_of(table.caption), measure, cell, row)
    elif header and all(metric_of(h) for h in header):  # "| EM | F1 |" over one row of numbers
        for row in table.rows[:3]:
            for j, metric in enumerate(metric_of(h) for h in header):
                if metric and j < len(row):
                    add(context_dataset, None, metric, row[j], row)
    elif metric_columns:
        _metric_columns_results(table, repo_id, context_dataset, first, metric_columns, add)
    elif (numeric_rows := _task_columns_rows(table, row_metrics)) is not None:
        _task_columns_results(table, repo_id, context_dataset, first, numeric_rows, add)
    elif sum(m is not None for m in row_metrics) >= max(1, len(table.rows) // 2):
        _metric_rows_results(table, repo_id, context_dataset, row_metrics, add)
    elif len(table.rows) == 1 and (caption_metric := _caption_metric(table.caption)):
        _bare_row_results(table, context_dataset, caption_metric, add)
    return results


def _caption_metric(caption: str) -> str | None:
    """The one metric a table's caption names ("*Result (WER)*:"), if it names exactly one."""
    metrics = {metric_of(m.group(1)) for m in _METRIC_IN_TEXT.finditer(caption[-200:])}
    metrics.discard(None)
    return metrics.pop() if len(metrics) == 1 else None


def _bare_row_results(table: Table, context_dataset: str | None, metric: str, add: _Add) -> None:
    """A header of names over one row of numbers only, the metric in the caption: each column a dataset or a
    part of one ("| "clean" | "other" |" over "| 3.4 | 8.6 |" after "Result (WER):")."""
    row = table.rows[0]
    if len(row) != len(table.header) or not all(parse_number(c) is not None for c in row):
        return
    for name, cell in zip(table.header, row, strict=True):
        label = name.strip(" \"'*`").lower()
        if not label or metric_of(label) or parse_number(label) is not None:
            return
        split = split_of(label)
        if split and label in _SPLITS:
            add(context_dataset, split, metric, cell, row)
        else:
            add(f"{context_dataset} ({label})" if context_dataset else label, None, metric, cell, row)


def _header_metrics(header: str) -> tuple[str | None, list[str]] | None:
    """A column header naming a dataset and its metrics: "SQuAD 1.1 F1/EM" -> ("squad 1.1", ["f1", "exact_match"])."""
    words = header.replace("*", "").split()
    parts = [part for part in words[-1].split("/") if part] if words else []
    metrics = [metric_of(part) for part in parts]
    if not parts or not all(metrics):
        return None
    rest = [w for w in words[:-1] if w.lower().strip("()") not in _METRIC_QUALIFIERS and not split_of(w)]
    return " ".join(rest).lower() or None, [m for m in metrics if m]


def _entity_rows_results(table: Table, repo_id: str, context_dataset: str | None,
                         by_header: dict[int, tuple[str | None, list[str]]], add: _Add) -> None:  # fmt: skip
    """Rows are models, columns a dataset and its metrics ("| Model | SQuAD 1.1 F1/EM |", cells "91.0/84.3")."""
    for row in table.rows:
        if not row or not _is_this_model(row[0], repo_id, len(table.rows)):
            continue
        for j, (dataset, metrics) in by_header.items():
            if j >= len(row):
                continue
            cells = row[j].split("/") if len(metrics) > 1 else [row[j]]
            if len(cells) != len(metrics):
                continue
            for metric, cell in zip(metrics, cells, strict=True):
                add(dataset or context_dataset, split_of(table.header[j]), metric, cell, row)


def _metric_columns_results(table: Table, repo_id: str, context_dataset: str | None, first: str,
                            metric_columns: dict[int, str], add: _Add) -> None:  # fmt: skip
    """Metrics as columns ("| Dataset | Accuracy | F1 |"): each row a dataset or split, or a model (this one's)."""
    entity_rows = first in _ENTITY_HEADERS
    qualified = _QUALIFIED_HEADER.fullmatch(first)
    parts_of = qualified.group(1) if qualified and not _GENERIC_QUALIFIER.fullmatch(qualified.group(1)) else None
    own_rows = [
        row for row in table.rows if row and (not entity_rows or _is_this_model(row[0], repo_id, len(table.rows)))
    ]
    if entity_rows and len(own_rows) > 1:
        # "Bert-base-uncased-emotion" beside "Distilbert-base-uncased-emotion": the row that is the model's name
        name = _alnum(repo_id.rsplit("/", 1)[-1])
        exact = [row for row in own_rows if _alnum(_plain(row[0])) == name]
        own_rows = exact or own_rows
    for row in own_rows:
        label = row[0] if row else ""
        if entity_rows:
            dataset, split = context_dataset, None
        elif first in _DATASET_HEADERS or not split_of(label):
            dataset, split = (label.lower() or context_dataset), split_of(first) if first else None
            if parts_of and label.strip():
                dataset = f"{parts_of} ({label.strip().lower()})"  # "| Common Voice Languages |" over "| ar |"
            if split_of(label) and label.lower() in _SPLITS:
                dataset, split = context_dataset, split_of(label)
        else:
            dataset, split = context_dataset, split_of(label)
        for j, metric in metric_columns.items():
            if j < len(row):
                add(dataset, split, metric, row[j], row)


# a first column that names a dataset and what its rows are: "Common Voice Languages", "XNLI language"
_QUALIFIED_HEADER = re.compile(
    r"([a-z][\w .-]{1,40}?)\s+(?:languages?|langs?|subsets?|configs?|configurations?|locales?)"
)
_GENERIC_QUALIFIER = re.compile(r"(?:the\s+)?(?:evaluation|eval|test|dev|target|source|input|output|supported|other)")


# a column that names a benchmark: "MMLU", "ARC-C", "Situated QA", "agqa", "ArabicMMLU*" (a footnote mark)
_BENCHMARK_NAME = re.compile(r"[A-Z][\w-]{1,15}(?:\s\(?\w+\)?)?")
_LOWER_BENCHMARK = re.compile(r"[a-z][a-z0-9-]{2,11}")


def _is_benchmark_column(header: str) -> bool:
    """A column header that names a benchmark (not a split, a size or a count)."""
    name = header.strip(" *†‡")
    if _KNOWN_EVAL.search(name) or _BENCHMARK_NAME.fullmatch(name):
        return True
    return bool(_LOWER_BENCHMARK.fullmatch(name)) and not split_of(name) and not _NOT_A_TASK.search(name)


def _task_columns_rows(table: Table, row_metrics: list[str | None]) -> list[list[str]] | None:
    """The rows of numbers of a table whose columns are tasks ("| Task | MNLI | QQP |"); None for another shape."""
    header = table.header
    columns = [h for h in header[1:] if h.strip()]
    numeric_rows = [
        row for row in table.rows if sum(parse_number(c) is not None for c in row[1:]) >= max(1, len(row) - 2)
    ]
    if (
        not any(row_metrics)
        and columns
        and numeric_rows
        and len(columns) >= 2
        and sum(_is_benchmark_column(h) for h in columns) >= len(columns) - 1
    ):
        return numeric_rows
    return None


def _task_columns_results(table: Table, repo_id: str, context_dataset: str | None, first: str,
                          numeric_rows: list[list[str]], add: _Add) -> None:  # fmt: skip
    """Tasks as columns ("| Task | MNLI | QQP | ... |"), a row of scores (this model's, when rows are models)."""
    header = table.header
    sizes = [j for j in range(1, len(header)) if all(_SIZE.fullmatch(r[j].strip()) for r in numeric_rows if j < len(r))]
    group, labels = "", {}
    for r in table.rows:  # a row with only a label ("| V2 |") heads the rows below it
        if r and r[0].strip() and not any(c.strip() for c in r[1:]):
            group = r[0].strip()
        else:
            labels[id(r)] = " ".join([group, r[0] if r else "", *(r[j] for j in sizes if j < len(r))]).strip()
    rows = [
        r
        for r in numeric_rows
        if len(numeric_rows) == 1 or _is_this_model(labels.get(id(r), r[0]), repo_id, len(numeric_rows))
    ]
    name = _alnum(repo_id.rsplit("/", 1)[-1])
    exact = [r for r in rows if _alnum(_plain(labels.get(id(r), r[0]))) == name]
    rows = exact or rows  # "jais-adapted-7b" over "jais-adapted-7b-chat"
    if len(rows) > 1:  # "XtremeDistil-l6-h384" over "XtremeDistil-l6-h256": the row naming most of the model
        words = _model_words(repo_id)
        overlap = {id(r): len(words & set(re.split(r"[^a-z0-9]+", labels.get(id(r), r[0]).lower()))) for r in rows}
        rows = [r for r in rows if overlap[id(r)] == max(overlap.values())]
    # "| Precision | MMLU |" over rows "FP8", "FP4": the first column is the numeric format, not a metric
    formats = all(_NUMBER_FORMAT.fullmatch(r[0].strip()) for r in numeric_rows if r)
    first_metric = "" if formats else metric_of(first) or _caption_metric(table.caption) or ""
    # "| model | fairseq | transformers |" under "Here are the BLEU scores": one benchmark scored by two tools
    tools = all(h.strip(" *`").lower() in _PACKAGES for h in header[1:] if h.strip())
    for row in rows[:2]:
        for j in range(1, min(len(row), len(header))):
            column = header[j].strip()
            if not column or metric_of(column) or _NOT_A_TASK.search(column):
                continue
            parts = row[j].split("/")
            names = _split_names(column, len(parts))
            for part, name in zip(parts, names, strict=False):
                split = split_of(first) or split_of(table.caption)
                if tools:
                    add(context_dataset, split, first_metric, part, row)
                elif _AVERAGE.fullmatch(name.strip(" .*")):  # "| Avg |": the average over the benchmark's tasks
                    add(context_dataset or "average", split, first_metric, part, row)
                else:
                    add(name.lower(), split, first_metric, part, row)


def _metric_rows_results(table: Table, repo_id: str, context_dataset: str | None, row_metrics: list[str | None],
                         add: _Add) -> None:  # fmt: skip
    """Metrics as rows ("| Accuracy | 0.91 |"): each column a split, a dataset, or this model."""
    header = table.header
    for row, metric in zip(table.rows, row_metrics, strict=True):
        if metric is None:
            continue
        for j in range(1, min(len(row), len(header))):
            column = header[j]
            split = split_of(column)
            dataset = (
                context_dataset if split or not column.strip() or _is_this_model(column, repo_id, 1) else column.lower()
            )
            add(dataset, split, metric, row[j], row)


_FOLLOWING = re.compile(r"following results on the (evaluation|test|validation) set", re.IGNORECASE)
_ITEM_RESULT = re.compile(r"^\s*([A-Za-z][\w .()/-]{0,40}?)\s*[:=]\s*([-+]?\d[\d.,]*\s*%?)\s*$")
_ON_DATASET = re.compile(
    r"fine-?tuned (?:version )?(?:of .{1,200}? )?on (?:the |an? )?(?:\[([^\]]{1,100})\]|([\w./\- ]{1,80}?)) dataset",
    re.IGNORECASE,
)


def trainer_dataset(text: str) -> str | None:
    """The dataset of the Trainer's "fine-tuned version of X on the Y dataset" sentence."""
    match = _ON_DATASET.search(text)
    if match is None:
        return None
    name = (match.group(1) or match.group(2) or "").strip().lower()
    return None if not name or name in PLACEHOLDER_DATASETS else name


def _list_results(doc: Document, dataset: str | None) -> list[Result]:
    """The Trainer's "It achieves the following results on the evaluation set:" list."""
    results: list[Result] = []
    for index, block in enumerate(doc.blocks):
        match = _FOLLOWING.search(block.text)
        if match is None:
            continue
        split = "test" if match.group(1).lower() == "test" else None
        lines = [(line, block.line + i) for i, line in enumerate(block.text.splitlines()[1:], start=1)]
        for following in doc.blocks[index + 1 : index + 40]:
            if following.kind != "item":
                break
            lines.append((following.text, following.line))
        for text, line in lines:
            item = _ITEM_RESULT.match(text.lstrip("-* "))
            if item is None:
                continue
            metric = metric_of(item.group(1)) or _metric_key(item.group(1))
            number = parse_number(item.group(2))
            if metric and number:
                value, written, unit = number
                results.append(
                    Result(dataset, split, metric, value, written, unit, "list", Evidence(_snippet(text), line))
                )
    return results


def _metric_key(label: str) -> str | None:
    key = "_".join(label.lower().split())
    return key if re.fullmatch(r"[a-z][a-z0-9_@./-]{0,30}", key) and key not in ("epoch", "step", "steps") else None


_SENTENCE_PATTERNS = (
    # "achieves 91.3 F1 on CoNLL-2003", "reaches an accuracy of 93.5% on IMDB"
    re.compile(
        rf"(?:achiev\w*|reach\w*|obtain\w*|attain\w*|scor\w*|get\w*|gives?|yields?)\s+(?:an?\s+|the\s+)?"
        rf"(?:(?P<m1>{_METRIC_WORDS})\s+(?:score\s+)?(?:of\s+)?(?P<v1>\d[\d.,]*\s*%?)|(?P<v2>\d[\d.,]*\s*%?)\s*(?P<m2>{_METRIC_WORDS}))"
        rf"(?:\s+(?:on|in|for)\s+(?:the\s+)?(?P<d>[A-Za-z][\w.\-]*(?:\s[A-Z0-9][\w.\-]*){{0,3}}))?",
        re.IGNORECASE,
    ),
    # "... and RougeL score of 24.5": a metric's score, named as such
    re.compile(
        rf"(?<![\w-])(?P<m1>{_METRIC_WORDS})\s+score\s+of\s+(?P<v1>\d[\d.,]*\s*%?)"
        rf"(?:\s+(?:on|in|for)\s+(?:the\s+)?(?P<d>[A-Z][\w.\-]*(?:\s[A-Z0-9][\w.\-]*){{0,3}}))?",
        re.IGNORECASE,
    ),
    # "The F1 obtained on dev data (train and test merged) is 91.38"
    re.compile(
        rf"(?<![\w-])(?P<m1>{_METRIC_WORDS})\s+(?:score\s+)?(?:obtained|achieved|reached|measured)\s+on\s+(?:the\s+)?"
        rf"(?P<d>[\w.\- ]{{2,40}}?)\s+(?:\([^)]{{0,100}}\)\s+)?(?:is|was|of|=)\s+(?P<v1>\d[\d.,]*\s*%?)",
        re.IGNORECASE,
    ),
    # "Test WER: 19.2 %", "WER on the test set: 19.2"
    re.compile(
        rf"(?<![\w-])(?P<m1>(?:test\s+|eval\s+|dev\s+)?(?:{_METRIC_WORDS}))"
        rf"(?:\s+on\s+(?:the\s+)?(?P<d>[\w.\- ]{{2,40}}?))?"
        rf"\s*(?:score)?\s*[:=]\s*(?P<v1>\d[\d.,]*\s*%?)",
        re.IGNORECASE,
    ),
)
_COMPARISON = re.compile(
    r"for comparison|compared (?:to|with)|baseline|\bvs\.?\b|versus|while the original|"
    r"\b(?:original|base) model\b",
    re.IGNORECASE,
)
# "FUNSD (0.7895 → 0.8420)": a benchmark and the model's score after the previous best
_IMPROVED = re.compile(r"\b([A-Z][\w-]{1,30})\s*\(\s*\d[\d.,]*\s*%?\s*(?:→|->|⟶|=>)\s*(\d[\d.,]*\s*%?)\s*\)")
_TEST_RESULT = re.compile(r"test result\s*[:=]\s*(\d[\d.,]*\s*%?)", re.IGNORECASE)


_DIGIT = re.compile(r"\d")


def _sentence_results(doc: Document, dataset: str | None, default_metric: str | None) -> list[Result]:
    results: list[Result] = []
    seen: set[tuple[str, str]] = set()
    for block in doc.blocks:
        if block.kind not in ("paragraph", "item") or not _DIGIT.search(block.text):
            continue
        if _FOLLOWING.search(block.text):
            continue  # read as the Trainer's list
        text = " ".join(block.text.split())
        for pattern in _SENTENCE_PATTERNS if _METRIC_IN_TEXT.search(text) else ():
            for match in pattern.finditer(text):
                groups = match.groupdict()
                if _COMPARISON.search(text[max(0, match.start() - 80) : match.start()]):
                    continue  # a baseline's number, given for comparison
                metric_text = groups.get("m1") or groups.get("m2") or ""
                metric = metric_of(
                    metric_text.split()[-1]
                    if metric_text.split()[0].lower() in ("test", "eval", "dev")
                    else metric_text
                )
                number = parse_number(groups.get("v1") or groups.get("v2") or "")
                if metric is None or number is None or (metric, number[1]) in seen:
                    continue
                seen.add((metric, number[1]))
                named = (groups.get("d") or "").strip().rstrip(".,;:!?").lower()
                split = split_of(metric_text) or (split_of(named) if named else None)
                results.append(
                    Result(
                        named if named and not split_of(named) else dataset,
                        split,
                        metric,
                        number[0],
                        number[1],
                        number[2],
                        "sentence",
                        Evidence(_snippet(text), block.line),
                    )
                )
        for match in _IMPROVED.finditer(text) if "(" in text else ():
            number = parse_number(match.group(2))
            if number is not None and (match.group(1), number[1]) not in seen:
                seen.add((match.group(1), number[1]))
                results.append(
                    Result(match.group(1).lower(), None, "", *number, "sentence", Evidence(_snippet(text), block.line))
                )
        if default_metric:
            for match in _TEST_RESULT.finditer(text):
                number = parse_number(match.group(1))
                if number and (default_metric, number[1]) not in seen:
                    seen.add((default_metric, number[1]))
                    results.append(
                        Result(
                            dataset,
                            "test",
                            default_metric,
                            number[0],
                            number[1],
                            number[2],
                            "sentence",
                            Evidence(_snippet(text), block.line),
                        )
                    )
    return results


_CODE_METRIC = re.compile(
    r"""^\s*["']?([A-Za-z][\w@./ -]{0,40}?)["']?\s*[:=]\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*,?\s*$"""
)


# The Trainer's metrics dict prefixes each key with its split ("test_accuracy", "eval_f1"); some keys are
# bookkeeping, not results ("test_runtime", "eval_samples_per_second", "test_mem_gpu_alloc_delta").
_SPLIT_PREFIX = re.compile(r"^(test|eval|validation|val|dev|predict)_(.+)$")
_NOT_A_METRIC = re.compile(
    r"total|thresh|seed|batch|epoch|count|^n$|runtime|per_second|mem_|_delta|flos|^steps?$|_bs$|beams|^num_|^max_|^min_"
)


def _code_metric(label: str) -> tuple[str | None, str | None]:
    """(split, metric) of a printed metric's key: ``test_accuracy`` is the test split's accuracy."""
    key = "_".join(label.lower().split())
    split = None
    prefixed = _SPLIT_PREFIX.match(key)
    if prefixed:
        split, key = (
            _SPLITS.get(prefixed.group(1), "test" if prefixed.group(1) == "predict" else None),
            prefixed.group(2),
        )
    metric = metric_of(key) or _metric_key(key)
    if metric is None or _NOT_A_METRIC.search(key) or _NOT_A_METRIC.search(metric):
        return split, None
    return split, metric


def _code_results(doc: Document, dataset: str | None) -> list[Result]:
    """Metric printouts in code blocks of evaluation sections (``"exact": 79.97,``, ``f1 = 93.15``), and
    scikit-learn classification reports anywhere."""
    results: list[Result] = []
    for block in doc.blocks:
        if block.kind != "code":
            continue
        results += _classification_report(block, dataset)
        if not any(_EVAL_HEADINGS.search(h) for h in block.headings[-2:]):
            continue
        for offset, raw in enumerate(block.text.splitlines()[:200]):
            match = _CODE_METRIC.match(raw)
            pairs = [(match.group(1), match.group(2))] if match else _DICT_PAIR.findall(raw[:2_000])
            for label, value in pairs[:50]:
                split, metric = _code_metric(label)
                number = parse_number(value)
                if not (metric and number):
                    continue
                results.append(
                    Result(
                        dataset,
                        split,
                        metric,
                        number[0],
                        number[1],
                        number[2],
                        "code",
                        Evidence(_snippet(raw), block.line + offset),
                    )
                )
    return results


# a printed dict's pairs: "'Accuracy': 0.9723, 'P-Si-SNR': 10.36"
_DICT_PAIR = re.compile(r"""["']([A-Za-z][\w@./ -]{0,40}?)["']\s*:\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.])""")
_REPORT_HEADER = re.compile(r"^\s*precision\s+recall\s+f1-score\s+support\s*$")
_REPORT_AVERAGE = re.compile(
    r"^\s*(micro|macro|weighted|samples)\s+avg\s+(\d*\.\d+)\s+(\d*\.\d+)\s+(\d*\.\d+)\s+\d+\s*$"
)
_REPORT_PREFIX = {"micro": "", "macro": "macro_", "weighted": "weighted_", "samples": "samples_"}


def _classification_report(block: Block, dataset: str | None) -> list[Result]:
    """The averages of scikit-learn's ``classification_report`` printout (micro, macro and weighted P/R/F1)."""
    lines = block.text.splitlines()[:500]
    if not any(_REPORT_HEADER.match(line) for line in lines):
        return []
    split = next((split_of(h) for h in reversed(block.headings) if split_of(h)), None)
    results = []
    for offset, raw in enumerate(lines):
        match = _REPORT_AVERAGE.match(raw)
        if match is None:
            continue
        prefix = _REPORT_PREFIX[match.group(1)]
        for metric, cell in zip(("precision", "recall", "f1"), match.groups()[1:4], strict=True):
            number = parse_number(cell)
            if number is not None:
                results.append(Result(dataset, split, prefix + metric, number[0], number[1], number[2], "code",
                                      Evidence(_snippet(raw), block.line + offset)))  # fmt: skip
    return results


def read_results(doc: Document, repo_id: str, *, dataset: str | None, default_metric: str | None) -> list[Result]:
    """Every result the body reports for the model, deduplicated on (dataset, split, metric, value)."""
    results = _list_results(doc, dataset)
    for table in doc.tables:
        caption_dataset = _dataset_in(" ".join((table.before, *table.headings))) or dataset
        results += _table_results(table, repo_id, caption_dataset)
    results += _sentence_results(doc, dataset, default_metric)
    results += _code_results(doc, dataset)
    unique: dict[tuple[Any, ...], Result] = {}
    for result in results:
        if not result.metric and result.dataset and _NOT_A_BENCHMARK_ROW.search(result.dataset):
            continue  # "| Number of layers | 6 |": the model's shape, not a score
        key = (result.dataset, result.split, result.metric, round(result.value, 6))
        unique.setdefault(key, result)
    return list(unique.values())[:MAX_RESULTS]


# Row or column labels that describe a model's shape or its training, never a benchmark (a number under them
# without a metric is no result)
_NOT_A_BENCHMARK_ROW = re.compile(
    r"\b(?:layers?|heads?|hidden|dimensions?|embeddings?|parameters?|params|vocab(?:ulary)?|tokens?|"
    r"steps?|epochs?|batch|learning rate|context|sequence length|(?:fine-?tuned |base |pre-?trained )?models?|"
    r"resolution|fps|frames?(?: rate)?|(?:video |audio |clip )?length|duration|sampling rate|sample rate)$",
    re.IGNORECASE,
)
_KNOWN_EVAL = re.compile(
    r"\b(conll-?2003|squad(?:\s?v?2(?:\.0)?)?|glue|superglue|common[ _]voice|librispeech|imagenet|mnli|sst-?2|xnli|"
    r"wikiann|tweet_eval|emotion|imdb|cnn[_ /]dailymail|xsum|samsum|wmt\d\d|tatoeba|flores|mmlu|gsm8k|"
    r"truthful-?qa|hellaswag|winogrande|piqa|boolq|openbookqa|humaneval|mbpp)\b",
    re.IGNORECASE,
)


def _dataset_in(text: str) -> str | None:
    match = _KNOWN_EVAL.search(text)
    return match.group(1).lower().replace(" ", "_").replace("-", "") if match else None


# -- base models and datasets -----------------------------------------------------------------------

_HUB_ID = r"[A-Za-z0-9][\w.\-]{0,95}(?:/[A-Za-z0-9][\w.\-]{0,95})?"
_HUB_MODEL_LINK = re.compile(
    rf"https?://huggingface\.co/(?!datasets/|spaces/|docs/|blog/|papers/|models\b|transformers/)({_HUB_ID})/?"
    r"(?=[)\s\"'>#?]|$)"
)
_HUB_DATASET_LINK = re.compile(rf"https?://huggingface\.co/datasets/({_HUB_ID})/?(?=[)\s\"'>#?]|$)")
# The Hub's un-namespaced ids (every one in the Feb-2022 snapshot); text names them loosely ("GPT-2", "RoBERTa base").
LEGACY_IDS = (
    "albert-base-v1",
    "albert-base-v2",
    "albert-large-v1",
    "albert-large-v2",
    "albert-xlarge-v1",
    "albert-xlarge-v2",
    "albert-xxlarge-v1",
    "albert-xxlarge-v2",
    "bert-base-cased",
    "bert-base-cased-finetuned-mrpc",
    "bert-base-chinese",
    "bert-base-german-cased",
    "bert-base-german-dbmdz-cased",
    "bert-base-german-dbmdz-uncased",
    "bert-base-multilingual-cased",
    "bert-base-multilingual-uncased",
    "bert-base-uncased",
    "bert-large-cased",
    "bert-large-cased-whole-word-masking",
    "bert-large-cased-whole-word-masking-finetuned-squad",
    "bert-large-uncased",
    "bert-large-uncased-whole-word-masking",
    "bert-large-uncased-whole-word-masking-finetuned-squad",
    "camembert-base",
    "ctrl",
    "distilbert-base-cased",
    "distilbert-base-cased-distilled-squad",
    "distilbert-base-german-cased",
    "distilbert-base-multilingual-cased",
    "distilbert-base-uncased",
    "distilbert-base-uncased-distilled-squad",
    "distilbert-base-uncased-finetuned-sst-2-english",
    "distilgpt2",
    "distilroberta-base",
    "gpt2",
    "gpt2-large",
    "gpt2-medium",
    "gpt2-xl",
    "openai-gpt",
    "roberta-base",
    "roberta-base-openai-detector",
    "roberta-large",
    "roberta-large-mnli",
    "roberta-large-openai-detector",
    "t5-11b",
    "t5-3b",
    "t5-base",
    "t5-large",
    "t5-small",
    "transfo-xl-wt103",
    "xlm-clm-ende-1024",
    "xlm-clm-enfr-1024",
    "xlm-mlm-100-1280",
    "xlm-mlm-17-1280",
    "xlm-mlm-en-2048",
    "xlm-mlm-ende-1024",
    "xlm-mlm-enfr-1024",
    "xlm-mlm-enro-1024",
    "xlm-mlm-tlm-xnli15-1024",
    "xlm-mlm-xnli15-1024",
    "xlm-roberta-base",
    "xlm-roberta-large",
    "xlm-roberta-large-finetuned-conll02-dutch",
    "xlm-roberta-large-finetuned-conll02-spanish",
    "xlm-roberta-large-finetuned-conll03-english",
    "xlm-roberta-large-finetuned-conll03-german",
    "xlnet-base-cased",
    "xlnet-large-cased",
)
_LEGACY = {re.sub(r"[^a-z0-9]", "", i): i for i in LEGACY_IDS}
_BASE_PHRASES = re.compile(
    r"(?:fine-?tuned (?:version|checkpoint) of|fine-?tune checkpoint of|checkpoint (?:for|of)"
    r"|fine-?tuned (?:from|on top of)|a fine-?tune of|initiali[sz]ed (?:from|with)|(?:is |was )?based (?:up)?on"
    r"|trained on top of|distilled (?:from|version of)|continued pre-?training of|quanti[sz]ed (?:version )?(?:of|from)"
    r"|merge of|adapter(?:\]\([^)\s]{1,200}\))? (?:for|on)|us(?:e|es|ed|ing) the pre-?trained"
    r"|further (?:pre-?)?trained (?:from|on top of)|starting from|derived from"
    r"|(?:^|[.!]\s+)fine-?tuned|(?<=\bmodel )fine-?tuned"
    r"|(?:base|language|pre-?trained|parent|backbone|original) model\s*[:：]"
    r"|(?<=\bis )an?|(?<=\bthis )an?)"
    r"[\s*_`]+(?:the\s+|a\s+|an\s+)?(?:pre-?trained\s+|original\s+)?",
    re.IGNORECASE,
)
# Words one of which a sentence naming a base model holds (a cheap test before the phrase pattern).
_BASE_HINTS = (
    "tune",
    "based",
    "initiali",
    "distil",
    "checkpoint",
    "model:",
    "model :",
    "top of",
    "derived",
    "merge",
    "quanti",
    "starting",
    "adapter",
    "continued",
    "is a ",
    "is an ",
    "this a ",
    "the pretrained",
    "the pre-trained",
    "as the base",
    "as base",
    "as a base",
    "as its base",
    "as the backbone",
    "as backbone",
)
_BASE_HINT = re.compile("|".join(re.escape(h) for h in _BASE_HINTS))
# "using [xlm-roberta-base](https://huggingface.co/xlm-roberta-base) as the base model": the id comes first
_AS_BASE = re.compile(
    r"\[([^\]]{1,100})\]\((https?://huggingface\.co/[^)\s]+)\)\s+as\s+(?:the\s+|a\s+|its\s+)?"
    r"(?:base|backbone|starting|initial|pre-?trained)\s+(?:model|checkpoint|point|encoder)\b",
    re.IGNORECASE,
)
_CANDIDATE = re.compile(
    r"\[((?:[^\[\]]|\[[^\[\]]{0,40}\]){1,100})\]\((https?://huggingface\.co/[^)\s]+)\)|"
    r"[`*_]{0,2}(" + _HUB_ID + r")[`*_]{0,2}"
)
_MODEL_AFTER = re.compile(
    r"\s+(?:model|checkpoint)?\s*(?:(?:that|which)\s+(?:was|is|has been)\s+)?fine-?tuned|^\s*$|"
    r"^\s*(?:model|checkpoint|weights)\b",
    re.IGNORECASE,
)
_COMMAND_FLAG = re.compile(
    r"(?:--|\")(model_name_or_path|pretrained_model_name_or_path|base_model|model_name|dataset_name|"
    r"dataset_config_name|dataset)(?:[= ]+|\"\s*:\s*)[\"']?([\w./\-]{2,150})"
)


def hub_id(name: str, repo_id: str = "") -> str | None:
    """``name`` as a model's Hub id (owner/name, or a legacy id however the text spells it), or None."""
    name = name.strip().strip("*`_'\".,;:()[]")
    if not name or name == repo_id or len(name) > 200 or name.endswith((".py", ".md", ".json", ".bin")):
        return None
    if "/" in name:
        owner, _, rest = name.partition("/")
        if owner.lower() in ("http:", "https:", "www.", "") or not rest or "/" in rest or owner.isdigit():
            return None
        return None if name == repo_id else name
    legacy = _LEGACY.get(re.sub(r"[^a-z0-9]", "", name.lower()))
    return legacy if legacy and legacy != repo_id else None


# "[distilbert-base-uncased](https://huggingface.co/distilbert-base-uncased) finetuned on the emotion dataset"
_LINK_THEN_TUNED = re.compile(
    r"\[[^\[\]]{2,100}\]\((https?://huggingface\.co/[^)\s]{2,200})\)\s+(?:was\s+|is\s+|has\s+been\s+)?"
    r"(?:fine-?tuned|finetuned|further\s+(?:pre-?)?trained)\b",
    re.IGNORECASE,
)
# A training script's model: from_pretrained("org/name"), or model_name = "org/name", beside a Trainer
_TRAINING_CODE = re.compile(r"\bTrainer\(|TrainingArguments\(|\.train\(\)")
_PRETRAINED_NAME = re.compile(
    r"(?:from_pretrained\(\s*|\b(?:model_name(?:_or_path)?|model_id|model_checkpoint|checkpoint|base_model)\s*=\s*)"
    r"['\"]([\w.-]{1,96}/[\w.-]{1,96})['\"]"
)


def read_base_models(doc: Document, repo_id: str) -> list[Fact]:
    """Base models the text names as Hub ids, with their evidence."""
    facts: dict[str, Fact] = {}

    def add(name: str, declared_in: str, snippet: str, line: int) -> None:
        if name not in facts and len(facts) < 20:
            facts[name] = Fact("base_model", name, None, declared_in, None, Evidence(_snippet(snippet), line))

    for block in doc.blocks:
        if _TRAINING_CODE.search(block.text):  # a training script, fenced or pasted as text
            for match in _PRETRAINED_NAME.finditer(block.text):
                found = hub_id(match.group(1), repo_id)
                if found is not None:
                    add(found, "code", match.group(0), block.line)
        if block.kind == "code":
            for match in _COMMAND_FLAG.finditer(block.text):
                flag, value = match.groups()
                found = None if flag.startswith("dataset") or value.startswith(("./", "/")) else hub_id(value, repo_id)
                if found is not None:
                    add(found, "command", match.group(0), block.line)
            continue
        if block.kind == "html" or not block.source:
            continue
        lower = block.source.lower()
        if not _BASE_HINT.search(lower):
            continue
        source = " ".join(block.source.split())
        for phrase in _BASE_PHRASES.finditer(source):
            tail = source[phrase.end() : phrase.end() + 220]
            candidate = _CANDIDATE.match(tail)
            if candidate is None:
                continue
            if candidate.group(2):  # a link: its target is the id, whatever the text says
                target = _HUB_MODEL_LINK.match(candidate.group(2))
                found = hub_id(target.group(1), repo_id) if target else None
            else:
                found = hub_id(candidate.group(3), repo_id)
                loose = phrase.group(0).lower().strip().startswith(("a ", "an "))
                if found and loose and not _MODEL_AFTER.match(tail[candidate.end() :]):
                    found = None  # "is a gpt2 ..." says what it is only when "model ... fine-tuned" follows
            if found:
                add(found, "text", source[max(0, phrase.start() - 40) : phrase.end() + 140], block.line)
        for tuned in _LINK_THEN_TUNED.finditer(source) if "](" in source else ():
            target = _HUB_MODEL_LINK.match(tuned.group(1))
            found = hub_id(target.group(1), repo_id) if target else None
            if found:
                add(found, "text", source[max(0, tuned.start() - 40) : tuned.end() + 40], block.line)
        for named in _AS_BASE.finditer(source) if " as " in source and "](" in source else ():
            target = _HUB_MODEL_LINK.match(named.group(2))
            found = hub_id(target.group(1), repo_id) if target else None
            if found:
                add(found, "text", source[max(0, named.start() - 40) : named.end() + 40], block.line)
    return list(facts.values())


_TRAINED_ON = re.compile(
    r"(?:fine[-\u2011]?tun(?:ed|ing|e)|(?:pre-?)?train(?:ed|ing)?|finetun(?:ed|ing|e))\s+(?:\w+\s+){0,6}?(?:on|with)\s+"
    r"(?:the\s+|a\s+)?"
    r"(?:\[([^\]]{2,80})\]\([^)]*\)|`([^`]{2,80})`|([\w./\-]{2,80}(?:\s[\w./\-]{1,40}){0,3}?))\\?\*?\s+"
    r"(?:dataset|corpus|data)\b",
    re.IGNORECASE,
)
# "fine-tuned on JW300 + OPUS CC-Align + [Igbo CC-100](…)": the datasets joined by "+" (the clause is
# split in Python: a pattern that also checked each part would backtrack on a long run of "+")
_TRAINED_ON_PLUS = re.compile(r"(?:fine-?tuned|trained)\s+on\s+([^.;:!?()\n]{3,400})", re.IGNORECASE)
_PLUS_PART = re.compile(r"[\w][\w .\-]{0,38}[\w]")
# "trained on the [MS Marco Passage Ranking](https://github.com/…) task": a linked name is a dataset's
_TRAINED_ON_LINK = re.compile(
    r"(?:fine-?tun(?:ed|ing)|finetun(?:ed|ing)|trained)\s+(?:\w+\s+){0,3}?(?:\[[^\[\]]{1,80}\]\([^)\s]{1,300}\)\s+)?"
    r"(?:on|with)\s+(?:the\s+)?\[([^\[\]]{2,80})\]\((https?://[^)\s]{4,500})\)",
    re.IGNORECASE,
)
_TASK_ACRONYMS = frozenset({"NER", "POS", "QA", "NLI", "ASR", "TTS", "MT", "NLU", "NLP", "NLG", "STS", "OCR"})
# what a link after "trained with" names when it is no dataset: a loss, an optimiser, a library's docs
_NOT_DATA_LINK = re.compile(r"loss|optimi[sz]er|objective|trainer|script|librar|framework|/docs?/|/api/", re.I)
# "trained solely on Natural Questions (NQ)", "I have used IMDB URDU dataset": a name that looks like one
_NAMED_DATA = re.compile(
    r"\btrained\s+(?:solely\s+|only\s+|exclusively\s+)?on\s+(?:the\s+)?"
    r"([A-Z][\w\-]*(?:\s[A-Z][\w\-]*){0,3})\s+\([A-Z][A-Za-z0-9\-]{1,10}\)|"
    r"\b(?:used|using)\s+(?:the\s+)?([A-Z][\w\-]*(?:\s[A-Z0-9][\w\-]*){0,3})\s+(?:dataset|corpus)\b"
)
_LINK = re.compile(r"\[([^\[\]]{1,200})\]\([^)\s]{1,500}\)")
_LEADING_LINK = re.compile(r"\s*(?:[-*+]|\d+\.)?\s*(?:the\s+)?\[([^\[\]]{2,80})\]\([^)\s]{1,500}\)", re.IGNORECASE)
_DATASET_ITEM = re.compile(
    r"^\s*[-*]?\s*(?:training\s+)?(?:data\s*sets?|datasets?|corpus|corpora|training data)\s*[:：]\s*"
    r"(.{2,200}?)\s*$",
    re.IGNORECASE,
)
_TRAINING_HEADINGS = re.compile(r"train|fine-?tun|data|corpus|corpora", re.IGNORECASE)
_DATA_HEADINGS = re.compile(r"\bdata\b|datasets?|corpus|corpora", re.IGNORECASE)
_NOT_A_DATASET_ROW = re.compile(
    r"^(?:train(?:ing)?|dev|valid(?:ation)?|test|total|all|sum|average|avg)\b", re.IGNORECASE
)
_EVAL_HEADINGS = re.compile(r"eval|result|benchmark|performance", re.IGNORECASE)
# Names that stand for no dataset in particular: placeholders, adjectives, and the names of load_dataset
# builders for local files (a card saying "datasets: json" trained on its author's own files).
PLACEHOLDER_DATASETS = frozenset(
    {
        "none",
        "null",
        "unknown",
        "an unknown",
        "the none",
        "generator",
        "custom",
        "my",
        "same",
        "this",
        "that",
        "our",
        "their",
        "large",
        "small",
        "big",
        "huge",
        "new",
        "private",
        "internal",
        "proprietary",
        "medium-size",
        "medium",
        "following",
        "above",
        "below",
        "same dataset",
        "dataset",
        "data",
        "json",
        "csv",
        "text",
        "parquet",
        "imagefolder",
        "audiofolder",
        "arrow",
        "pandas",
        "generator dataset",
        "an offline",
        "offline",
        "synthetic",
        "various",
        "public",
        "other",
        "different",
        "specific",
        "downstream",
        "original",
        "english",
        "multilingual",
        "training",
    }
)
# Phrases a data section lists that are no dataset: an amount ("46 natural languages", "In 1.6TB of text"),
# a model or a model's variant ("LayoutLM-Base", "Jais pre-trained")
_NOT_A_DATASET_NAME = re.compile(
    r"^(?:in|on|with|from|for|of|to|by|at)\s"
    r"|^\d[\d.,]*\s*(?:tb|gb|mb|[kmb]|billion|million|thousand)?\s+(?:natural\s+|programming\s+)?"
    r"(?:languages?|documents?|tokens?|words?|hours?|images?|examples?|samples?|sentences?|pages?)\b"
    r"|\bpre-?trained\b|[-_ ](?:base|large|small|tiny|medium|xl|xxl)$"
    r"|^\d[\d.,]*$|\bscripts?\b|\bevaluation\s+for\b",  # "training on 14 data sets", "Evaluation ... scripts"
    re.IGNORECASE,
)
_STOP_START = re.compile(
    r"^(?:a|an|the|this|that|these|our|their|its|some|several|many|more|most|over|about|around|"
    r"approximately|dataset|data|corpus|text|texts|popular|famous|well-known|standard|public|publicly)\b",
    re.IGNORECASE,
)


def _link_name(text: str) -> str:
    """A dataset's name from its link text: "GOOAQ: Open Question Answering with …" -> "GOOAQ",
    "Multilingual Librispeech (MLS)" -> "Multilingual Librispeech"."""
    head, colon, _ = text.partition(":")
    name = head if colon and len(text.split()) > 5 else text
    return re.sub(r"\s*\([^()]*\)\s*$", "", name) or name


def _dataset_name(name: str, *, strict: bool) -> str | None:
    """A dataset's name as written, or None for placeholders and generic phrases (``strict``: free text)."""
    name = name.strip().strip("*`'\".,;:()").strip()
    if name.count("(") != name.count(")"):  # "News (~ 12GB": cut inside a parenthesis
        name = re.sub(r"\s*\([^)]*$", "", name).strip()
    if not name or name.lower() in PLACEHOLDER_DATASETS or len(name) > 80 or len(name.split()) > 5:
        return None
    if _NOT_A_DATASET_NAME.search(name):
        return None
    if strict and (_STOP_START.match(name) or not re.search(r"[A-Z0-9_/\-]", name)):
        return None  # free text must look like a name: "CoNLL-2003", "squad_v2", "OPUS", not "a large"
    return name


class _AddDataset(Protocol):
    """Records a dataset a card names (``read_datasets``'s ``add``)."""

    def __call__(self, raw: str, declared_in: str, snippet: str, line: int, *, strict: bool = True,
                 hub_id: bool = False) -> None: ...  # fmt: skip


def read_datasets(doc: Document, repo_id: str) -> list[Fact]:
    """Training datasets the text names, with their evidence."""
    facts: dict[str, Fact] = {}

    def add(raw: str, declared_in: str, snippet: str, line: int, *, strict: bool = True, hub_id: bool = False) -> None:
        name = _dataset_name(raw, strict=strict)
        if name is None or len(facts) >= MAX_FACTS:
            return
        key = re.sub(r"[^a-z0-9]", "", name.lower().rsplit("/", 1)[-1])
        if key and (key not in facts or hub_id):  # a Hub id ("common_voice") names it better than prose does
            facts[key] = Fact("dataset", name, None, declared_in, None, Evidence(_snippet(snippet), line))

    introduced = False
    for block in doc.blocks:
        if block.kind == "code":
            for match in _COMMAND_FLAG.finditer(block.text):
                if match.group(1) in ("dataset_name", "dataset"):
                    add(match.group(2), "command", match.group(0), block.line, strict=False)
        elif block.kind != "html":
            _block_datasets(block, add, listed=introduced)
        if block.kind == "paragraph":  # "... on the following datasets:" makes the items below a list of them
            introduced = bool(_LIST_INTRO.search(block.text))
    _table_datasets(doc, add)
    for link in doc.links:
        linked = _HUB_DATASET_LINK.match(link.href)
        if linked and not any(_EVAL_HEADINGS.search(h) for h in link.headings[-1:]):
            add(linked.group(1), "link", link.href, link.line, strict=False, hub_id=True)
    return list(facts.values())


_LIST_INTRO = re.compile(r"\b(?:following|these|two|three|four|five)\s+(?:data\s*sets?|corpora|sources)\s*:\s*$", re.I)
# "The data sources are [Bible OT](…), [WOLOF-ONLINE](…)" in a data section: the linked names
_SOURCES_ARE = re.compile(r"\b(?:data\s+)?sources?\s+(?:are|is|include|were|was)\b|\bsources?\s*:", re.IGNORECASE)


def _block_datasets(block: Block, add: _AddDataset, *, listed: bool = False) -> None:
    """Datasets a paragraph or list item names: as a list, or in a sentence about training.

    ``listed``: an item of a list that a paragraph introduced as datasets ("... on the following datasets:").
    """
    text = " ".join(block.text.split())
    _listed_datasets(block, text, add, listed=listed)
    if (
        block.kind == "paragraph"
        and "](" in block.source
        and any(_DATA_HEADINGS.search(h) for h in block.headings[-1:])
    ):
        said = _SOURCES_ARE.search(block.source)
        for link in _LINK.finditer(block.source[said.end() :]) if said else ():
            add(link.group(1), "list", text, block.line)
    lower = text.lower()
    trained = "train" in lower or "tune" in lower or "tuning" in lower
    if trained and "](" in block.source:
        _linked_training_datasets(block, add)
    named_data = (trained and "(" in text) or (
        ("used" in lower or "using" in lower) and ("dataset" in lower or "corpus" in lower)
    )
    for named in _NAMED_DATA.finditer(text) if named_data else ():
        name = named.group(1) or named.group(2)
        if name.upper() not in _TASK_ACRONYMS:  # "the NER dataset" names a task, not a dataset
            add(name, "text", named.group(0), block.line)
    if trained and "+" in text:
        _joined_datasets(block, add)
    for match in _TRAINED_ON.finditer(text):
        if match.group(3):
            add(match.group(3), "text", text[max(0, match.start() - 20) : match.end() + 20], block.line)
        else:
            add(
                match.group(1) or match.group(2) or "",
                "text",
                text[max(0, match.start() - 20) : match.end() + 20],
                block.line,
                strict=False,
            )


def _listed_datasets(block: Block, text: str, add: _AddDataset, *, listed: bool = False) -> None:
    """Datasets of a "Datasets: a, b" line, and a list item of a data section (or of a list of datasets)."""
    data_section = listed or any(_DATA_HEADINGS.search(h) for h in block.headings[-1:])
    for raw in block.text.splitlines():
        item = _DATASET_ITEM.match(raw)
        if item and not any(_ENV_HEADINGS.search(h) for h in block.headings[-1:]):
            for part in re.split(r"\s*(?:,|;|\band\b|\+)\s*", item.group(1)):
                if not re.fullmatch(r"v?\d+(?:\.\d+)*", part.strip()):  # a version ("Datasets: 3.2.0") is no name
                    add(part, "list", raw, block.line, strict=False)
    if data_section and block.kind == "item" and not re.search(r"^[^,(]{0,60}[:=]", text):
        linked_name = _LEADING_LINK.match(block.source)
        name = (
            _link_name(linked_name.group(1))
            if linked_name
            else re.split(r"\s*(?:,|\(|\[|\s[–—-]\s|\bhttps?://|\s+an?\s+(?:dataset|corpus)\b)", text)[0]
        )
        if not hyperparameter_key(name) and not metric_of(name) and not _NOT_A_DATASET_ROW.match(name):
            add(name, "list", text, block.line)


def _linked_training_datasets(block: Block, add: _AddDataset) -> None:
    """Datasets linked from a sentence about training ("trained on [X](...)")."""
    for trained_on in _TRAINED_ON_LINK.finditer(" ".join(block.source.split())):
        target = trained_on.group(2)
        hub_dataset = _HUB_DATASET_LINK.match(target)
        if hub_dataset:  # a link to the Hub names the dataset by its id, whatever its text says
            add(hub_dataset.group(1), "text", trained_on.group(0), block.line, strict=False, hub_id=True)
        elif not re.search(r"arxiv\.org|doi\.org|huggingface\.co/", target) and not (
            _NOT_DATA_LINK.search(trained_on.group(1)) or _NOT_DATA_LINK.search(target)
        ):
            add(_link_name(trained_on.group(1)), "text", trained_on.group(0), block.line)


_LINK_CHAIN = re.compile(r"\[[^\[\]]{2,80}\]\([^)\s]{1,500}\)(?:\s*\+\s*\[[^\[\]]{2,80}\]\([^)\s]{1,500}\)){1,8}")
_TRAINING_WORD = re.compile(r"\btrain(?:ing|ed)?\b|\bfine-?tun", re.IGNORECASE)


def _joined_datasets(block: Block, add: _AddDataset) -> None:
    """Datasets joined by '+' in a sentence about training ("trained on X + Y + Z", "Training data pairs were
    generated from [GCC](…) + [MSCOCO](…)")."""
    source = " ".join(block.source.split())
    if "+" in source and _TRAINING_WORD.search(source):
        for chain in _LINK_CHAIN.finditer(source):
            for link in _LINK.finditer(chain.group(0)):
                add(_link_name(link.group(1)), "text", chain.group(0), block.line)
    for joined in _TRAINED_ON_PLUS.finditer(_LINK.sub(r"\1", " ".join(block.source.split()))):
        clause = re.split(r"\s(?:and|for|with|to|in|using)\s|,", joined.group(1))[0]
        parts = [part.strip() for part in clause.split("+")]
        if 2 <= len(parts) <= 9 and all(_PLUS_PART.fullmatch(p) and len(p.split()) <= 4 for p in parts):
            for part in parts:
                add(part, "text", joined.group(0), block.line)


# a table's caption that says its rows are the training data: "an overview of the datasets used for training below"
_USED_FOR_TRAINING = re.compile(
    r"\b(?:data\s*sets?|corpora)\s+(?:used|we\s+used)\s+(?:for|in|to)\s+(?:the\s+)?(?:training|fine-?tun|train)|"
    r"\btrain(?:ed|ing)\s+(?:data|datasets?|corpora)\s*(?:below|:)",
    re.IGNORECASE,
)


def _table_datasets(doc: Document, add: _AddDataset) -> None:
    """Datasets of a table under a training heading whose first column is the dataset."""
    cell_sources = {cell.text: cell.source for cell in doc.cells}  # a cell's text -> its markdown, links kept
    for table in doc.tables:
        first = table.header[0].lower().strip(" *") if table.header else ""
        if (
            first in ("dataset", "datasets", "corpus")
            and any(_TRAINING_HEADINGS.search(h) for h in table.headings[-1:])
        ) or (
            first in ("dataset", "datasets", "corpus", "name", "data", "source")
            and _USED_FOR_TRAINING.search(table.caption)
        ):
            for row in table.rows:
                if row and not _NOT_A_DATASET_ROW.match(row[0]):
                    linked_name = _LEADING_LINK.match(cell_sources.get(row[0], ""))
                    name = (
                        _link_name(linked_name.group(1))
                        if linked_name
                        else re.split(r"\s*(?:\(|\[|\s[–—-]\s|,\s+[A-Z][\w-]+\s+et\s+al\b)", row[0])[0]
                    )
                    add(name, "table", " | ".join(row), table.line, strict=False)


# -- hyper-parameters ---------------------------------------------------------------------------------

# canonical key -> spellings (lower case, spaces for underscores)
HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "learning_rate": (
        "learning rate",
        "learning_rate",
        "lr",
        "learning-rate",
        "peak learning rate",
        "max learning rate",
    ),
    "train_batch_size": (
        "train batch size",
        "train_batch_size",
        "batch size",
        "batch_size",
        "per device train batch size",
        "per_device_train_batch_size",
        "training batch size",
        "micro batch size",
        "batch size per device",
        "batch",
    ),
    "eval_batch_size": ("eval batch size", "eval_batch_size", "per device eval batch size", "evaluation batch size"),
    "total_train_batch_size": (
        "total train batch size",
        "total_train_batch_size",
        "effective batch size",
        "global batch size",
    ),
    "seed": ("seed", "random seed"),
    "optimizer": ("optimizer", "optimiser", "optim"),
    "lr_scheduler_type": (
        "lr schedule",
        "lr_schedule",
        "lr scheduler type",
        "lr_scheduler_type",
        "lr scheduler",
        "scheduler",
        "learning rate scheduler",
        "lr schedule",
        "learning rate schedule",
    ),
    "lr_scheduler_warmup_steps": (
        "lr scheduler warmup steps",
        "lr_scheduler_warmup_steps",
        "warmup steps",
        "warmup_steps",
        "warm-up steps",
        "num warmup steps",
        "warmup",
        "warmup iteration",
        "warmup iterations",
        "warmup iters",
    ),
    "lr_scheduler_warmup_ratio": (
        "warmup proportion",
        "warmup_proportion",
        "lr scheduler warmup ratio",
        "lr_scheduler_warmup_ratio",
        "warmup ratio",
        "warmup_ratio",
    ),
    "num_epochs": (
        "n epochs",
        "n_epochs",
        "num epochs",
        "num_epochs",
        "num train epochs",
        "num_train_epochs",
        "epochs",
        "number of epochs",
        "training epochs",
        "epoch",
    ),
    "training_steps": (
        "training steps",
        "training_steps",
        "max steps",
        "max_steps",
        "total steps",
        "train steps",
        "number of steps",
        "steps",
    ),
    "gradient_accumulation_steps": (
        "gradient accumulation steps",
        "gradient_accumulation_steps",
        "gradient accumulation",
    ),
    "weight_decay": ("weight decay", "weight_decay"),
    "max_seq_length": (
        "max seq len",
        "max_seq_len",
        "tokens per instance",
        "max seq length",
        "max_seq_length",
        "max sequence length",
        "maximum sequence length",
        "max length",
        "max_length",
        "sequence length",
        "seq length",
        "max source length",
        "max_source_length",
        "context length",
        "context window",
    ),
    "mixed_precision_training": ("mixed precision training", "mixed_precision_training", "mixed precision", "fp16"),
    "dropout": ("dropout", "dropout rate"),
    "label_smoothing": ("label smoothing", "label_smoothing_factor", "label smoothing factor"),
    "adam_epsilon": ("adam epsilon", "adam_epsilon"),
    "adam_beta1": ("adam beta1", "adam_beta1", "beta1", "beta 1", "β1"),
    "adam_beta2": ("adam beta2", "adam_beta2", "beta2", "beta 2", "β2"),
    "mlm_probability": ("mlm probability", "mlm_probability", "masking probability", "mask probability"),
    "num_devices": ("num devices", "num_devices", "number of devices"),
    "total_eval_batch_size": ("total eval batch size", "total_eval_batch_size"),
    "max_grad_norm": ("max grad norm", "max_grad_norm", "gradient clipping"),
    # extractive question answering: how contexts are windowed and answers bounded
    "doc_stride": ("doc stride", "doc_stride", "document stride"),
    "max_query_length": ("max query length", "max_query_length"),
    "max_answer_length": ("max answer length", "max_answer_length"),
    "training_tokens": ("training tokens", "training_tokens", "tokens trained on"),
}
_HYPER_OF = {spelling: key for key, spellings in HYPERPARAMETERS.items() for spelling in spellings}
_ITEM_KV = re.compile(r"^\s*[-*]?\s*([A-Za-z][\w .()-]{0,50}?)\s*[:=]\s*(.{1,200}?)\s*$")
_FLAG = re.compile(r"--([a-z][a-z0-9_]{1,50})[= ]+([^\s\\]{1,80})")
# (key, pattern, a word the sentence must hold: a cheap test before the pattern)
_SENTENCE_HYPER: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("num_epochs", re.compile(r"\b(?:for|over)\s+(\d{1,4}(?:\.\d+)?)\s+epochs?\b", re.IGNORECASE), "epoch"),
    ("num_epochs", re.compile(r"\b(\d{1,4})\s+epochs?\s+of\s+training\b", re.IGNORECASE), "epoch"),
    (
        "train_batch_size",
        re.compile(r"\bbatch[- ]size\s+(?:of\s+|=\s*|was\s+|is\s+)?(\d[\d,]*[kK]?)\b", re.IGNORECASE),
        "batch",
    ),
    (
        "learning_rate",
        re.compile(r"\blearning[- ]rate\s+(?:of\s+|=\s*|was\s+|is\s+)?(\d+(?:\.\d+)?(?:e-?\d+)?)", re.IGNORECASE),
        "learning",
    ),
    (
        "lr_scheduler_warmup_steps",
        re.compile(
            r"\bwarm-?up\s+(?:for|of)\s+(\d[\d,]*k?)\s+steps\b|\b(\d[\d,]*)\s+warm-?up\s+steps\b", re.IGNORECASE
        ),
        "warm",
    ),
    (
        "training_steps",
        re.compile(
            r"(?<!warmup )(?<!warm-up )\b(?:for|during)\s+(one million|two million|\d[\d,.]*\s*[kKmM]?)\s+"
            r"(?:training\s+)?steps\b",
            re.IGNORECASE,
        ),
        "steps",
    ),
    (
        "max_seq_length",
        re.compile(
            r"\b(?:max(?:imum)?\s+)?sequence\s+length\s+(?:of\s+|was\s+(?:limited|set)\s+to\s+|is\s+)?(\d{2,6})\b",
            re.IGNORECASE,
        ),
        "sequence",
    ),
    (
        "weight_decay",
        re.compile(r"\bweight[- ]decay\s+(?:of\s+|=\s*)?(\d+(?:\.\d+)?(?:e-?\d+)?)", re.IGNORECASE),
        "decay",
    ),
    (
        "optimizer",
        re.compile(
            r"\b(?:optimi[sz]er\s+(?:used\s+)?(?:is|was)|(?:using|with)\s+(?:the\s+)?)\s*"
            r"(AdamW|Adam|Adafactor|LAMB|SGD|RMSprop|Lion)\b",
            re.IGNORECASE,
        ),
        "",
    ),
    (
        "lr_scheduler_type",
        re.compile(
            r"\b(linear|cosine|constant|polynomial)\s+(?:learning[- ]rate\s+)?(?:decay|schedule)", re.IGNORECASE
        ),
        "",
    ),
)
_LAUNCHER = re.compile(r"\b(python|accelerate|torchrun|deepspeed|run_\w+\.py)\b")
_HYPER_LIST = re.compile(r"hyper[\s_-]?param", re.IGNORECASE)
_TRAIN_WORD = re.compile(r"\btrain|fine-?tun", re.IGNORECASE)
_SENTENCE_HYPER += (
    ("num_epochs", re.compile(r"(?:[(,]\s*|\bwith\s+)(\d{1,3})\s+epochs?\b", re.I), "epoch"),
    ("max_seq_length", re.compile(r"\b(\d{2,6})\s+tokens\s+per\s+(?:instance|sequence|example)\b", re.I), "per"),
    ("train_batch_size", re.compile(r"\b(\d[\d,]*)\s+(?:instances|sequences|examples)\s+per\s+batch\b", re.I), "batch"),
    ("training_steps", re.compile(r"\b(\d[\d.,]*\s*[kKmM]?)\s+training\s+steps\b", re.I), "steps"),
    ("learning_rate", re.compile(r"\b(\d+(?:\.\d+)?e-?\d+|0\.\d+)\s+learning[- ]rate\b", re.I), "learning"),
    ("optimizer", re.compile(r"\b(AdamW|Adam|Adafactor|LAMB|SGD|RMSprop|Lion)\s+optimi[sz]er\b", re.I), "optim"),
    (
        "max_seq_length",
        re.compile(r"\bcontext\s+(?:length|window)\s+(?:of\s+)?(\d[\d,]*\s*[kK]?)\s+tokens\b", re.I),
        "context",
    ),
)
_SNAKE_KEY = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
_HYPER_HEADINGS = re.compile(
    r"hyper[\s_-]?param|training (?:config|arguments|settings|setup|details|procedure)|"
    r"fine-?tuning|training",
    re.IGNORECASE,
)


def hyperparameter_key(label: str) -> str | None:
    """The canonical key a label names, or None."""
    text = " ".join(label.lower().replace("_", " ").split()).strip(" :*`")
    return _HYPER_OF.get(text) or _HYPER_OF.get(text.replace(" ", "_"))


def _json_arguments(text: str) -> list[tuple[str, str]]:
    """A JSON object of training arguments (a dumped ``training_args``) as (key, value) pairs.

    A block counts when it is a JSON object of at most 64 KB that names three or more
    hyper-parameters; its scalar values are kept, booleans spelled as JSON spells them.
    """
    text = text.strip()
    if not text.startswith("{") or len(text) > 65_536:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    pairs = []
    for raw, value in data.items():
        key = hyperparameter_key(str(raw))
        if key is None or isinstance(value, (dict, list)) or value is None:
            continue
        pairs.append((key, json.dumps(value) if isinstance(value, bool) else str(value)))
    return pairs if len(pairs) >= 3 else []


_AddHyperparameter = Callable[[str, str, str, str, int], None]
"""Records a hyper-parameter: (key, value, declared_in, snippet, line)."""


def read_hyperparameters(doc: Document) -> list[Fact]:
    """Hyper-parameters with values: the Trainer's list, tables, training commands, sentences."""
    found: dict[str, Fact] = {}

    def add(key: str, value: str, declared_in: str, snippet: str, line: int) -> None:
        value = value.strip().strip("*`").strip()
        if key and value and key not in found and len(found) < MAX_FACTS and not PLACEHOLDER.search(value):
            found[key] = Fact("hyperparameter", key, value[:200], declared_in, None, Evidence(_snippet(snippet), line))

    for block in doc.blocks:
        if "TrainingArguments(" in block.text or "add_argument(" in block.text:
            _python_hyperparameters(block, add)  # Python, fenced or not (cards paste scripts as plain text)
        if block.kind == "code":
            _code_hyperparameters(block, add)
        else:
            _text_hyperparameters(block, add)
    _table_hyperparameters(doc.tables, add)
    return list(found.values())


def _code_hyperparameters(block: Block, add: _AddHyperparameter) -> None:
    """A code block's hyper-parameters: dumped training arguments, a listing under a heading, a command's flags."""
    for argument, setting in _json_arguments(block.text):
        add(argument, setting, "code", f"{argument}: {setting}", block.line)
    if block.headings and _HYPER_LIST.search(block.headings[-1]):
        for offset, raw in enumerate(block.text.splitlines()[:200]):
            item = _ITEM_KV.match(raw.replace(" = ", ": ", 1))
            key = hyperparameter_key(item.group(1)) if item else None
            if item and key is None and _SNAKE_KEY.fullmatch(item.group(1).strip().lower()):
                key = item.group(1).strip().lower()
            if item and key:
                add(key, item.group(2).strip("'\","), "code", raw, block.line + offset)
    if len(block.text) <= 2_000 and not _LAUNCHER.search(block.text):
        _settings_lines(block, add)
    if "--" in block.text and _LAUNCHER.search(block.text):
        for match in _FLAG.finditer(block.text):
            flag = match.group(1)
            key = hyperparameter_key(flag) or ("seed" if flag == "seed" else None)
            if key:
                add(key, match.group(2).strip("'\""), "command", match.group(0), block.line)


# Literal keyword arguments of (Seq2Seq)TrainingArguments(...) and argparse defaults in a training script
_TRAINING_ARGUMENTS = re.compile(r"TrainingArguments\((.{1,4000}?)\n?\s*\)", re.DOTALL)
_LITERAL_KWARG = re.compile(
    r"\b([a-z_][a-z0-9_]{1,50})\s*=\s*([-+]?\d[\d.]*(?:e-?\d+)?|True|False|['\"][\w.-]{1,60}['\"])\s*(?=[,)\n#])"
)
_ARGPARSE_DEFAULT = re.compile(
    r"add_argument\(\s*['\"]--([\w-]{1,50})['\"][^)]{0,200}?\bdefault\s*=\s*([-+]?\d[\d.]*(?:e-?\d+)?|['\"][\w.-]{1,60}['\"])"
)


def _python_hyperparameters(block: Block, add: _AddHyperparameter) -> None:
    """Literal values given to ``TrainingArguments(...)`` and the defaults of a script's ``--flags``."""
    for call in _TRAINING_ARGUMENTS.finditer(block.text):
        for match in _LITERAL_KWARG.finditer(call.group(1)):
            key = hyperparameter_key(match.group(1))
            if key:
                add(key, match.group(2).strip("'\""), "code", match.group(0), block.line)
    for match in _ARGPARSE_DEFAULT.finditer(block.text):
        key = hyperparameter_key(match.group(1).replace("-", "_"))
        if key:
            add(key, match.group(2).strip("'\""), "code", match.group(0), block.line)


# A value as written, not an expression: "2e-5", "0.01", "8", "True", "linear", "adamw_torch" (not "args.lr")
_LITERAL_VALUE = re.compile(r"[-+]?\d[\d.,_]*(?:e-?\d+)?%?|[A-Za-z][\w-]{0,40}")


def _settings_lines(block: Block, add: _AddHyperparameter) -> None:
    """A short code block of settings, one per line ("learning rate 2e-5,", "num_train_epochs=8"): kept when
    two or more of its lines name a hyper-parameter with a value."""
    hits: list[tuple[str, str, str]] = []
    for raw in block.text.splitlines()[:60]:
        line = raw.strip().rstrip(",;")
        item = _ITEM_KV.match(line)
        key = hyperparameter_key(item.group(1)) if item else None
        if item and key:
            hits.append((key, item.group(2).strip("'\""), line))
            continue
        lower = line.lower()
        for key, pattern, hint in _SENTENCE_HYPER:
            said = pattern.search(line) if hint in lower else None
            if said:
                hits.append((key, next(g for g in said.groups() if g), line))
                break
    hits = [(key, value, line) for key, value, line in hits if _LITERAL_VALUE.fullmatch(value.strip())]
    if len({key for key, _, _ in hits}) >= 2:
        for key, value, line in hits:
            add(key, value, "code", line, block.line)


def _text_hyperparameters(block: Block, add: _AddHyperparameter) -> None:
    """A paragraph's or list item's hyper-parameters: "key: value" items, and sentences about training."""
    in_section = any(_HYPER_HEADINGS.search(h) for h in block.headings)
    hyper_list = bool(block.headings) and bool(_HYPER_LIST.search(block.headings[-1]))
    for raw in block.text.splitlines():
        if block.kind == "item" or in_section:
            item = _ITEM_KV.match(raw)
            if item is None:
                continue
            key = hyperparameter_key(item.group(1))
            if key is None and hyper_list and _SNAKE_KEY.fullmatch(item.group(1).strip()):
                key = item.group(1).strip()  # a hyper-parameter the vocabulary does not name, under its own name
            if key:
                add(key, item.group(2), "list", raw, block.line)
    text = " ".join(block.text.split())
    if not in_section and not _TRAIN_WORD.search(text):
        return
    lower = text.lower()
    for key, pattern, hint in _SENTENCE_HYPER:
        if hint not in lower:
            continue
        said = pattern.search(text)
        if said:
            value = next(g for g in said.groups() if g)
            add(key, value, "text", text[max(0, said.start() - 40) : said.end() + 40], block.line)


def _key_value_table(table: Table, add: _AddHyperparameter) -> bool:
    """A two-column table of settings under a hyper-parameters heading, or with a blank header over rows that
    name three or more ("| | |" then "| lr | 3e-4 |"): every row, an unknown key under its own snake_case name."""
    if len(table.header) != 2 or not table.rows:
        return False
    in_section = bool(table.headings) and bool(_HYPER_LIST.search(table.headings[-1]))
    blank = not any(h.strip() for h in table.header)
    known = sum(1 for row in table.rows if row and hyperparameter_key(row[0]))
    if not (in_section and (blank or known)) and not (blank and known >= 3):
        return False
    for row in table.rows:
        if len(row) < 2 or not row[1].strip():
            continue
        own = re.sub(r"[^a-z0-9]+", "_", row[0].lower()).strip("_")
        if own in ("bf16", "fp16", "fp8") and row[1].strip().lower() in ("true", "yes", "1"):
            add("mixed_precision_training", own, "table", " | ".join(row), table.line)  # "| bf16 | true |"
            continue
        key = hyperparameter_key(row[0]) or (own if re.fullmatch(r"[a-z][a-z0-9_]{1,40}", own) else None)
        if key:
            add(key, row[1], "table", " | ".join(row), table.line)
    return True


def _table_hyperparameters(tables: list[Table], add: _AddHyperparameter) -> None:
    """Hyper-parameters of tables: a key and a value per row, or keys as columns over one row."""
    for table in tables:
        if _key_value_table(table, add):
            continue
        header = [h.lower() for h in table.header]
        if len(header) >= 2 and (
            hyperparameter_key(table.header[0]) or any("param" in h or h in ("value", "setting") for h in header)
        ):
            for row in table.rows:
                if len(row) >= 2 and (key := hyperparameter_key(row[0])):
                    add(key, row[1], "table", " | ".join(row), table.line)
            if hyperparameter_key(table.header[0]) and len(table.rows) == 1:
                for label, value in zip(table.header, table.rows[0], strict=False):
                    if key := hyperparameter_key(label):
                        add(key, value, "table", f"{label}: {value}", table.line)


# -- hardware, environment, limitations ----------------------------------------------------------------

_HARDWARE = re.compile(
    r"(?<![\w/-])(?:(?:\d+|one|two|four|eight|sixteen|a single|single)\s*(?:x\s*|×\s*)?)?"
    r"(?:nvidia\s+|google\s+|amd\s+)?(?:(?:tesla\s+|geforce\s+|quadro\s+)?(?:a100|a800|v100|h100|h200|h800|h20|gb200|b200|b100|a10g?|a6000|a40|"
    r"l4|l40s?|t4|p100|k80|p40|rtx\s?\d{4}(?:\s?ti)?|gtx\s?\d{3,4}(?:\s?ti)?|titan\s?(?:rtx|xp?|v))"
    r"(?:[\s-]*\d+\s*gb)?(?:\s+(?:gpus?|cards?))?"
    r"|(?:cloud\s+)?tpus?\s*(?:v\d+[a-z]?(?:-\d+)?|pod)?(?:\s+pods?)?"
    r"|mi\d{3}x?|cerebras\s+cs-?\d|(?:intel\s+)?gaudi\s?\d?|(?:aws\s+)?trainium\d?|ascend\s?910[a-z]?)\b(?!-[a-z])",
    re.IGNORECASE,
)
_VERSUS = re.compile(r"\bvs?\.?\s*$|^\s*vs?\.?\b", re.IGNORECASE)
_HARDWARE_HINTS = (
    "gpu",
    "tpu",
    "a100",
    "v100",
    "h100",
    "h800",
    "a10",
    "a6000",
    "a40",
    "l4",
    "l40",
    "t4",
    "p100",
    "k80",
    "p40",
    "b200",
    "h200",
    "a800",
    "h20",
    "rtx",
    "gtx",
    "titan",
    "mi2",
    "mi3",
    "cerebras",
    "gaudi",
    "trainium",
    "ascend",
)
_HARDWARE_HINT = re.compile("|".join(_HARDWARE_HINTS))
_TEMPLATE_HARDWARE = re.compile(
    r"hardware type\s*:|hours used\s*:|cloud provider\s*:|compute region\s*:", re.IGNORECASE
)
# hardware to run the model on (a reader's GPU, a free notebook), not what it was trained or evaluated on
_INFERENCE = re.compile(
    r"\binferen|\blatenc|\bthroughput|tokens?/s|\bspeed|\bbenchmark|\boffload|\bif you have\b|\byou can\b|"
    r"\bcolab\b|\bkaggle\b|\bnotebooks?\b|\bvram\b|\bconsumer\b",
    re.IGNORECASE,
)


def read_hardware(doc: Document) -> list[Fact]:
    """GPU and TPU models (and counts) the card says it was trained or evaluated on."""
    found: dict[str, Fact] = {}
    for block in doc.blocks:
        if block.kind in ("code", "html"):
            continue
        lower = block.text.lower()
        if not _HARDWARE_HINT.search(lower):
            continue
        text = " ".join(block.text.split())
        if _TEMPLATE_HARDWARE.search(text) and PLACEHOLDER.search(text):
            continue
        if _INFERENCE.search(text) and not re.search(r"\btrain", text, re.IGNORECASE):
            continue
        for match in _HARDWARE.finditer(text):
            name = " ".join(match.group(0).split())
            if not re.search(r"\d|tpu|titan", name, re.IGNORECASE) or len(name) < 2:
                continue
            if _VERSUS.search(text[max(0, match.start() - 5) : match.start()]) or _VERSUS.search(
                text[match.end() : match.end() + 5]
            ):
                continue  # "GPU vs. TPU setup" names no hardware the model used
            key = name.lower()
            if key not in found and len(found) < 20:
                found[key] = Fact(
                    "hardware",
                    name,
                    None,
                    "text",
                    None,
                    Evidence(_snippet(text[max(0, match.start() - 60) : match.end() + 60]), block.line),
                )
    # a bare "TPU" beside "TPUv5e" says nothing more
    return [f for k, f in found.items() if not any(o != k and o.startswith(k.rstrip("s")) for o in found)]


_PACKAGES = {
    "transformers": "transformers",
    "pytorch": "pytorch",
    "torch": "pytorch",
    "datasets": "datasets",
    "tokenizers": "tokenizers",
    "tensorflow": "tensorflow",
    "jax": "jax",
    "flax": "flax",
    "peft": "peft",
    "trl": "trl",
    "accelerate": "accelerate",
    "diffusers": "diffusers",
    "sentence-transformers": "sentence-transformers",
    "sentence transformers": "sentence-transformers",
    "speechbrain": "speechbrain",
    "keras": "keras",
    "python": "python",
    "cuda": "cuda",
    "bitsandbytes": "bitsandbytes",
    "deepspeed": "deepspeed",
    "fairseq": "fairseq",
    "flair": "flair",
    "spacy": "spacy",
    "timm": "timm",
    "adapter-transformers": "adapter-transformers",
    "optimum": "optimum",
    "onnxruntime": "onnxruntime",
    "safetensors": "safetensors",
    "numpy": "numpy",
    "scikit-learn": "scikit-learn",
}
_VERSION = re.compile(
    rf"^\s*[-*]?\s*({'|'.join(re.escape(p) for p in sorted(_PACKAGES, key=len, reverse=True))})"
    r"(?:\s+version)?\s*(?:[:=]=?|\s)\s*v?(\d+(?:\.[\w+]+){1,3})\b",
    re.IGNORECASE,
)
_ENV_HEADINGS = re.compile(r"framework|version|environment|software|requirement|dependenc", re.IGNORECASE)


def read_environment(doc: Document) -> list[Fact]:
    """Framework versions the card states (a "Framework versions" list, "X version: Y", and under an
    environment heading a code block: ``pip freeze`` lines or a JSON object of versions)."""
    found: dict[str, Fact] = {}
    for block in doc.blocks:
        in_section = any(_ENV_HEADINGS.search(h) for h in block.headings)
        if block.kind == "html" or (block.kind == "code" and not in_section):
            continue
        for raw in block.text.splitlines()[:200]:
            match = _VERSION.match(raw.replace('"', "") if block.kind == "code" else raw)
            if match and (in_section or block.kind == "item"):
                package = _PACKAGES[match.group(1).lower()]
                if package not in found:
                    found[package] = Fact(
                        "environment",
                        package,
                        match.group(2),
                        "code" if block.kind == "code" else "list",
                        None,
                        Evidence(_snippet(raw), block.line),
                    )
    return list(found.values())


_LIMIT_HEADINGS = re.compile(
    r"limitation|\bbias|\brisks?\b|known (?:issues|problems)|out[- ]of[- ]scope|caveat|ethic|safety|misuse|"
    r"warning|disclaimer|intended uses? (?:&|and) limitations",
    re.IGNORECASE,
)


# A limitation stated in passing: "It might not work well for longer text", "not intended for medical use",
# "the quality of the model output might vary compared to the base model".
_LIMIT_SENTENCE = re.compile(
    r"\b(?:it|this model|the model|model)\s+(?:might|may|does|will|would|could)\s+not\s+"
    r"(?:work|perform|generali[sz]e)\s+(?:well|as well)\b|"
    r"\b(?:is|are)\s+not\s+(?:intended|suitable|designed|meant)\s+(?:for|to)\b|"
    r"\b(?:quality|performance|accuracy)\s+(?:of\s+the\s+model(?:'s)?\s+(?:output\s+)?)?"
    r"(?:might|may|can|could)\s+(?:vary|degrade|drop|be\s+lower)\b",
    re.IGNORECASE,
)


def read_limitations(doc: Document) -> list[Fact]:
    """Sections that state limitations, biases or risks in the card's own words (template text does not count)."""
    by_heading: dict[str, list[Block]] = {}
    for block in doc.blocks:
        if block.kind == "code" or not block.headings:
            continue
        heading = block.headings[-1] if _LIMIT_HEADINGS.search(block.headings[-1]) else None
        if heading is not None:
            by_heading.setdefault(heading, []).append(block)
    facts = []
    if not by_heading:  # no such section: a sentence that says where the model falls short
        for block in doc.blocks:
            if block.kind not in ("paragraph", "item"):
                continue
            lower = block.text.lower()
            if not any(word in lower for word in (" not ", "vary", "degrade", "drop", "lower")):
                continue
            text = " ".join(block.text.split())
            said = _LIMIT_SENTENCE.search(text)
            if said and not PLACEHOLDER.search(text):
                snippet = text[max(0, said.start() - 100) : said.end() + 60]
                evidence = Evidence(_snippet(snippet), block.line)
                facts.append(Fact("limitation", "sentence", None, "text", None, evidence))
                break
    for heading, blocks in by_heading.items():
        text = " ".join(b.text for b in blocks)
        if meaningful_chars(text) >= 40:
            facts.append(
                Fact(
                    "limitation",
                    heading[:100],
                    None,
                    "text",
                    None,
                    Evidence(_snippet(f"{heading}: {text}"), blocks[0].line),
                )
            )
    return facts


# -- licences stated in the text ------------------------------------------------------------------------

_LICENSE_NAMES = (
    (r"apache(?:\s+license)?,?\s*(?:version\s*|v)?2(?:\.0)?|apache-2\.0", "apache-2.0"),
    (r"\bmit\b(?:\s+license)?", "mit"),
    (r"cc[\s-]?by[\s-]?nc[\s-]?sa[\s-]?4(?:\.0)?", "cc-by-nc-sa-4.0"),
    (r"cc[\s-]?by[\s-]?nc[\s-]?4(?:\.0)?", "cc-by-nc-4.0"),
    (r"cc[\s-]?by[\s-]?sa[\s-]?4(?:\.0)?", "cc-by-sa-4.0"),
    (r"cc[\s-]?by[\s-]?sa[\s-]?3(?:\.0)?", "cc-by-sa-3.0"),
    (r"cc[\s-]?by[\s-]?4(?:\.0)?", "cc-by-4.0"),
    (r"cc0", "cc0-1.0"),
    (r"gpl[\s-]?v?3(?:\.0)?|gnu general public license v(?:ersion )?3", "gpl-3.0"),
    (r"agpl[\s-]?v?3(?:\.0)?", "agpl-3.0"),
    (r"bsd[\s-]?3[\s-]?clause|bsd-3", "bsd-3-clause"),
    (r"creativeml open ?rail[\s-]?m", "creativeml-openrail-m"),
    (r"open ?rail(?:\+\+)?[\s-]?m", "openrail++"),
    (r"llama ?2 (?:community )?licen[sc]e", "llama2"),
)
_LICENSE_STATED = re.compile(r"\b(?:licen[sc]ed|released|distributed|available)\s+under\s+(?:the\s+)?(?:terms\s+of\s+"
                             r"(?:the\s+)?)?(.{3,60})|\blicen[sc]e\s*[:：]\s*(.{2,60})", re.IGNORECASE)  # fmt: skip


def read_licenses(doc: Document) -> list[Fact]:
    """Licences the text states ("licensed under the MIT License", "License: Apache 2.0")."""
    found: dict[str, Fact] = {}
    for block in doc.blocks:
        if block.kind in ("code", "html") or "licen" not in block.text.lower():
            continue
        text = " ".join(block.text.split())
        for match in _LICENSE_STATED.finditer(text):
            named = (match.group(1) or match.group(2) or "").lower()
            for pattern, license_id in _LICENSE_NAMES:
                if re.match(pattern, named) and license_id not in found:
                    found[license_id] = Fact("license", license_id, None, "text", None,
                                             Evidence(_snippet(text[max(0, match.start() - 40) : match.end() + 20]),
                                                      block.line))  # fmt: skip
                    break
    return list(found.values())


# -- links: the model's own paper and code, apart from citations and libraries ---------------------------

_ARXIV_ID = r"(\d{4}\.\d{4,5})(?:v\d+)?"
_ARXIV = re.compile(
    rf"arxiv\.org/(?:abs|pdf)/{_ARXIV_ID}|\barxiv\s*[:.]?\s*{_ARXIV_ID}|eprint\s*=\s*[{{\"]\s*{_ARXIV_ID}|"
    # Semantic Scholar's BibTeX: journal={ArXiv}, volume={abs/1910.01108}
    rf"volume\s*=\s*[{{\"]\s*abs/{_ARXIV_ID}",
    re.IGNORECASE,
)
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>)\]{}]{1,200})")
_GITHUB = re.compile(r"https?://github\.com/([A-Za-z0-9][\w.-]{0,99}/[\w.-]{1,100})")
_OWN_WORDS = re.compile(
    r"\b(?:introduced|presented|proposed|described|released|published|detailed|explained)\s+(?:in|by)\b|"
    r"\b(?:research\s+)?paper\s*[:：\[*]|\btechnical\s+report\b|\b(?:in|from|see)\s+the\s+paper\b",
    re.IGNORECASE,
)
_FORMAT_WORDS = frozenset({"bf16", "fp16", "fp32", "fp8", "fp4", "int4", "int8", "gguf", "ggml", "gptq", "awq", "exl2",
                           "4bit", "8bit", "mlx", "onnx", "quantized", "q4", "q8"})  # fmt: skip
# "<Name> was introduced in": the paper of the thing named (another model, when the name is not this one's)
_INTRODUCED = re.compile(
    r"\b((?!This\b|The\b|It\b|We\b|Our\b)[A-Z][\w-]{2,}(?:\s[A-Z0-9][\w.-]*)?)\s+(?:was|were|is|are)\s+"
    r"(?:first\s+|originally\s+)?(?:introduced|presented|proposed|described)\s+in\b"
)
_STRONG_OWN = re.compile(
    r"\bour\s+(?:\w+\s+)?(?:paper|work|report|model)|\bthis\s+paper\b|\bplease\s+cite\b|"
    r"\bif\s+you\s+(?:use|find)\b",
    re.IGNORECASE,
)
_OWN_CODE_WORDS = re.compile(
    r"\b(?:codes?|repository|repo|implementation|scripts?|source)\b.{0,40}?\b(?:available|found|here|released|hosted|visit)"
    r"\b|\bfirst\s+released\b|\bgithub\s*(?:repo(?:sitory)?)?\s*[:：]|\b(?:codes?|repository|repo)\s*[:：]|"
    r"\bi\s+was\s+made\s+with\b|\breport(?:ing)?\s+issues\b|\bofficial\s+\[?(?:github\s+|gitlab\s+)?(?:code|repo|"
    r"repository|implementation)\b|\breadme\s*[:：]|"
    r"\bour\s+(?:\w+\s+)?(?:code|repo|repository|github|implementation)|"
    r"\boriginal\s+(?:model|checkpoint|weights?)\b.{0,30}?\b(?:found|available|hosted)\b",
    re.IGNORECASE,
)
# a section that is the model's own links: "## Homepage", "## Code", "### Source code"
_OWN_LINK_HEADINGS = re.compile(
    r"\W*(?:home\s*page|code|source(?:\s+code)?|repository|github|links?|official\s+(?:code|repo(?:sitory)?))\W*",
    re.IGNORECASE,
)
# where papers live that are neither arXiv nor a DOI: the ACL Anthology, OpenReview, proceedings
_PAPER_HOST = re.compile(
    r"https?://(?:www\.)?(?:openreview\.net/(?:forum|pdf)\?id=[\w-]{4,40}|ieeexplore\.ieee\.org/(?:document|abstract/document)/\d{4,12}|"
    r"(?:aclanthology\.org|aclweb\.org/anthology|"
    r"proceedings\.neurips\.cc|papers\.nips\.cc|proceedings\.mlr\.press|ojs\.aaai\.org|"
    r"openaccess\.thecvf\.com|papers\.ssrn\.com)/[^\s)\]<>\"']{2,300})|"
    r"https?://github\.com/[\w.-]{1,100}/[\w.-]{1,100}/(?:blob|raw)/[^\s)\]<>\"']{1,300}?\.pdf(?=[\s)\]<>\"']|$)",
    re.IGNORECASE,
)
# a numbered reference of a footnote list: "[2]: Williams A., Bowman S. (2018) XNLI: ..." (escaped or not)
_REFERENCE_ITEM = re.compile(r"\s*\\?\[\d{1,2}\\?\]\s*:?\s+[A-Z]")
_PAPER_HOST_WORDS = ("anthology", "openreview", "ieeexplore", "ssrn", "neurips", "nips.cc", "mlr.press", "thecvf",
                     "aaai", ".pdf")  # fmt: skip
# papers a card template cites, never the model's: the ML CO2 impact calculator (Lacoste et al., 2019)
_TEMPLATE_PAPERS = frozenset({"arxiv:1910.09700"})
# the link's own text says it is the code: "[GitHub repo](https://github.com/…)", "[Code](…)"
_CODE_LINK_TEXT = re.compile(
    r"\[\s*(?:github|gitlab)?\s*(?:code|repo(?:sitory)?|github|source\s+code|official\s+code)\s*\]\($", re.IGNORECASE
)
# words just before a link that make it the base model's: "Base model is [X](…)", "based on [X](…)"
_BASE_LEAD = re.compile(
    r"\bbase\s+model\s*(?:is|was|:)\s*(?:the\s+)?\[?[^\[\]]{0,40}\]?\(?$|\bbased\s+on\s+\[[^\[\]]{1,40}\]\($|"
    r"\binitiali[sz]ed\s+(?:from|with)\s+\[[^\[\]]{1,40}\]\($",
    re.IGNORECASE,
)
_GITHUB_PDF = re.compile(r"https?://github\.com/[^\s)\]<>\"']{1,400}?\.pdf(?=[\s)\]<>\"']|$)", re.IGNORECASE)
_GITHUB_FOLDER = re.compile(r"/tree/([\w.-]{1,60}/[\w./-]{1,200}?)/?(?=[\s)\]\"'>]|$)")
_CODE_NOUN = re.compile(r"\b(?:code|implementation|scripts?|repository|repo)\b", re.IGNORECASE)
_OWN_RELEASE = re.compile(r"first released|official|original", re.IGNORECASE)
_GENERIC_NAME_WORDS = frozenset(
    {
        "bert",
        "roberta",
        "gpt",
        "gpt2",
        "base",
        "large",
        "small",
        "tiny",
        "medium",
        "model",
        "cased",
        "uncased",
        "chat",
        "instruct",
        "finetuned",
        "fine",
        "tuned",
        "multilingual",
        "english",
        "v1",
        "v2",
        "v3",
        "hf",
        "llama",
        "mistral",
        "gemma",
        "xlm",
        "t5",
        "bart",
        "encoder",
        "decoder",
        "single",
    }
)
LIBRARIES = frozenset(
    r.lower()
    for r in (
        "huggingface/transformers",
        "huggingface/datasets",
        "huggingface/peft",
        "huggingface/trl",
        "huggingface/diffusers",
        "huggingface/accelerate",
        "huggingface/tokenizers",
        "huggingface/optimum",
        "huggingface/huggingface_hub",
        "huggingface/notebooks",
        "huggingface/autotrain-advanced",
        "huggingface/text-generation-inference",
        "pytorch/pytorch",
        "tensorflow/tensorflow",
        "google/jax",
        "google/flax",
        "keras-team/keras",
        "UKPLab/sentence-transformers",
        "microsoft/DeepSpeed",
        "NVIDIA/apex",
        "ggerganov/llama.cpp",
        "ggml-org/llama.cpp",
        "vllm-project/vllm",
        "unslothai/unsloth",
        "hiyouga/LLaMA-Factory",
        "axolotl-ai-cloud/axolotl",
        "OpenAccess-AI-Collective/axolotl",
        "TimDettmers/bitsandbytes",
        "bitsandbytes-foundation/bitsandbytes",
        "AutoGPTQ/AutoGPTQ",
        "casper-hansen/AutoAWQ",
        "mlc-ai/mlc-llm",
        "EleutherAI/lm-evaluation-harness",
        "explosion/spaCy",
        "flairNLP/flair",
        "speechbrain/speechbrain",
        "pytorch/fairseq",
        "facebookresearch/fairseq",
        "kpu/kenlm",
        "openai/whisper",
        "Lightning-AI/lightning",
        "PyTorchLightning/pytorch-lightning",
        "scikit-learn/scikit-learn",
        "numpy/numpy",
        "pytorch/audio",
        "huggingface/blog",
        "huggingface/hub-docs",
        "google/sentencepiece",
        "facebookresearch/faiss",
    )
)
_CITATION_HEADINGS = re.compile(r"citation|cite|bibtex|reference", re.IGNORECASE)


_CITED_NEAR = re.compile(
    r"\boriginal\b.{0,30}\bpaper|\bcollected\s+for\b|\bsee\s+also\b|\bbased\s+on\b|"
    r"\bfollow(?:ing|s)\b|\bsame\s+as\b|\bfamily\b|\bbenchmark|\bdataset\b",
    re.IGNORECASE,
)


# A paper that is only a web page or a PDF, named as a paper: "- **Paper:** https://…",
# "[Gemma Technical Report](https://….pdf)", "refer to the [research paper](https://…)".
_PAPER_URL = re.compile(
    r"\b(?:paper|tech(?:nical)?\s+report)\s*\**\s*[:：]\s*\**\s*(?:\[[^\]]{0,200}\]\()?(https?://[^\s)\]<>\"']{4,300})|"
    r"\[[^\]]{0,120}\b(?:research\s+paper|tech(?:nical)?\s+report)\s*\]\((https?://[^\s)<>\"']{4,300})\)",
    re.IGNORECASE,
)
_LINK_HOSTS = re.compile(r"arxiv\.org|doi\.org|github\.com|huggingface\.co", re.IGNORECASE)
_BIBTEX_ENTRY = re.compile(r"@\w+\s*\{")
_BIBTEX_TITLE = re.compile(r"\btitle\s*=\s*[{\"](.{1,300}?)[}\"]\s*,", re.IGNORECASE)
_TOOLKIT = re.compile(r"\b(?:toolkit|library)\b", re.IGNORECASE)


_LINKS_PER_BLOCK = 200  # links of one kind read from one block (a hostile block may repeat one thousands of times)


class _ToolkitEntries:
    """Which BibTeX entries of a block cite a software toolkit's paper (ESPnet, SpeechBrain): the tool
    the model was made with, never the model's own paper. Entries are found once per block."""

    def __init__(self, text: str) -> None:
        self.starts = [m.start() for m in _BIBTEX_ENTRY.finditer(text)] if "@" in text else []
        self.text = text
        self.verdicts: dict[int, bool] = {}

    def around(self, at: int) -> bool:
        index = bisect.bisect_right(self.starts, at) - 1
        if index < 0:
            return False
        if index not in self.verdicts:
            end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.text)
            title = _BIBTEX_TITLE.search(self.text, self.starts[index], end)
            self.verdicts[index] = bool(title and _TOOLKIT.search(title.group(1)))
        return self.verdicts[index]


def _plain(text: str) -> str:
    """Link text read as words: "our [project repo](…)" says "our project repo"."""
    return text.replace("[", "").replace("]", "")


def _role(
    context: str, headings: tuple[str, ...], *, derived: bool, intro: bool, name_words: set[str], lead: str = ""
) -> str:
    """own, when the wording, the place or the model's own name says so; else cited. ``lead``, the words
    just before the link, decides first when they cite ("initially collected for [Turc et al.](…)")."""
    lead = _plain(lead)
    if _CITED_NEAR.search(lead) and not _STRONG_OWN.search(lead):
        return "cited"
    context = _plain(context)
    subject = _INTRODUCED.search(context)
    if subject and not set(re.findall(r"[a-z0-9]+", subject.group(1).lower())) & name_words:
        return "cited"  # "RoBERTa was introduced in [this paper]" in a card of a model named otherwise
    words = set(re.findall(r"[a-z0-9]+", context.lower()))
    if _STRONG_OWN.search(context) or name_words & words:  # "please cite our paper", the model's own name
        return "own"
    if _CITED_NEAR.search(context):
        return "cited"
    if _OWN_WORDS.search(context):
        return "own"
    if any(_CITATION_HEADINGS.search(h) for h in headings) or re.search(r"@\w+\s*\{", context):
        return "cited" if derived else "own"
    return "own" if intro and not derived else "cited"


def _alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _own_repository(repo: str, repo_id: str, name_words: set[str]) -> bool:
    """A GitHub repository named like the model: the model's name starts with the repository's
    ("ymcui/Chinese-BERT-wwm" for "hfl/chinese-bert-wwm-ext"), or its owner is the model's owner
    under another spelling ("bigscience-workshop", "bhadreshpsavani" for "bhadresh-savani") and its
    name shares a word with the model's."""
    gh_owner, _, gh_name = repo.partition("/")
    owner, _, name = repo_id.rpartition("/")
    repo_name, model_name = _alnum(gh_name), _alnum(name)
    if len(repo_name) >= 6 and model_name.startswith(repo_name):
        return True
    a, b = _alnum(gh_owner), _alnum(owner)
    similar = (
        len(a) >= 4
        and len(b) >= 4
        and (a.startswith(b) or b.startswith(a) or SequenceMatcher(None, a, b).ratio() >= 0.85)
    )
    return similar and bool(name_words & set(re.findall(r"[a-z0-9]+", gh_name.lower())))


def _folder_names_model(folder: str, repo_id: str, name_words: set[str]) -> bool:
    """A repository folder named like the model ("microsoft/unilm/tree/master/layoutlmv2" for
    microsoft/layoutlmv2-base-uncased): the model's code in a repository of many."""
    last = _alnum(folder.rstrip("/").rsplit("/", 1)[-1])
    name = _alnum(repo_id.rsplit("/", 1)[-1])
    return len(last) >= 5 and (name.startswith(last) or last in {_alnum(w) for w in name_words})


def _own_name_words(repo_id: str, bases: tuple[str, ...]) -> set[str]:
    """The words of a model's name that say a link is its own (not its owner's, not generic, not its base's)."""
    owner = repo_id.split("/", 1)[0].lower() if "/" in repo_id else ""
    owner_words = set(re.findall(r"[a-z0-9]+", owner))
    base_words = {w for base in bases for w in re.findall(r"[a-z0-9]+", base.rsplit("/", 1)[-1].lower())}
    name_words = {
        w
        for w in re.findall(r"[a-z0-9]+", repo_id.rsplit("/", 1)[-1].lower())
        if len(w) >= 4 and not w.isdigit() and w not in _GENERIC_NAME_WORDS and w not in owner_words
    }
    own_words = name_words - base_words
    if own_words - _TUNED_VARIANTS - _FORMAT_WORDS:
        # tuned into something else ("emotion"): the base's words name the base; a re-upload, a quantization or a
        # chat variant of the same family ("-BF16", "-Chat") keeps them, its papers are the family's
        name_words = own_words
    return name_words


@dataclass(frozen=True, slots=True)
class _LinkPlace:
    """Where a GitHub link sits: the words around it, just before it, and the part of the card."""

    window: str
    lead: str
    intro: bool
    own_links: bool
    """Under a heading that lists the model's own links ("## Homepage")."""
    folder: str | None
    """The folder of the repository it points at (``tree/master/examples/wav2vec``), if any."""


def _code_link(repo: str, where: _LinkPlace, repo_id: str, owner: str, name_words: set[str]) -> tuple[str, str]:
    """(name, role) of a GitHub repository a card links: own, cited, or library."""
    if _BASE_LEAD.search(where.lead):  # "Base model is [BerTweet](https://github.com/…)": the base's code
        return "github.com/" + repo, "cited"
    window = where.window
    code_own = bool(_OWN_CODE_WORDS.search(_plain(window)))
    repo_words = set(re.findall(r"[a-z0-9]+", repo.lower()))
    own_release = code_own and bool(_OWN_RELEASE.search(window))
    same_owner = bool(owner) and repo.split("/")[0].lower() == owner
    same_name = repo.split("/")[-1].lower() == repo_id.rsplit("/", 1)[-1].lower()
    if same_owner and _CODE_LINK_TEXT.search(where.lead):  # "[GitHub repo](…)" to the owner's repository
        code_own = True
    library = repo.lower() in LIBRARIES
    if library and where.folder and (code_own or (where.intro and _CODE_NOUN.search(window))):
        # a folder of a library (examples/distillation, fairseq/models/bart): this model's own code
        return f"github.com/{repo}/tree/{where.folder}", "own"
    if library and not own_release:
        return "github.com/" + repo, "library"
    if (
        code_own
        or (same_owner and (name_words & repo_words or same_name or where.own_links))
        or _own_repository(repo, repo_id, name_words)
        or (same_owner and where.folder is not None and _folder_names_model(where.folder, repo_id, name_words))
    ):
        return "github.com/" + repo, "own"
    return "github.com/" + repo, "cited"


def read_links(doc: Document, repo_id: str, *, derived: bool, bases: tuple[str, ...] = ()) -> list[Fact]:
    """arXiv ids, DOIs and code repositories, each marked own, cited or (code) library.

    The words of the model's name say a link is its own, except those it shares with a base model it was
    derived from ("distilbert" in distilbert-base-uncased-emotion names the base, not this model).
    """
    owner = repo_id.split("/", 1)[0].lower() if "/" in repo_id else ""
    name_words = _own_name_words(repo_id, bases)
    found: dict[tuple[str, str], Fact] = {}
    first_heading_line = next((h.line for h in doc.headings if h.level >= 2), 10**9)
    previous = ""

    def add(kind: str, name: str, role: str, snippet: str, line: int) -> None:
        key = (kind, name.lower())
        previous = found.get(key)
        if previous is not None and not (role == "own" and previous.role != "own"):
            return
        if len(found) < MAX_FACTS or previous is not None:
            found[key] = Fact(kind, name, None, "link", role, Evidence(_snippet(snippet), line))

    def settled(kind: str, name: str) -> bool:
        """Nothing more to learn about this link: already own, or no room for another fact."""
        fact = found.get((kind, name.lower()))
        return fact.role == "own" if fact is not None else len(found) >= MAX_FACTS

    for block in (*doc.blocks, *doc.cells):
        text = block.source or block.text
        lower = text.lower()
        before, previous = previous, " ".join(block.text.split())[-300:]
        ids = "arxiv" in lower or "10." in text or "github.com" in lower or "eprint" in lower
        paper_url = ("paper" in lower or "report" in lower) and "http" in lower
        paper_host = "http" in lower and any(word in lower for word in _PAPER_HOST_WORDS)
        if not ids and not paper_url and not paper_host:
            continue
        context = " ".join(text.split())
        intro = block.line < first_heading_line or bool(
            block.headings
            and re.search(
                r"description|overview|model details|introduction|about|summary", block.headings[-1], re.IGNORECASE
            )
        )
        whole = (
            block.kind == "code" or len(context) < 200
        )  # BibTeX, or a line naming the link: read it with its lead-in

        def near(start: int, end: int, *, context: str = context, before: str = before, whole: bool = whole) -> str:
            return f"{before} {context[:2_000]}" if whole else context[max(0, start - 160) : end + 80]

        toolkits = _ToolkitEntries(context)
        reference = bool(_REFERENCE_ITEM.match(context)) and not _STRONG_OWN.search(context)
        for match in islice(_ARXIV.finditer(context), _LINKS_PER_BLOCK):
            arxiv_id = next(group for group in match.groups() if group)
            if settled("paper", "arxiv:" + arxiv_id):
                continue
            window = near(match.start(), match.end())
            lead = context[max(0, match.start() - 60) : match.start()]
            role = _role(window, block.headings, derived=derived, intro=intro, name_words=name_words, lead=lead)
            if toolkits.around(match.start()) or "arxiv:" + arxiv_id in _TEMPLATE_PAPERS or reference:
                role = "cited"
            add("paper", "arxiv:" + arxiv_id, role, window, block.line)
        for match in islice(_DOI.finditer(context), _LINKS_PER_BLOCK):
            doi = match.group(1).rstrip(".,;}")
            if "arxiv" in doi.lower() or settled("paper", "doi:" + doi):
                continue
            window = near(match.start(), match.end())
            role = _role(window, block.headings, derived=derived, intro=intro, name_words=name_words)
            if toolkits.around(match.start()):
                role = "cited"
            add("paper", "doi:" + doi, role, window, block.line)
        for match in islice(_PAPER_URL.finditer(context), _LINKS_PER_BLOCK) if paper_url else ():
            url = (match.group(1) or match.group(2)).rstrip(".,;")
            if _LINK_HOSTS.search(url):
                continue  # arXiv, DOIs and GitHub are read above and below
            window = near(match.start(), match.end())
            role = _role(window, block.headings, derived=derived, intro=intro, name_words=name_words)
            add("paper", "url:" + url, role, window, block.line)
        for match in islice(_PAPER_HOST.finditer(text), _LINKS_PER_BLOCK) if paper_host else ():
            url = match.group(0).rstrip(".,;")
            if settled("paper", "url:" + url):
                continue
            window = near(0, len(context)) if whole else _plain(text[max(0, match.start() - 160) : match.end() + 80])
            role = _role(window, block.headings, derived=derived, intro=intro, name_words=name_words)
            add("paper", "url:" + url, role, window, block.line)
        own_links = bool(block.headings) and bool(_OWN_LINK_HEADINGS.fullmatch(block.headings[-1]))
        for match in islice(_GITHUB.finditer(context), _LINKS_PER_BLOCK):
            if _GITHUB_PDF.match(context, match.start()):
                continue  # a paper kept in a repository ("DeepSeek_R1.pdf"), read above
            repo = "/".join(match.group(1).rstrip(".").removesuffix(".git").split("/")[:2])
            window = near(match.start(), match.end())
            lead = context[max(0, match.start() - 60) : match.start()]
            folder = _GITHUB_FOLDER.match(context, match.end())
            where = _LinkPlace(window, lead, intro, own_links, folder.group(1) if folder else None)
            name, role = _code_link(repo, where, repo_id, owner, name_words)
            add("code", name, role, window, block.line)
    facts = list(found.values())
    if any(f.kind == "paper" and f.role == "own" and not f.name.startswith("url:") for f in facts):
        # the model's paper has an arXiv id or a DOI: a PDF or proceedings link beside it is that paper again
        facts = [f for f in facts if not (f.kind == "paper" and f.role == "own" and _PAPER_HOST.match(f.name, 4))]
    return facts


# -- the whole body ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BodyFacts:
    """Everything read from a card's body, each item with its evidence."""

    results: list[Result]
    facts: list[Fact]

    def of(self, kind: str, role: str | None = None) -> list[Fact]:
        """The facts of one kind (and role)."""
        return [f for f in self.facts if f.kind == kind and (role is None or f.role == role)]


def read_body(
    doc: Document,
    repo_id: str,
    *,
    metadata_datasets: list[str],
    metadata_bases: list[str],
    claim_metrics: list[str],
) -> BodyFacts:
    """Read every kind of fact from a parsed body; the front matter's facts give context, never overrides."""
    text = "\n".join(b.text for b in doc.blocks[:60] if b.kind in ("paragraph", "item"))
    dataset = trainer_dataset(text)
    if dataset is None and len(metadata_datasets) == 1:
        dataset = metadata_datasets[0].lower()
    metrics = [m for m in (metric_of(c) for c in claim_metrics) if m]
    default_metric = (
        max(set(metrics), key=metrics.count)
        if metrics
        else ("wer" if re.search(r"\bwer\b|word error rate", text, re.IGNORECASE) else None)
    )
    bases = read_base_models(doc, repo_id)
    facts = [
        *bases,
        *read_datasets(doc, repo_id),
        *read_hyperparameters(doc),
        *read_hardware(doc),
        *read_environment(doc),
        *read_limitations(doc),
        *read_licenses(doc),
        *read_links(
            doc,
            repo_id,
            derived=bool(bases or metadata_bases),
            bases=tuple(metadata_bases) + tuple(f.name for f in bases),
        ),
    ]
    results = read_results(doc, repo_id, dataset=dataset, default_metric=default_metric)
    return BodyFacts(results, facts[: MAX_FACTS * 4])
