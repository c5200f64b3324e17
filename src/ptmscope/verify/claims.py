"""Which model-index claim a verification checks, and the verdict rule.

A claim *matches* a verification when all four agree:

- **task**: the claim's ``task.type`` names the verified task (aliases below: ``sts`` and
  ``feature-extraction`` are sentence similarity, ``ner`` is token classification...);
  a claim without a task type matches any task, with a note;
- **dataset**: the claim's ``dataset.type`` or ``dataset.name`` equals the dataset's
  identity, ignoring case, and ignoring an owner prefix on either side
  (``dair-ai/emotion`` matches ``emotion``); when both name a configuration they must
  agree;
- **split**: the claim's ``dataset.split`` equals ``--split``; a claim without a split
  matches, with a note;
- **metric**: the claim's metric type (or, without a type, its name) denotes the
  measured metric: ``accuracy``/``acc``; for classification an F1 whose type or name
  says ``macro``, ``weighted`` or ``micro`` is that average, and a bare ``f1`` matches
  whichever F1 was measured, with a note (Trainer-generated cards write weighted F1 as
  plain ``f1``); for token classification ``f1`` is entity F1; ``spearman`` and
  ``cos_sim_spearman`` (cosine only; Euclidean, Manhattan and dot-product variants do
  not match), and likewise ``pearson``.

Among several matching claims the most specific wins (fewest notes), then a
Hub-verified one, then the first in the card.

Claimed values are normalised to the measured scale: a value written with ``%``, or
above 1 in absolute value (up to 100), is a percentage and is divided by 100.

**Verdict.** With the measured value's bootstrap interval ``[low, high]`` and the
tolerance ``t`` (default 0.01, one percentage point, for differences of pre-processing,
truncation and rounding), a claim ``c`` is *consistent* when ``low - t <= c <= high + t``
and a *discrepancy* otherwise (overclaimed when ``c > high + t``, underclaimed when
``c < low - t``). Without a matching claim the verdict is *no matching claim*.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ptmscope.cards.analysis import Claim
from ptmscope.verify.metrics import Estimate

VERDICTS = ("consistent", "discrepancy", "no_matching_claim", "failed")
DEFAULT_TOLERANCE = 0.01

TASK_ALIASES: dict[str, frozenset[str]] = {
    "text-classification": frozenset({"text-classification", "sentiment-analysis", "sentiment-classification",
                                      "natural-language-inference", "topic-classification",
                                      "emotion-classification", "intent-classification"}),
    "token-classification": frozenset({"token-classification", "ner", "named-entity-recognition",
                                       "part-of-speech", "pos-tagging", "chunking"}),
    "image-classification": frozenset({"image-classification"}),
    "sentence-similarity": frozenset({"sentence-similarity", "sts", "semantic-textual-similarity",
                                      "feature-extraction", "semantic-similarity"}),
}  # fmt: skip

_CORRELATIONS = frozenset({"spearman", "pearson"})
_OTHER_DISTANCES = ("euclidean", "manhattan", "dot")


def words(value: str | None) -> str:
    """Lower case, runs of spaces, underscores and hyphens as one hyphen (names compare in this form)."""
    return re.sub(r"[\s_\-]+", "-", (value or "").strip().lower()).strip("-")


def claim_task(claim: Claim) -> str | None:
    """The verify task a claim's ``task.type`` denotes, or None (no type, or another task)."""
    kind = words(claim.task_type)
    for task, aliases in TASK_ALIASES.items():
        if kind in aliases:
            return task
    return None


def claim_metric(claim: Claim, task: str) -> str | None:
    """The verify metric a claim's metric denotes for ``task``, or None."""
    kind = words(claim.metric_type)
    text = f"{kind} {words(claim.metric_name)}"
    subject = kind or words(claim.metric_name)
    if task == "sentence-similarity":
        if any(other in text for other in _OTHER_DISTANCES):
            return None
        for metric in ("spearman", "pearson"):
            if metric in subject:
                return metric
        return None
    if subject in ("accuracy", "acc", "top-1-accuracy", "overall-accuracy", "token-accuracy"):
        return "accuracy"
    if task == "token-classification":
        for metric in ("f1", "precision", "recall"):
            if subject in (metric, f"overall-{metric}", f"seqeval-{metric}", f"entity-{metric}", f"micro-{metric}"):
                return metric
        return None
    if "f1" in subject.split("-") or subject in ("f1", "macro-f1", "f1-macro", "micro-f1", "weighted-f1"):
        if "weighted" in text:
            return "f1_weighted"
        if "micro" in text:
            return "f1_micro"
        if "macro" in text:
            return "f1_macro"
        return "f1"  # the averaging is not stated
    return None


def dataset_forms(value: str | None) -> set[str]:
    """A dataset name as it compares: whole, and without an owner prefix."""
    text = words(value)
    if not text:
        return set()
    return {text, text.rsplit("/", 1)[-1]}


def normalise_claim(claim: Claim, metric: str) -> tuple[float | None, str | None]:
    """(claimed value on the measured scale, None) or (None, why it cannot be compared)."""
    if claim.value is None or not math.isfinite(claim.value):
        return None, f"its value {claim.value_text!r} is not a number"
    value = claim.value
    if (claim.value_text or "").strip().endswith("%"):
        return value / 100, None
    if abs(value) > 1:
        if abs(value) <= 100:
            return value / 100, None
        return None, f"its value {claim.value_text} is outside 0-100"
    if value < 0 and metric not in _CORRELATIONS:
        return None, f"its value {claim.value_text} is negative"
    return value, None


