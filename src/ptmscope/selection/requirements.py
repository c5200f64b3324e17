"""What a reuser needs from a model (paper Fig. 4, "reusability assessment"), as data.

Requirements come from a YAML file, from command-line options, or both (options win).
Every field is optional; an absent field is no requirement. The YAML keys:

    task: text-classification
    license: permissive          # permissive | commercial | non-commercial | any | [apache-2.0, mit]
    max_parameters: 500000000
    max_memory_gb: 2.0           # weights only, at `dtype`
    dtype: fp16                  # fp32 | fp16 | bf16 | int8 | int4
    allow_unknown_size: false    # keep candidates whose size the snapshot does not know
    formats: [safetensors]       # every one required: safetensors onnx gguf tflite coreml pytorch tensorflow flax
    frameworks: [pytorch]        # any one: pytorch tensorflow jax onnx gguf ...
    languages: [en]              # any one (ISO 639 codes, as cards declare them)
    datasets: [imdb]             # trained on any one
    claim: {dataset: imdb, metric: accuracy, min: 0.9}
    min_scores: {security: 6, documentation: 5}
    exclude_unsafe: true         # files ptmscope's scan or the Hub flagged, or unscanned pickle-only weights
    verified_owner: false
    top: 10
    rank_weights: {popularity: 3, claim: 2, security: 2}
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ptmscope.checks.model import ATTRIBUTES
from ptmscope.errors import InputError

LICENSE_POLICIES = ("permissive", "commercial", "non-commercial", "any")
# Licence kinds (data/licenses.yaml) each policy admits.
POLICY_KINDS: dict[str, tuple[str, ...]] = {
    "permissive": ("permissive", "public-domain"),
    "commercial": ("permissive", "public-domain", "weak-copyleft", "copyleft", "share-alike", "use-restricted"),
    "non-commercial": (
        "permissive",
        "public-domain",
        "weak-copyleft",
        "copyleft",
        "share-alike",
        "use-restricted",
        "non-commercial",
        "no-derivatives",
    ),
}
DTYPE_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
FORMATS = ("safetensors", "onnx", "gguf", "tflite", "coreml", "pytorch", "tensorflow", "flax")
RANK_COMPONENTS = ("popularity", "claim", *ATTRIBUTES[:4], "maintenance", "security")


@dataclass(frozen=True)
class ClaimRequirement:
    """A claimed result the candidate must report."""

    dataset: str
    metric: str
    min: float | None = None


@dataclass
class Requirements:
    """Everything ``select`` filters and ranks by."""

    task: str | None = None
    license: str | list[str] = "any"
    max_parameters: int | None = None
    max_memory_gb: float | None = None
    dtype: str = "fp16"
    allow_unknown_size: bool = False
    formats: list[str] = field(default_factory=list)
    frameworks: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    claim: ClaimRequirement | None = None
    min_scores: dict[str, float] = field(default_factory=dict)
    exclude_unsafe: bool = False
    verified_owner: bool = False
    top: int = 10
    rank_weights: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The requirements as given back in reports."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.__dict__ if isinstance(value, ClaimRequirement) else value
        return out


def default_rank_weights() -> dict[str, float]:
    """The default ranking weights (data/select.yaml)."""
    text = (resources.files("ptmscope.data") / "select.yaml").read_text(encoding="utf-8")
    return {str(k): float(v) for k, v in yaml.safe_load(text)["rank_weights"].items()}


def _strings(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"requirements: {name} must be a list of strings")
    return [v.strip() for v in value]


def _number(value: Any, name: str, *, integer: bool = False) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InputError(f"requirements: {name} must be a number >= 0")
    return int(value) if integer else float(value)


def parse(data: dict[str, Any], source: str = "requirements") -> Requirements:
    """Requirements from a mapping (a parsed YAML file or collected options), validated."""
    known = {f.name for f in fields(Requirements)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    req = Requirements()
    if data.get("task") is not None:
        req.task = str(data["task"])
    license_ = data.get("license", "any")
    if isinstance(license_, list):
        req.license = [str(v).lower() for v in license_]
    elif isinstance(license_, str) and license_ in LICENSE_POLICIES:
        req.license = license_
    elif isinstance(license_, str):
        req.license = [v.strip().lower() for v in license_.split(",") if v.strip()]
    else:
        raise InputError(f"{source}: license must be one of {', '.join(LICENSE_POLICIES)} or a list of licence ids")
    req.max_parameters = _number(data.get("max_parameters"), "max_parameters", integer=True)
    req.max_memory_gb = _number(data.get("max_memory_gb"), "max_memory_gb")
    req.dtype = str(data.get("dtype", "fp16")).lower()
    if req.dtype not in DTYPE_BYTES:
        raise InputError(f"{source}: dtype must be one of {', '.join(DTYPE_BYTES)}")
    req.allow_unknown_size = bool(data.get("allow_unknown_size", False))
    req.formats = [f.lower() for f in _strings(data.get("formats"), "formats")]
    bad = sorted(set(req.formats) - set(FORMATS))
    if bad:
        raise InputError(f"{source}: unknown format(s) {', '.join(bad)}; known: {', '.join(FORMATS)}")
    req.frameworks = [f.lower() for f in _strings(data.get("frameworks"), "frameworks")]
    req.languages = [f.lower() for f in _strings(data.get("languages"), "languages")]
    req.datasets = _strings(data.get("datasets"), "datasets")
    claim = data.get("claim")
    if claim is not None:
        if isinstance(claim, str):
            dataset, _, metric = claim.partition(":")
            claim = {"dataset": dataset, "metric": metric}
        if not isinstance(claim, dict) or not claim.get("dataset") or not claim.get("metric"):
            raise InputError(f"{source}: claim needs a dataset and a metric (DATASET:METRIC)")
        req.claim = ClaimRequirement(
            str(claim["dataset"]), str(claim["metric"]), _number(claim.get("min"), "claim.min")
        )
    scores = data.get("min_scores") or {}
    if not isinstance(scores, dict):
        raise InputError(f"{source}: min_scores must map attributes to scores")
    for attribute, value in scores.items():
        if attribute not in ATTRIBUTES:
            raise InputError(f"{source}: min_scores: unknown attribute {attribute!r}")
        number = _number(value, f"min_scores.{attribute}")
        if number > 10:
            raise InputError(f"{source}: min_scores.{attribute} must be between 0 and 10")
        req.min_scores[attribute] = number
    req.exclude_unsafe = bool(data.get("exclude_unsafe", False))
    req.verified_owner = bool(data.get("verified_owner", False))
    top = data.get("top", 10)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise InputError(f"{source}: top must be a positive integer")
    req.top = top
    weights = data.get("rank_weights") or {}
    if not isinstance(weights, dict):
        raise InputError(f"{source}: rank_weights must map components to weights")
    req.rank_weights = default_rank_weights()
    for key, value in weights.items():
        if key not in RANK_COMPONENTS:
            raise InputError(f"{source}: rank_weights: unknown component {key!r}; known: {', '.join(RANK_COMPONENTS)}")
        req.rank_weights[key] = _number(value, f"rank_weights.{key}")
    return req


def load(path: Path | None, overrides: dict[str, Any]) -> Requirements:
    """Requirements from a YAML file (optional) with command-line overrides on top."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise InputError(f"cannot read requirements file {path}: {error}") from error
        if loaded is not None and not isinstance(loaded, dict):
            raise InputError(f"{path}: a requirements file is a YAML mapping")
        data.update(loaded or {})
    data.update({k: v for k, v in overrides.items() if v is not None and v != [] and v != {}})
    return parse(data, str(path) if path else "options")
