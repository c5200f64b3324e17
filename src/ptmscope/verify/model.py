"""Find a model's files and load it with transformers, without unpickling or running its code.

``resolve_model`` turns what the user named into a local folder: a model folder, a
Hugging Face cache folder (``models--owner--name``), a repo id already in the local
Hugging Face cache, or (unless offline) a repo id downloaded from a Hub endpoint,
taking only configuration, tokenizer, card and safetensors files (pickled weights only
with ``allow_pickle``).

``load_model`` checks before it loads: the folder must have safetensors weights (or the
user allowed pickles), an architecture transformers knows (or the user allowed the
repo's own code), and, once loaded, weights for every parameter the task uses (a
classification head that transformers had to initialise at random is an error, not a
model to evaluate). torch and transformers are imported here, never at module import.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from huggingface_hub import HfApi, set_client_factory, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.utils import disable_progress_bars
from huggingface_hub.utils._http import default_client_factory

from ptmscope.errors import (
    InputError,
    MissingExtraError,
    ModelLoadError,
    SourceUnreachableError,
    UnsafeModelError,
)
from ptmscope.hub.client import COMMAND_MAX_PAUSE, CONNECT_TIMEOUT, READ_TIMEOUT
from ptmscope.hub.endpoint import check_reachable, hub_token
from ptmscope.sources.hf_cache import hub_cache_snapshot
from ptmscope.sources.hub import endpoint_or_default
from ptmscope.sources.local import resolve_target
from ptmscope.store.derived import weight_format

INSTALL_HINT = "pip install 'ptmscope[verify]'"

# Files a verification needs; never pickles (weights are added by load policy).
SAFE_PATTERNS = ("*.json", "*.txt", "*.model", "*.safetensors", "*.tiktoken", "README.md", "*/*.json")
PICKLE_PATTERNS = ("*.bin", "*.pt", "*.pth")
_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")

_HEADS = {
    "text-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "image-classification": "AutoModelForImageClassification",
    "sentence-similarity": "AutoModel",
}


def require_extra(*, load: bool = True) -> tuple[str, str]:
    """(torch version, transformers version); MissingExtraError with the install command when absent.

    ``load=False`` only looks for the installed packages (milliseconds, where importing torch takes
    seconds), so a command can fail fast on what comes next (an unreachable Hub) before paying for it.
    """
    if not load:
        for name in ("torch", "transformers"):
            if importlib.util.find_spec(name) is None:
                raise MissingExtraError(
                    f"ptmscope verify runs models with torch and transformers, which are not installed ({name}). "
                    f"Install the optional extra: {INSTALL_HINT}"
                )
        return importlib.metadata.version("torch"), importlib.metadata.version("transformers")
    try:
        import torch  # the optional verify extra: imported only here (seconds), never at module import
        import transformers  # the optional verify extra, as torch
    except ImportError as error:
        raise MissingExtraError(
            f"ptmscope verify runs models with torch and transformers, which are not installed ({error.name}). "
            f"Install the optional extra: {INSTALL_HINT}"
        ) from error
    return str(torch.__version__), str(transformers.__version__)


@dataclass(frozen=True)
class ModelSource:
    """A model's files on local disk, and where they came from."""

    repo_id: str
    sha: str | None
    """The revision (commit) the files are from; None for a plain folder."""
    kind: str
    """'folder', 'hf-cache' or 'hub'."""
    folder: Path
    notes: tuple[str, ...] = ()
    """What the user should know about how the files were fetched (a token withheld from the endpoint)."""


def resolve_model(
    target: str,
    *,
    repo_id: str | None = None,
    revision: str | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    offline: bool = False,
    cache_dir: Path | None = None,
    allow_pickle: bool = False,
) -> ModelSource:
    """The local files of ``target``: a folder, an HF cache folder, a cached repo id, or a Hub download.

    Raises:
        ModelLoadError: the repo is not cached and ``offline``, or the Hub has no such model.
        UnsafeModelError: the Hub repo has no safetensors weights and pickles are not allowed.
        SourceUnreachableError: the Hub endpoint cannot be reached.
    """
    local = resolve_target(target, repo_id=repo_id)
    if local is not None:
        assert local.path is not None
        return ModelSource(local.repo_id, local.revision, local.kind, local.path)
    if not re.fullmatch(r"[\w.\-]+(/[\w.\-]+)?", target):
        raise InputError(f"{target}: not a model folder, and not a repo id (owner/name)")
    cached = hub_cache_snapshot("models", target, revision, cache_dir)
    if cached is not None:
        return ModelSource(repo_id or target, cached.name, "hf-cache", cached)
    if offline:
        raise ModelLoadError(f"{target}: not in the local Hugging Face cache, and --offline forbids downloading it")
    return _download(target, repo_id or target, revision, endpoint, token, cache_dir, allow_pickle)


