"""``ptmscope verify`` as library functions: re-run a model's claimed evaluation and judge the claim.

``verify_model`` resolves and loads one model, runs it over one split of a local
dataset, measures the metric with a bootstrap interval, finds the card's matching
model-index claim and gives the verdict (``ptmscope.verify.claims`` has the rule).
``verify_snapshot`` does the same for every model of a snapshot that claims results on
a dataset for a task; a model that cannot be loaded or run is recorded as ``failed``
with its reason and the run goes on. ``ptmscope.verify.results`` stores the outcomes.

Progress is reported through a callback (``Progress``), never printed here.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ptmscope import __version__
from ptmscope.cards.analysis import Claim, analyze_card
from ptmscope.errors import DatasetError, InputError, PtmscopeError
from ptmscope.store.verifications import new_run_id
from ptmscope.verify import claims as claim_rules
from ptmscope.verify import predict
from ptmscope.verify.data import TASKS, EvalData, load_eval_data
from ptmscope.verify.labels import map_labels, map_tag_sequences
from ptmscope.verify.metrics import (
    CLASSIFICATION_METRICS,
    SIMILARITY_METRICS,
    TOKEN_METRICS,
    Estimate,
    bootstrap,
    classification_statistic,
    similarity_statistic,
    token_statistic,
)
from ptmscope.verify.model import (
    LoadedModel,
    ModelSource,
    detect_task,
    load_model,
    read_layout,
    require_extra,
    resolve_model,
    weights_sha256,
)
from ptmscope.verify.results import save

if TYPE_CHECKING:
    from ptmscope.store.store import Snapshot, Store

DEFAULT_METRIC = {"text-classification": "accuracy", "image-classification": "accuracy",
                  "token-classification": "f1", "sentence-similarity": "spearman"}  # fmt: skip
METRICS = {"text-classification": CLASSIFICATION_METRICS, "image-classification": CLASSIFICATION_METRICS,
           "token-classification": TOKEN_METRICS, "sentence-similarity": SIMILARITY_METRICS}  # fmt: skip
# What users type for a metric -> the name verify measures (per task family).
METRIC_ALIASES = {"f1": "f1_macro", "macro_f1": "f1_macro", "weighted_f1": "f1_weighted", "micro_f1": "f1_micro",
                  "acc": "accuracy", "spearmanr": "spearman", "pearsonr": "pearson"}  # fmt: skip
TASK_ALIASES = {"feature-extraction": "sentence-similarity", "sts": "sentence-similarity",
                "ner": "token-classification", "sentiment-analysis": "text-classification"}  # fmt: skip

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``; ``done`` counts examples (or models for 'models')."""


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class VerifyOptions:
    """Everything about how to verify, apart from which model."""

    dataset: str
    """A dataset path or a name in the local Hugging Face cache."""
    task: str | None = None
    """None: from the model's architectures."""
    dataset_name: str | None = None
    """The dataset's identity for matching claims (default: its own info, else the file or folder name)."""
    dataset_config: str | None = None
    split: str = "test"
    metric: str | None = None
    """None: the task's default (accuracy, entity F1, Spearman)."""
    columns: Mapping[str, str] = field(default_factory=dict)
    limit: int | None = None
    batch_size: int = 32
    resamples: int = 1000
    confidence: float = 0.95
    tolerance: float = claim_rules.DEFAULT_TOLERANCE
    seed: int = 0
    allow_pickle: bool = False
    trust_remote_code: bool = False
    revision: str | None = None
    endpoint: str | None = None
    token: str | None = None
    offline: bool = False
    cache_dir: Path | None = None

    def validated(self) -> VerifyOptions:
        """These options with the task and metric names canonical; InputError on a bad value."""
        task = TASK_ALIASES.get(self.task, self.task) if self.task else None
        if task is not None and task not in TASKS:
            raise InputError(f"--task {self.task}: verify knows {', '.join(TASKS)}")
        metric = METRIC_ALIASES.get(self.metric.lower(), self.metric.lower()) if self.metric else None
        if self.batch_size < 1 or self.resamples < 1:
            raise InputError("--batch-size and --resamples must be positive")
        if not 0 < self.confidence < 1:
            raise InputError("--confidence must lie strictly between 0 and 1 (e.g. 0.95)")
        if self.tolerance < 0:
            raise InputError("--tolerance cannot be negative")
        if self.limit is not None and self.limit < 1:
            raise InputError("--limit must be positive")
        options = replace(self, task=task, metric=metric)
        if task is not None:
            options.metric_for(task)  # raises on a metric the task does not measure
        return options

    def metric_for(self, task: str) -> str:
        """The metric to measure for ``task``."""
        if self.metric is None:
            return DEFAULT_METRIC[task]
        if task == "token-classification" and self.metric == "f1_macro":  # "f1" means entity F1 for tokens
            return "f1"
        if self.metric not in METRICS[task]:
            raise InputError(f"--metric {self.metric}: {task} measures {', '.join(METRICS[task])}")
        return self.metric