def describe_claim(claim: Claim) -> str:
    """One line naming a claim: metric = value on dataset (config, split), task."""
    dataset = claim.dataset_type or claim.dataset_name or "?"
    where = ", ".join(
        part
        for part in (
            f"config {claim.dataset_config}" if claim.dataset_config else "",
            f"split {claim.dataset_split}" if claim.dataset_split else "",
        )
        if part
    )
    metric = claim.metric_type or claim.metric_name or "?"
    task = f", task {claim.task_type}" if claim.task_type else ""
    return f"{metric} = {claim.value_text} on {dataset}{f' ({where})' if where else ''}{task}"


@dataclass(frozen=True)
class ClaimMatch:
    """The claim a verification checks, or why there is none."""

    claim: Claim | None
    claimed: float | None
    """The claim's value normalised to the measured scale."""
    explanation: str
    notes: tuple[str, ...] = ()
    """Caveats of the match (what the claim left unsaid)."""


def _judge(claim: Claim, task: str, dataset: str, config: str | None, split: str,
           metric: str) -> tuple[list[str], list[str]]:  # fmt: skip
    """(reasons the claim does not match, notes on a match)."""
    reasons: list[str] = []
    notes: list[str] = []
    if claim.task_type:
        if claim_task(claim) != task:
            reasons.append(f"task {claim.task_type!r} is not {task}")
    else:
        notes.append("the claim names no task")
    ours = dataset_forms(dataset)
    theirs = dataset_forms(claim.dataset_type) | dataset_forms(claim.dataset_name)
    if not theirs:
        reasons.append("it names no dataset")
    elif not ours & theirs:
        reasons.append(f"dataset {claim.dataset_type or claim.dataset_name!r} is not {dataset!r}")
    if claim.dataset_config and config and words(claim.dataset_config) != words(config):
        reasons.append(f"config {claim.dataset_config!r} is not {config!r}")
    elif claim.dataset_config and not config:
        notes.append(f"the claim is on config {claim.dataset_config!r}, which the data does not name")
    if claim.dataset_split:
        if words(claim.dataset_split) != words(split):
            reasons.append(f"split {claim.dataset_split!r} is not {split!r}")
    else:
        notes.append("the claim names no split")
    denoted = claim_metric(claim, task)
    if denoted == "f1" and task != "token-classification" and metric.startswith("f1_"):
        notes.append(f"the claim does not say how its F1 is averaged; compared with {metric}")
    elif denoted != metric:
        reasons.append(f"metric {claim.metric_type or claim.metric_name!r} is not {metric}")
    return reasons, notes


def match_claim(claims: Sequence[Claim], *, task: str, dataset: str, config: str | None, split: str,
                metric: str) -> ClaimMatch:  # fmt: skip
    """The claim of ``claims`` that a measurement of ``metric`` on ``dataset``/``split`` checks."""
    if not claims:
        return ClaimMatch(None, None, "the card makes no machine-parseable claim (no model-index results)")
    candidates: list[tuple[int, int, int, Claim, list[str]]] = []
    rejected: list[str] = []
    for position, claim in enumerate(claims):
        reasons, notes = _judge(claim, task, dataset, config, split, metric)
        if not reasons:
            value, problem = normalise_claim(claim, metric)
            if problem:
                reasons.append(problem)
        if reasons:
            rejected.append(f"{describe_claim(claim)}: {'; '.join(reasons)}")
            continue
        candidates.append((len(notes), 0 if claim.verified else 1, position, claim, notes))
    if not candidates:
        shown = rejected[:8]
        more = f" (and {len(rejected) - len(shown)} more)" if len(rejected) > len(shown) else ""
        return ClaimMatch(
            None,
            None,
            f"none of the card's {len(claims)} claims is {metric} for {task} on {dataset!r} split {split!r}: "
            + " | ".join(shown)
            + more,
        )
    candidates.sort(key=lambda c: c[:3])
    _, _, _, claim, notes = candidates[0]
    value, _ = normalise_claim(claim, metric)
    scale = " (read as a percentage)" if value is not None and claim.value is not None and value != claim.value else ""
    others = f"; {len(candidates) - 1} other claim(s) also matched" if len(candidates) > 1 else ""
    caveats = f" ({'; '.join(notes)})" if notes else ""
    return ClaimMatch(claim, value, f"matched the claim {describe_claim(claim)}{scale}{caveats}{others}", tuple(notes))


def verdict(claimed: float | None, estimate: Estimate, tolerance: float = DEFAULT_TOLERANCE) -> str:
    """consistent / discrepancy / no_matching_claim, by the rule in this module's docstring."""
    if claimed is None:
        return "no_matching_claim"
    if math.isnan(estimate.low) or math.isnan(estimate.high):
        return "discrepancy" if abs(claimed - estimate.value) > tolerance else "consistent"
    if estimate.low - tolerance <= claimed <= estimate.high + tolerance:
        return "consistent"
    return "discrepancy"


def direction(claimed: float | None, estimate: Estimate, tolerance: float = DEFAULT_TOLERANCE) -> str | None:
    """'overclaimed' or 'underclaimed' for a discrepancy, else None."""
    if verdict(claimed, estimate, tolerance) != "discrepancy" or claimed is None:
        return None
    return "overclaimed" if claimed > estimate.value else "underclaimed"