HUB_MAX_PAUSE = int(COMMAND_MAX_PAUSE)
"""Longest Retry-After / RateLimit pause huggingface_hub may sleep (it sleeps what the server says)."""
_RESET = re.compile(r"(?<=[;,\s])t=(\d+)")


def _cap_pauses(response: Any) -> None:
    """Cut a server's Retry-After and RateLimit reset to ``HUB_MAX_PAUSE`` before huggingface_hub reads them."""
    headers = response.headers
    retry_after = headers.get("Retry-After")
    if retry_after is not None and not (retry_after.strip().isdigit() and int(retry_after) <= HUB_MAX_PAUSE):
        headers["Retry-After"] = str(HUB_MAX_PAUSE)  # a date, nan or years: the cap
    for name in ("RateLimit", "ratelimit"):
        value = headers.get(name)
        if value and "t=" in value:
            headers[name] = _RESET.sub(lambda m: f"t={min(int(m.group(1)[:12]), HUB_MAX_PAUSE)}", value)
            break


def _bound_huggingface_hub() -> None:
    """Make huggingface_hub's downloads bounded: timeouts and capped pauses (its defaults have neither)."""
    set_client_factory(_bounded_client)


def _bounded_client() -> Any:
    client = default_client_factory()
    client.timeout = httpx2.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)  # its own default waits for ever
    client.event_hooks = {**client.event_hooks, "response": [*client.event_hooks.get("response", []), _cap_pauses]}
    return client


def _download(target: str, repo_id: str, revision: str | None, endpoint: str | None, token: str | None,
              cache_dir: Path | None, allow_pickle: bool) -> ModelSource:  # fmt: skip
    base = endpoint_or_default(endpoint)
    check_reachable(base)  # no network: one line within seconds, not minutes of retries
    send, note = hub_token(base, token)  # huggingface_hub's token only for the endpoint it belongs to
    disable_progress_bars()
    _bound_huggingface_hub()
    try:
        info = HfApi(endpoint=base, token=send).model_info(target, revision=revision)
        names = [s.rfilename for s in info.siblings or []]
        check_weights(names, target, allow_pickle)
        patterns = [*SAFE_PATTERNS, *(PICKLE_PATTERNS if allow_pickle else ())]
        # The revision asked for (not info.sha), so the cache records the ref and finds it again offline;
        # the snapshot folder is named by the commit actually downloaded.
        folder = snapshot_download(target, revision=revision, endpoint=base, token=send,
                                   cache_dir=cache_dir, allow_patterns=patterns)  # fmt: skip
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        raise ModelLoadError(f"{target}: no such model (or revision) at {base}, or it is private/gated") from error
    except HfHubHTTPError as error:
        raise ModelLoadError(f"{target}: the Hub at {base} answered {str(error).splitlines()[0][:200]}") from error
    except OSError as error:
        raise SourceUnreachableError(f"cannot reach {base}: {error}") from error
    except Exception as error:  # the HTTP client's own transport errors
        if type(error).__module__.startswith(("httpx", "httpcore", "requests", "urllib3")):
            raise SourceUnreachableError(f"cannot reach {base}: {error}") from error
        raise
    return ModelSource(repo_id, Path(folder).name, "hub", Path(folder), (note,) if note else ())


def check_weights(names: list[str], where: str, allow_pickle: bool) -> list[str]:
    """The weight files verify may load from a file list; raises when only pickles (not allowed) or none."""
    safetensors = [n for n in names if weight_format(n) == "safetensors"]
    pickles = [n for n in names if weight_format(n) == "pickle"]
    if safetensors:
        return safetensors
    if pickles and allow_pickle:
        return pickles
    if pickles:
        shown = ", ".join(sorted(pickles)[:3])
        raise UnsafeModelError(
            f"{where}: no safetensors weights, only pickle-based files ({shown}); loading a pickle can run code, "
            "so verify loads one only with --allow-pickle (scan it first: ptmscope scan)"
        )
    raise ModelLoadError(f"{where}: no model weights (no .safetensors file)")