@dataclass
class Verification:
    """The outcome of re-running one model's evaluation."""

    repo_id: str
    sha: str | None
    model_source: str
    """'folder', 'hf-cache', 'hub' (or 'unresolved' when the model could not be found)."""
    task: str | None
    metric: str | None
    dataset: str
    dataset_name: str | None
    dataset_config: str | None
    split: str
    verdict: str
    """consistent | discrepancy | no_matching_claim | failed."""
    explanation: str
    estimate: Estimate | None = None
    claim: Claim | None = None
    claimed: float | None = None
    """The matched claim's value on the measured scale (0-1)."""
    examples_total: int | None = None
    weights_sha256: str | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    runtime: dict[str, str] = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    selected_from: str | None = None
    """The snapshot a --snapshot run picked the model from."""

    @property
    def measured(self) -> float | None:
        """The metric on the evaluated examples."""
        return self.estimate.value if self.estimate else None

    @property
    def gap(self) -> float | None:
        """claimed - measured (positive: the card claims more than was measured)."""
        if self.claimed is None or self.estimate is None or math.isnan(self.estimate.value):
            return None
        return self.claimed - self.estimate.value

    @property
    def direction(self) -> str | None:
        """'overclaimed' / 'underclaimed' for a discrepancy."""
        if self.verdict != "discrepancy" or self.gap is None:
            return None
        return "overclaimed" if self.gap > 0 else "underclaimed"


# -- claims of a model ---------------------------------------------------------------------------


def card_claims(folder: Path) -> tuple[list[Claim], str, list[Claim]]:
    """The model-index claims of README.md in ``folder``, where they came from, and the results its text reports.

    The text's results (tables, the Trainer's list, sentences) are a second resort: a claim
    a reader sees but no tool could parse, checked only when no model-index claim matches.
    """
    readme = folder / "README.md"
    if not readme.is_file():
        return [], "the model has no README.md, so no claims", []
    try:
        with readme.open("rb") as handle:
            content = handle.read(4 * 1024**2)
    except OSError as error:
        return [], f"README.md is unreadable ({error}), so no claims", []
    analysis = analyze_card(content)
    text = [
        Claim(f"card text, line {r.evidence.line} ({r.found_in})", None, None, r.dataset, r.dataset, None, r.split,
              r.metric, None, r.value, r.value_text + (r.unit or ""), None)
        for r in analysis.body.results
    ]  # fmt: skip
    if analysis.status != "ok":
        detail = f" ({analysis.error})" if analysis.error else ""
        return [], f"README.md has no usable front matter ({analysis.status}{detail}), so no claims", text
    return [c for c in analysis.facts.claims if c.status == "valid"], "claims read from README.md", text


def snapshot_claims(store: Store, snapshot_id: int, repo_id: str) -> list[Claim]:
    """A model's claims as the snapshot recorded them (card, cardData or top-level model-index)."""
    rows = store.query(
        "SELECT DISTINCT model_name, task_type, task_name, dataset_type, dataset_name, dataset_config, dataset_split,"
        " metric_type, metric_name, value, value_text, verified FROM claims"
        " WHERE snapshot_id = ? AND repo_id = ? AND value_text IS NOT NULL"
        " ORDER BY dataset_type, dataset_split, metric_type, value_text",
        [snapshot_id, repo_id],
    )
    return [Claim(*row) for row in rows]


# -- one model -----------------------------------------------------------------------------------------


