"""Model-card analysis: metadata, performance claims, sections and links of one README.

The front matter is found the way the Hub found it in the snapshot's era
(``ptmscope.cards.frontmatter``: huggingface_hub's own ``REGEX_YAML_BLOCK`` today, the
pre-2023 lenient rule for older snapshots) and read by libyaml's C safe loader (the same
YAML semantics as the ``yaml.safe_load`` that huggingface_hub calls, about 5x faster),
then interpreted by huggingface_hub's ``ModelCardData``. A model-index that ``ModelCardData`` rejects is still read
leniently, so its claims are counted, and the rejection is recorded; each claim carries its
strict status and whether the paper's method reads it (``ptmscope.cards.model_index``).

Cards are hostile input: the text is bounded (``MAX_CARD_CHARS``), the YAML block is
bounded, and the parsed YAML is copied into plain JSON types under a node budget, so
an alias bomb ("billion laughs") becomes a ``yaml_error`` instead of exhausting memory.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import yaml

from ptmscope.cards.body import PLACEHOLDER_DATASETS, BodyFacts, read_body
from ptmscope.cards.frontmatter import DEFAULT_RULE, FrontMatterRule, split_front_matter
from ptmscope.cards.markdown import parse
from ptmscope.cards.model_index import Claim, ModelIndexRead, read_model_index
from ptmscope.cards.sections import Section, count_placeholders, find_sections

__all__ = ["CardAnalysis", "CardFacts", "Claim", "analyze_card", "card_facts", "load_front_matter_yaml"]

# The version of what card analysis records; a snapshot keeps the version that read its cards,
# so the study can tell a snapshot read before the claim definitions (version 2) or the body
# analysis (version 3) existed, and bundled snapshots are read again.
CARD_ANALYSIS = 3

MAX_CARD_CHARS = 1_000_000
MAX_YAML_CHARS = 512_000
# The body's structure (tables, lists, links: what results and facts are read from) is parsed over
# its first 200,000 characters; past that are appendices and data dumps, at 25 ms per 100 kB.
MAX_STRUCTURE_CHARS = 200_000
MAX_YAML_NODES = 200_000
MAX_LINKS = 50

_YAML_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What card metadata declares, from a README's front matter or the API's cardData."""

    licenses: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    base_models: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    library_name: str | None = None
    pipeline_tag: str | None = None
    model_index: str = "absent"
    """'absent', 'empty' (no results), 'valid' or 'invalid' per huggingface_hub."""
    model_index_error: str | None = None
    claims: list[Claim] = field(default_factory=list)
    """Every model-index metric with a value, with its strict status and the paper's reading."""
    model_index_read: ModelIndexRead | None = None
    """What the model-index held and what the paper's method made of it; None without one."""


@dataclass(frozen=True, slots=True)
class CardAnalysis:
    """Everything ptmscope reads from one model card."""

    status: str
    """ok | no_metadata | yaml_error | not_a_mapping | binary | empty."""
    error: str | None
    length: int
    """Characters of the card body (after the front matter)."""
    truncated: bool
    front_matter: str | None
    """Where a YAML block was found (start | after_text | loose_delimiter), whether or not the
    snapshot's rule read it; None when the card has none."""
    front_matter_line: int | None
    yaml_keys: list[str]
    facts: CardFacts
    sections: list[Section]
    placeholders: int
    links: list[tuple[str, str, str]]
    """(kind, target, role): kind arxiv, doi or github; role own, cited or library."""
    mentions_hyperparameters: bool
    mentions_hardware: bool
    has_results_table: bool
    has_usage_code: bool
    mentions_finetuning: bool
    """Says how to fine-tune the model (a fine-tuning section, or training code and the word)."""
    mentions_latency: bool
    """States latency, throughput, inference speed or cost."""
    body: BodyFacts = field(default_factory=lambda: BodyFacts([], []))
    """Results, base models, datasets, hyper-parameters, hardware, environment, limitations and links read
    from the body, each with its evidence (snippet and card line)."""


# -- YAML -----------------------------------------------------------------------------


class _Budget:
    __slots__ = ("left",)

    def __init__(self, nodes: int) -> None:
        self.left = nodes


def _plain(value: Any, budget: _Budget, depth: int = 0) -> Any:
    """Copy parsed YAML into JSON types under a node budget (aliases are expanded and counted)."""
    budget.left -= 1
    if budget.left < 0:
        raise ValueError(f"front matter has more than {MAX_YAML_NODES} nodes (alias expansion?)")
    if depth > 64:
        raise ValueError("front matter is nested more than 64 levels deep")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v, budget, depth + 1) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return str(value)[:1_000]