# -- the folder's own description -------------------------------------------------------------


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path}: unreadable JSON ({error})") from error
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Layout:
    """What a model folder says about itself, read as plain JSON before anything is loaded."""

    folder: Path
    """The folder with config.json and the transformer weights."""
    config: dict[str, Any]
    sentence_transformers: bool
    pooling: str
    """'mean', 'cls' or 'max' (sentence-transformers Pooling module; mean otherwise)."""
    max_seq_length: int | None
    weights: list[str] = field(default_factory=list)
    other_modules: list[str] = field(default_factory=list)
    """sentence-transformers modules verify does not apply (Dense, ...): embeddings would differ."""


def read_layout(root: Path, allow_pickle: bool = False) -> Layout:
    """Find config.json (at the root, or in a sentence-transformers module folder) and the pooling."""
    modules = root / "modules.json"
    folder, pooling, is_st = root, "mean", False
    max_seq: int | None = None
    others: list[str] = []
    if modules.is_file():
        is_st = True
        try:
            entries = json.loads(modules.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"{modules}: unreadable JSON ({error})") from error
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            kind, sub = str(entry.get("type", "")), str(entry.get("path", ""))
            if ".." in Path(sub).parts or Path(sub).is_absolute():
                raise ModelLoadError(f"{modules}: module path {sub!r} leaves the model folder")
            if kind.endswith("Transformer") and sub:
                folder = root / sub
            if not kind.endswith(("Transformer", "Pooling", "Normalize")):
                others.append(kind.rsplit(".", 1)[-1] or "?")
            if kind.endswith("Pooling"):
                pooling_config = _json(root / sub / "config.json")
                if pooling_config.get("pooling_mode_cls_token"):
                    pooling = "cls"
                elif pooling_config.get("pooling_mode_max_tokens"):
                    pooling = "max"
        bert = _json(root / "sentence_bert_config.json")
        if isinstance(bert.get("max_seq_length"), int):
            max_seq = bert["max_seq_length"]
    config = _json(folder / "config.json")
    if not config:
        raise ModelLoadError(f"{folder}: no config.json (not a transformers model folder)")
    names = [p.name for p in folder.iterdir() if p.is_file()]
    weights = check_weights(names, str(folder), allow_pickle)
    return Layout(folder, config, is_st, pooling, max_seq, weights, others)


def detect_task(layout: Layout) -> str:
    """The task a model folder is built for, from config.json ``architectures``; ModelLoadError when unclear."""
    architectures = [str(a) for a in layout.config.get("architectures") or [] if isinstance(a, str)]
    for suffix, task in (("ForSequenceClassification", "text-classification"),
                         ("ForTokenClassification", "token-classification"),
                         ("ForImageClassification", "image-classification")):  # fmt: skip
        if any(a.endswith(suffix) for a in architectures):
            return task
    if layout.sentence_transformers or any(a.endswith("Model") for a in architectures):
        return "sentence-similarity"
    shown = ", ".join(architectures) or "none"
    raise ModelLoadError(f"cannot tell which task to verify from the model's architectures ({shown}); pass --task")


def weights_sha256(layout: Layout) -> str | None:
    """sha256 of the single weights file (as the Hub's LFS pointer records it), or of 'name sha' lines of shards."""
    files = sorted(layout.weights)
    digests = []
    for name in files:
        digest = hashlib.sha256()
        try:
            with (layout.folder / name).open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            return None
        digests.append((name, digest.hexdigest()))
    if len(digests) == 1:
        return digests[0][1]
    joined = "\n".join(f"{name} {value}" for name, value in digests)
    return hashlib.sha256(joined.encode()).hexdigest() if digests else None


# -- loading ------------------------------------------------------------------------------------


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' and huggingface_hub's progress bars and info logs (verify shows its own)."""
    from transformers.utils import logging  # the optional verify extra (see require_extra)

    verbosity = logging.get_verbosity()
    bars = logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


@dataclass
class LoadedModel:
    """A model ready to run, with its pre-processor and labels."""

    task: str
    model: Any
    """A torch module in eval mode."""
    preprocessor: Any
    """A tokenizer, or an image processor."""
    id2label: dict[int, str]
    layout: Layout
    max_length: int
    notes: list[str] = field(default_factory=list)

    @property
    def generic_labels(self) -> bool:
        """True when config.json only has transformers' default names (LABEL_0, LABEL_1...)."""
        return all(_GENERIC_LABEL.match(name) for name in self.id2label.values())