def _runtime() -> dict[str, str]:
    torch_version, transformers_version = require_extra()
    return {"ptmscope": __version__, "torch": torch_version, "transformers": transformers_version, "device": "cpu"}


def measure(loaded: LoadedModel, data: EvalData, options: VerifyOptions, metric: str,
            progress: Progress = _no_progress) -> tuple[Estimate, list[str]]:  # fmt: skip
    """Run ``loaded`` over ``data`` and measure ``metric`` with its bootstrap interval; (estimate, notes)."""
    task, n = loaded.task, len(data)
    notes: list[str] = []
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        progress("examples", done, total)

    total = n
    if task in ("text-classification", "image-classification"):
        gold, mapper = map_labels(data.columns["label"], loaded.id2label, data.label_names)
        notes.extend(mapper.notes)
        progress("examples", 0, total)
        if task == "text-classification":
            texts = predict.check_texts(data.columns["text"], "text")
            pred = predict.classify_texts(loaded, texts, options.batch_size, step)
        else:
            pred = predict.classify_images(loaded, data.columns["image"], options.batch_size, step)
        statistic = classification_statistic(gold, pred, metric, len(loaded.id2label))
    elif task == "token-classification":
        tokens = data.columns["tokens"]
        gold_ids, mapper = map_tag_sequences(data.columns["tags"], tokens, loaded.id2label, data.label_names)
        notes.extend(mapper.notes)
        progress("examples", 0, total)
        pred_ids, truncated = predict.tag_tokens(loaded, tokens, options.batch_size, step)
        if truncated:
            notes.append(f"{truncated:,} words past the model's maximum length were predicted O")
        gold_tags = [[mapper.name(i) for i in row] for row in gold_ids]
        pred_tags = [[mapper.name(i) if i >= 0 else "O" for i in row] for row in pred_ids]
        statistic = token_statistic(gold_tags, pred_tags, metric)
    else:
        first = predict.check_texts(data.columns["sentence1"], "sentence1")
        second = predict.check_texts(data.columns["sentence2"], "sentence2")
        scores = _scores(data.columns["score"])
        total = len(set(first) | set(second))
        progress("examples", 0, total)
        predicted = predict.cosine_scores(loaded, first, second, options.batch_size, step)
        statistic = similarity_statistic(predicted, scores, metric)
        if len(set(scores)) < 2:
            raise DatasetError("every gold score is the same; a correlation is undefined")
    estimate = bootstrap(statistic, n, resamples=options.resamples, confidence=options.confidence, seed=options.seed)
    return estimate, notes