def load_front_matter_yaml(text: str) -> Any:
    """Parse a YAML block safely and boundedly into plain JSON types.

    Raises ValueError with a one-line reason when the block is too large, malformed,
    too deep, or expands past the node budget.
    """
    if len(text) > MAX_YAML_CHARS:
        raise ValueError(f"front matter is larger than {MAX_YAML_CHARS // 1000} kB")
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - CSafeLoader/SafeLoader only
    except yaml.YAMLError as error:
        first = str(error).strip().splitlines()
        raise ValueError(f"malformed YAML: {' '.join(first[:3])[:300]}") from error
    except RecursionError as error:
        raise ValueError("front matter is nested too deeply") from error
    return _plain(data, _Budget(MAX_YAML_NODES))


# -- metadata -> facts ------------------------------------------------------------------


def _texts(value: Any, limit: int = 200, item_limit: int = 300) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for item in value[:limit]:
        if isinstance(item, str) and item.strip():
            out.append(item.strip()[:item_limit])
    return out


def _text(value: Any, limit: int = 300) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


# Keys that cannot be passed through to ModelCardData(**metadata).
_RESERVED = frozenset({"ignore_metadata_errors", "self", "kwargs"})


def _hf_model_index_check(metadata: dict[str, Any]) -> str | None:
    """None when huggingface_hub's ModelCardData accepts the model-index, else its error."""
    # huggingface_hub's package import pulls its HTTP client (~0.5 s): paid only when a model-index is validated.
    from huggingface_hub import ModelCardData

    kwargs = {k: v for k, v in metadata.items() if isinstance(k, str) and k not in _RESERVED}
    try:
        ModelCardData(**kwargs)
    except Exception as error:  # huggingface_hub raises ValueError, but hostile input may raise anything
        message = str(error).splitlines()[0][:300] if str(error) else ""
        return f"{type(error).__name__}: {message}"
    return None


def card_facts(metadata: dict[str, Any], *, validate: bool = True) -> CardFacts:
    """Facts declared by card metadata (a README's front matter or the API's cardData).

    ``validate`` runs huggingface_hub's strict parser on the model-index; the bulk
    import of API cardData skips it for speed (the API already parsed those cards).
    """
    claims, read = read_model_index(metadata)
    model_index = metadata[read.key] if read else None
    status, error = "absent", None
    if model_index is not None:
        if validate:
            error = _hf_model_index_check({"model-index": model_index}) if model_index else None
            status = "invalid" if error else ("valid" if claims else "empty")
        else:
            status = "valid" if claims else "empty"
    license_value = metadata.get("license")
    licenses = _texts(license_value, 10)
    if licenses == ["other"] and isinstance(metadata.get("license_name"), str):
        licenses = [f"other:{metadata['license_name'].strip()[:100]}"]
    return CardFacts(
        licenses=licenses,
        datasets=[d for d in _texts(metadata.get("datasets")) if d.lower() not in PLACEHOLDER_DATASETS],
        base_models=_texts(metadata.get("base_model"), 50),
        languages=_texts(metadata.get("language"), 500, 50),
        tags=_texts(metadata.get("tags"), 500),
        library_name=_text(metadata.get("library_name"), 100),
        pipeline_tag=_text(metadata.get("pipeline_tag"), 100),
        model_index=status,
        model_index_error=error,
        claims=claims,
        model_index_read=read,
    )


# -- text signals -----------------------------------------------------------------------

_FINETUNING_WORDS = ("fine-tune", "fine-tuning", "finetune", "finetuning", "fine tune", "fine tuning")
_LATENCY_WORDS = ("latency", "throughput", "tokens/s", "tokens per second", "inference time", "inference speed",
                  "samples/sec", "ms per", "cost per", "time per image")  # fmt: skip


def _mentions_finetuning(body_lower: str, sections: list[Section]) -> bool:
    """A section about fine-tuning, or the word next to code (a recipe, not a mention in passing)."""
    if any(s.filled and "fine" in s.heading.lower() and "tun" in s.heading.lower() for s in sections):
        return True
    return (
        ("```" in body_lower or "~~~" in body_lower)
        and any(word in body_lower for word in _FINETUNING_WORDS)
        and ("trainer" in body_lower or "train(" in body_lower or "peft" in body_lower or "lora" in body_lower)
    )


def _links(read: BodyFacts) -> list[tuple[str, str, str]]:
    """(kind, target, role) of every paper and code link: kind arxiv, doi or github; role own, cited or library."""
    out: list[tuple[str, str, str]] = []
    for fact in (*read.of("paper"), *read.of("code")):
        if fact.kind == "paper":
            kind, _, target = fact.name.partition(":")
        elif fact.name.startswith("github.com/"):
            kind, target = "github", fact.name.removeprefix("github.com/")
        else:
            continue
        out.append((kind, target, fact.role or "cited"))
    return out[:MAX_LINKS]