def _check_code(config: dict[str, Any], folder: Path, trust_remote_code: bool) -> list[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING  # the optional verify extra

    model_type = config.get("model_type")
    known = isinstance(model_type, str) and model_type in CONFIG_MAPPING
    needs_code = not known
    tokenizer_map = _json(folder / "tokenizer_config.json").get("auto_map")
    if needs_code and not trust_remote_code:
        raise UnsafeModelError(
            f"{folder}: model_type {model_type!r} is not an architecture transformers ships; loading it would run "
            "Python code from the repository. Pass --trust-remote-code only if you trust its author and have read "
            "the code"
        )
    notes = []
    if config.get("auto_map") and known:
        notes.append("config.json maps Auto classes to repository code; transformers' own class was used instead")
    if tokenizer_map and not trust_remote_code:
        notes.append("tokenizer_config.json maps to repository code; transformers' own tokenizer class was used")
    if trust_remote_code and needs_code:
        notes.append("the repository's own code was run (--trust-remote-code)")
    return notes


def load_model(
    source: ModelSource, task: str, *, allow_pickle: bool = False, trust_remote_code: bool = False
) -> LoadedModel:
    """Load ``source`` for ``task`` (transformers + torch, CPU, eval mode).

    Raises:
        UnsafeModelError: pickled weights or repository code would be needed and are not allowed.
        ModelLoadError: the folder is not a usable model for the task.
    """
    require_extra()
    import transformers  # the optional verify extra, present: require_extra said so

    layout = read_layout(source.folder, allow_pickle)
    if task == "sentence-similarity" and layout.other_modules:
        raise ModelLoadError(
            f"{source.repo_id}: its sentence-transformers pipeline has modules verify does not apply "
            f"({', '.join(layout.other_modules[:3])}); its embeddings could not be reproduced"
        )
    notes = _check_code(layout.config, layout.folder, trust_remote_code)
    if not any(w.endswith(".safetensors") for w in layout.weights):
        notes.append(f"pickle-based weights were loaded (--allow-pickle): {', '.join(layout.weights[:3])}")
    auto = getattr(transformers, _HEADS[task])
    folder = str(layout.folder)
    with quiet_transformers():
        try:
            model, info = auto.from_pretrained(
                folder,
                local_files_only=True,
                use_safetensors=None if allow_pickle else True,
                trust_remote_code=trust_remote_code,
                output_loading_info=True,
            )
            if task == "image-classification":
                pre = transformers.AutoImageProcessor.from_pretrained(
                    folder, local_files_only=True, trust_remote_code=trust_remote_code
                )
            else:
                pre = transformers.AutoTokenizer.from_pretrained(
                    folder, local_files_only=True, trust_remote_code=trust_remote_code
                )
        except Exception as error:  # hostile or broken files raise anything (IndexError from a bad pickle...)
            reason = _first(error)
            raise ModelLoadError(f"{source.repo_id}: transformers cannot load it for {task}: {reason}") from error
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith("pooler."))
    mismatched = sorted(str(k) for k in info.get("mismatched_keys", ()))
    if missing or mismatched:
        shown = ", ".join((missing + mismatched)[:4])
        raise ModelLoadError(
            f"{source.repo_id}: the checkpoint has no trained weights for {shown} (a {task} head it was never "
            "trained with?); transformers would initialise them at random"
        )
    model.eval()
    config = model.config
    id2label = {int(k): str(v) for k, v in (getattr(config, "id2label", None) or {}).items()}
    if task != "sentence-similarity":
        problem = getattr(config, "problem_type", None)
        if problem == "multi_label_classification":
            raise ModelLoadError(f"{source.repo_id}: a multi-label classifier; verify measures single-label tasks")
        if problem == "regression" or len(id2label) < 2:
            raise ModelLoadError(f"{source.repo_id}: a regression head (fewer than two labels), not a classifier")
    if task == "token-classification" and not getattr(pre, "is_fast", False):
        raise ModelLoadError(f"{source.repo_id}: token classification needs a fast tokenizer (tokenizer.json)")
    return LoadedModel(task, model, pre, id2label, layout, _max_length(pre, config, layout), notes)


def _max_length(pre: Any, config: Any, layout: Layout) -> int:
    limits = [512]
    for value in (getattr(pre, "model_max_length", None), getattr(config, "max_position_embeddings", None),
                  layout.max_seq_length):  # fmt: skip
        if isinstance(value, int) and 0 < value < 100_000:
            limits.append(value)
    return min(limits)


def _first(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__