def _scores(values: list[Any]) -> list[float]:
    out = []
    for i, value in enumerate(values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise DatasetError(f"row {i}: score {str(value)[:40]!r} is not a number") from None
        if not math.isfinite(number):
            raise DatasetError(f"row {i}: score {value!r} is not finite")
        out.append(number)
    return out


def _judge(verification: Verification, claims: list[Claim], options: VerifyOptions) -> None:
    assert verification.estimate is not None and verification.task and verification.metric
    match = claim_rules.match_claim(
        claims,
        task=verification.task,
        dataset=verification.dataset_name or verification.dataset,
        config=verification.dataset_config,
        split=verification.split,
        metric=verification.metric,
    )
    verification.claim = match.claim
    verification.claimed = match.claimed
    verification.verdict = claim_rules.verdict(match.claimed, verification.estimate, options.tolerance)
    verification.explanation = match.explanation


def run_loaded(source: ModelSource, options: VerifyOptions, data_cache: dict[str, EvalData], *,
               fallback_claims: list[Claim] | None = None,
               progress: Progress = _no_progress) -> Verification:  # fmt: skip
    """Verify an already-resolved model (``data_cache`` holds the dataset per task, read once)."""
    started = time.perf_counter()
    layout = read_layout(source.folder, options.allow_pickle)
    task = options.task or detect_task(layout)
    metric = options.metric_for(task)
    if task not in data_cache:
        data_cache[task] = load_eval_data(
            options.dataset, task, split=options.split, config=options.dataset_config, name=options.dataset_name,
            columns=options.columns, limit=options.limit, seed=options.seed,
        )  # fmt: skip
    data = data_cache[task]
    progress("loading", 0, 1)
    loaded = load_model(source, task, allow_pickle=options.allow_pickle, trust_remote_code=options.trust_remote_code)
    progress("loading", 1, 1)
    estimate, notes = measure(loaded, data, options, metric, progress)
    claims, claims_from, text_claims = card_claims(source.folder)
    if not claims and fallback_claims:
        claims, claims_from = fallback_claims, "claims read from the snapshot's record of the card"
    verification = Verification(
        repo_id=source.repo_id,
        sha=source.sha,
        model_source=source.kind,
        task=task,
        metric=metric,
        dataset=options.dataset,
        dataset_name=data.name,
        dataset_config=data.config,
        split=options.split,
        verdict="no_matching_claim",
        explanation="",
        estimate=estimate,
        examples_total=data.total,
        weights_sha256=weights_sha256(layout),
        notes=[*source.notes, *data.notes, *loaded.notes, *notes, claims_from],
        runtime=_runtime(),
    )
    _judge(verification, claims, options)
    if verification.verdict == "no_matching_claim" and text_claims:
        _judge(verification, text_claims, options)
        if verification.claim is not None:
            verification.notes.append(
                "no model-index claim matched; judged against a result in the card's text "
                f"({verification.claim.model_name}), which is not machine-parseable"
            )
    verification.seconds = time.perf_counter() - started
    return verification


def verify_model(target: str, options: VerifyOptions, *, repo_id: str | None = None,
                 progress: Progress = _no_progress) -> Verification:  # fmt: skip
    """Verify one model: a model folder, an HF cache folder, or a repo id (local cache, else the Hub).

    Raises the ``VerifyError`` family (and ``InputError``/``SourceError``) on anything
    that stops the verification: a missing extra, unreadable data, an unloadable model,
    labels that do not map.
    """
    options = options.validated()
    require_extra(load=False)  # installed? (importing torch waits until the model is there: no network fails fast)
    source = resolve_model(
        target, repo_id=repo_id, revision=options.revision, endpoint=options.endpoint, token=options.token,
        offline=options.offline, cache_dir=options.cache_dir, allow_pickle=options.allow_pickle,
    )  # fmt: skip
    require_extra()
    return run_loaded(source, options, {}, progress=progress)


# -- every model of a snapshot that claims results on the dataset ------------------------------------------


def candidates(store: Store, snapshot: Snapshot, task: str, dataset: str,
               max_models: int | None) -> list[tuple[str, str | None]]:  # fmt: skip
    """(repo_id, sha) of the snapshot's models claiming a result on ``dataset`` for ``task``, most downloaded first.

    A claim counts when its dataset matches by the same rule as a single verification,
    and its task type names ``task`` (or, without a task type, the model's pipeline tag does).
    """
    last = dataset.strip().lower().rsplit("/", 1)[-1]
    rows = store.query(
        """
        SELECT c.repo_id, any_value(m.sha), any_value(m.downloads), any_value(m.pipeline_tag),
               list(DISTINCT c.task_type), list(DISTINCT c.dataset_type), list(DISTINCT c.dataset_name)
        FROM claims c JOIN models m ON m.snapshot_id = c.snapshot_id AND m.repo_id = c.repo_id
        WHERE c.snapshot_id = ? AND c.value_text IS NOT NULL
          AND (contains(lower(coalesce(c.dataset_type, '')), ?) OR contains(lower(coalesce(c.dataset_name, '')), ?))
        GROUP BY c.repo_id
        ORDER BY any_value(m.downloads) DESC NULLS LAST, c.repo_id
        """,
        [snapshot.snapshot_id, last, last],
    )
    wanted = claim_rules.TASK_ALIASES[task]
    ours = claim_rules.dataset_forms(dataset)
    out: list[tuple[str, str | None]] = []
    for repo_id, sha, _downloads, pipeline_tag, task_types, dataset_types, dataset_names in rows:
        names = set().union(*(claim_rules.dataset_forms(n) for n in [*dataset_types, *dataset_names]))
        if not ours & names:
            continue
        kinds = {claim_rules.words(t) for t in task_types if t}
        if not (kinds & wanted or (None in task_types and claim_rules.words(pipeline_tag) in wanted)):
            continue
        out.append((repo_id, sha))
        if max_models is not None and len(out) >= max_models:
            break
    return out


def verify_snapshot(store: Store, snapshot: Snapshot, options: VerifyOptions, *, max_models: int | None = 20,
                    progress: Progress = _no_progress,
                    on_result: Callable[[Verification], None] | None = None) -> list[Verification]:  # fmt: skip
    """Verify every model of ``snapshot`` claiming results on ``options.dataset`` for ``options.task``.

    Each model is found in the local Hugging Face cache, else (unless offline) on the Hub
    endpoint. A model that cannot be found, loaded or run becomes a ``failed``
    verification with the reason; the run goes on. The dataset is read once per task.
    ``on_result`` sees each verification as soon as it is done (the CLI stores it then,
    so an interrupted run keeps what it measured).
    """
    options = options.validated()
    if options.task is None:
        raise InputError("verify --snapshot needs --task")
    require_extra()
    # Read the data first: bad data is the user's error, not every model's failure.
    data = load_eval_data(
        options.dataset, options.task, split=options.split, config=options.dataset_config,
        name=options.dataset_name, columns=options.columns, limit=options.limit, seed=options.seed,
    )  # fmt: skip
    data_cache = {options.task: data}
    chosen = candidates(store, snapshot, options.task, data.name, max_models)
    results: list[Verification] = []
    progress("models", 0, len(chosen))
    for repo_id, snapshot_sha in chosen:
        started = time.perf_counter()
        source: ModelSource | None = None
        try:
            source = resolve_model(
                repo_id, revision=options.revision, endpoint=options.endpoint, token=options.token,
                offline=options.offline, cache_dir=options.cache_dir, allow_pickle=options.allow_pickle,
            )  # fmt: skip
            fallback = snapshot_claims(store, snapshot.snapshot_id, repo_id)
            verification = run_loaded(source, options, data_cache, fallback_claims=fallback, progress=progress)
            if snapshot_sha and source.sha and snapshot_sha != source.sha:
                verification.notes.append(f"verified revision {source.sha[:12]}; the snapshot recorded "
                                          f"{snapshot_sha[:12]}")  # fmt: skip
        except Exception as error:  # a model's own bug (transformers, its config) must not stop the run
            reason = str(error) if isinstance(error, PtmscopeError) else f"{type(error).__name__}: {error}"
            verification = failed(repo_id, source.sha if source else snapshot_sha, options, reason[:1000],
                                  kind=source.kind if source else "unresolved")  # fmt: skip
            verification.seconds = time.perf_counter() - started
        verification.selected_from = snapshot.name
        results.append(verification)
        if on_result is not None:
            on_result(verification)
        progress("models", len(results), len(chosen))
    return results


def failed(repo_id: str, sha: str | None, options: VerifyOptions, reason: str, *,
           kind: str = "unresolved") -> Verification:  # fmt: skip
    """A verification that could not be carried out, with its reason."""
    task = options.task
    return Verification(
        repo_id=repo_id,
        sha=sha,
        model_source=kind,
        task=task,
        metric=options.metric_for(task) if task else options.metric,
        dataset=options.dataset,
        dataset_name=options.dataset_name,
        dataset_config=options.dataset_config,
        split=options.split,
        verdict="failed",
        explanation=reason,
        error=reason,
    )


@dataclass
class VerifyRun:
    """What one ``verify`` invocation measured, and the store's run id for it (None: not stored)."""

    results: list[Verification]
    run_id: int | None


def verify_snapshot_into(store: Store, snapshot: Snapshot, options: VerifyOptions, *, keep: bool = True,
                         max_models: int | None = 20, progress: Progress = _no_progress) -> VerifyRun:  # fmt: skip
    """``verify_snapshot``, storing each result in ``store`` as it comes (``keep``): an interrupt loses nothing."""
    run_id = new_run_id(store.con) if keep else None

    def stored(result: Verification) -> None:
        if run_id is not None:
            save(store.con, [result], run_id=run_id, tolerance=options.tolerance)

    results = verify_snapshot(store, snapshot, options, max_models=max_models, progress=progress, on_result=stored)
    return VerifyRun(results, run_id)