# -- the analysis -----------------------------------------------------------------------


def _utf16(content: bytes) -> str | None:
    """The text of a UTF-16 card (a byte-order mark, or NULs at every other byte of ASCII text), else None."""
    head = content[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif len(head) >= 8 and head[1::2].count(0) > 0.9 * (len(head) // 2) and head[0::2].count(0) == 0:
        encoding = "utf-16-le"
    elif len(head) >= 8 and head[0::2].count(0) > 0.9 * (len(head) // 2) and head[1::2].count(0) == 0:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError:
        return None
    return text.removeprefix("\ufeff")


def _decode(content: str | bytes) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason) for content that is not a text card."""
    if isinstance(content, bytes):
        utf16 = _utf16(content)
        if utf16 is not None:
            return utf16, None
        if b"\x00" in content[:8192]:
            return None, "README holds binary data (NUL bytes)"
        try:
            return content.decode("utf-8-sig"), None
        except UnicodeDecodeError:
            text = content.decode("utf-8", errors="replace")
            if text.count("\ufffd") > max(16, len(text) // 100):
                return None, "README is not UTF-8 text"
            return text, None
    if "\x00" in content[:8192]:
        # UTF-16 bytes that were read as UTF-8 (a dump's scraper did): the byte-order mark became U+FFFD.
        utf16 = _utf16(content.lstrip("\ufffd").encode("utf-8", errors="surrogatepass"))
        if utf16 is not None:
            return utf16, None
        return None, "README holds binary data (NUL bytes)"
    return content, None


def _empty_analysis(status: str, error: str | None, length: int = 0) -> CardAnalysis:
    return CardAnalysis(
        status=status,
        error=error,
        length=length,
        truncated=False,
        front_matter=None,
        front_matter_line=None,
        yaml_keys=[],
        facts=CardFacts(),
        sections=[],
        placeholders=0,
        links=[],
        mentions_hyperparameters=False,
        mentions_hardware=False,
        has_results_table=False,
        has_usage_code=False,
        mentions_finetuning=False,
        mentions_latency=False,
    )


def analyze_card(content: str | bytes, front_matter: FrontMatterRule = DEFAULT_RULE, repo_id: str = "") -> CardAnalysis:
    """Analyse one model card. Never raises on bad input: the status says what was wrong.

    ``front_matter`` is the era's rule for finding the YAML block (``ptmscope.cards.frontmatter``);
    ``repo_id`` tells the model's own rows of a results table and its own code repository apart.
    """
    text, reason = _decode(content)
    if text is None:
        return _empty_analysis("binary", reason)
    truncated = len(text) > MAX_CARD_CHARS
    if truncated:
        text = text[:MAX_CARD_CHARS]
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        return _empty_analysis("empty", None)

    block, found = split_front_matter(text, front_matter)
    yaml_block, body = (block.yaml, block.body) if block else (None, text)
    status, error = ("no_metadata", None) if yaml_block is None else ("ok", None)
    metadata: dict[str, Any] = {}
    if yaml_block is not None:
        try:
            data = load_front_matter_yaml(yaml_block)
        except ValueError as exc:
            status, error = "yaml_error", str(exc)
        else:
            if data is None:
                data = {}
            if isinstance(data, dict):
                metadata = data
            else:
                status, error = "not_a_mapping", f"front matter is a {type(data).__name__}, not a mapping"

    facts = card_facts(metadata) if metadata else CardFacts()
    sections = find_sections(body)
    lower = text.lower()
    body_lower = lower[len(text) - len(body) :]
    document = parse((block.masked(text) if block else text)[:MAX_STRUCTURE_CHARS])
    read = read_body(
        document,
        repo_id,
        metadata_datasets=facts.datasets,
        metadata_bases=facts.base_models,
        claim_metrics=[c.metric_type or c.metric_name or "" for c in facts.claims],
    )
    return CardAnalysis(
        status=status,
        error=error,
        length=len(body),
        truncated=truncated,
        front_matter=found.where if found else None,
        front_matter_line=found.line if found else None,
        yaml_keys=[k[:100] for k in list(metadata)[:200]],
        facts=facts,
        sections=sections,
        placeholders=count_placeholders(body),
        links=_links(read),
        mentions_hyperparameters=bool(read.of("hyperparameter")),
        mentions_hardware=bool(read.of("hardware")),
        has_results_table=any(r.found_in == "table" for r in read.results),
        has_usage_code="```" in body or "~~~" in body,
        mentions_finetuning=_mentions_finetuning(body_lower, sections),
        mentions_latency=any(word in body_lower for word in _LATENCY_WORDS),
        body=read,
    )
