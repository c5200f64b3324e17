"""Evaluation data for ``ptmscope verify``, read locally with pyarrow (never downloaded).

``--dataset`` names one of:

- a ``datasets`` ``save_to_disk`` folder (a ``Dataset``, or a ``DatasetDict`` whose
  ``--split`` is used);
- a Parquet, CSV, JSON Lines (``.jsonl``/``.json``) or Arrow file, or a folder of them
  (files whose name contains the split are preferred, as the Hub lays them out);
- a dataset already in the local Hugging Face cache, by name (``dair-ai/emotion``):
  the Hub cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``) or the ``datasets`` library's
  cache (``$HF_DATASETS_CACHE``, else ``$HF_HOME/datasets``).

Columns, by task: ``text``/``label`` (text classification), ``image``/``label`` (image
classification), ``tokens``/``tags`` (token classification), ``sentence1``/``sentence2``/
``score`` (sentence similarity); common alternatives (``sentence``, ``img``, ``ner_tags``,
``labels``...) are recognised, and ``--column ROLE=NAME`` names any other. Class names
come from the data's own ``datasets`` features (``ClassLabel``), read from the Arrow
schema metadata or ``dataset_info.json``, when the labels are stored as ints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from ptmscope.errors import DatasetError
from ptmscope.sources.hf_cache import env_dir, hf_home, hub_cache_snapshot

TASKS = ("text-classification", "token-classification", "image-classification", "sentence-similarity")

# role -> accepted column names, first match wins.
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "text-classification": {"text": ("text", "sentence", "content", "review", "tweet"), "label": ("label", "labels")},
    "image-classification": {"image": ("image", "img", "pixel_values"), "label": ("label", "labels", "fine_label")},
    "token-classification": {"tokens": ("tokens", "words"), "tags": ("tags", "ner_tags", "labels", "label")},
    "sentence-similarity": {"sentence1": ("sentence1", "sentence_1", "text1", "s1"),
                            "sentence2": ("sentence2", "sentence_2", "text2", "s2"),
                            "score": ("score", "similarity_score", "label", "relatedness_score")},
}  # fmt: skip

_FILE_SUFFIXES = (".parquet", ".csv", ".tsv", ".jsonl", ".json", ".arrow")
MAX_EXAMPLES = 5_000_000


@dataclass
class EvalData:
    """One split of an evaluation dataset, with the columns a task needs."""

    source: str
    """Where it was read from (a path)."""
    name: str
    """The dataset's identity for matching claims (``--dataset-name``, the dataset's own info, or the file stem)."""
    config: str | None
    split: str
    columns: dict[str, list[Any]]
    """role -> values, in row order."""
    label_names: list[str] | None = None
    """Class names of an int label column (``ClassLabel`` features), when the data declares them."""
    total: int = 0
    """Rows in the split before ``--limit``."""
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


# -- locating the files ---------------------------------------------------------------------


def _split_files(folder: Path, split: str) -> list[Path]:
    """Data files of ``split`` under a folder laid out as the Hub lays out datasets."""
    metadata = ("dataset_info.json", "state.json", "dataset_dict.json", "dataset_infos.json")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(_FILE_SUFFIXES)
                   and not p.name.startswith(".") and p.name not in metadata)  # fmt: skip
    pattern = re.compile(rf"(^|[-_./]){re.escape(split.lower())}([-_.]|$)")
    chosen = [p for p in files if pattern.search(str(p.relative_to(folder)).lower())]
    return chosen


def _datasets_cache_files(name: str, config: str | None, split: str) -> tuple[list[Path], Path | None]:
    """Arrow files of a split in the ``datasets`` library's cache, and the dataset_info.json beside them."""
    cache = env_dir("HF_DATASETS_CACHE", hf_home() / "datasets")
    candidates = [cache / name.replace("/", "___"), cache / name.split("/")[-1]]
    for root in candidates:
        if not root.is_dir():
            continue
        configs = [root / config] if config else sorted(p for p in root.iterdir() if p.is_dir())
        for config_dir in configs:
            arrows = sorted(config_dir.glob(f"*/*/*-{split}.arrow")) + sorted(
                config_dir.glob(f"*/*/*-{split}-[0-9]*-of-[0-9]*.arrow")
            )
            if arrows:
                folder = arrows[-1].parent
                files = sorted(p for p in arrows if p.parent == folder)
                info = folder / "dataset_info.json"
                return files, info if info.is_file() else None
    return [], None


# -- reading --------------------------------------------------------------------------------


def _read_arrow_file(path: Path) -> pa.Table:
    try:
        with pa.memory_map(str(path)) as source:
            return ipc.open_stream(source).read_all()
    except pa.ArrowInvalid:
        with pa.memory_map(str(path)) as source:
            return ipc.open_file(source).read_all()


def _read_file(path: Path) -> pa.Table:
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return pq.read_table(path)
        if name.endswith(".csv"):
            return pacsv.read_csv(path)
        if name.endswith(".tsv"):
            return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter="\t"))
        if name.endswith(".arrow"):
            return _read_arrow_file(path)
        if name.endswith((".jsonl", ".json")):
            try:
                return pajson.read_json(path)
            except pa.ArrowInvalid:
                return _read_json_array(path)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DatasetError(f"{path}: cannot read it ({_first_line(error)})") from error
    raise DatasetError(f"{path}: not a dataset file ({', '.join(_FILE_SUFFIXES)}, or a save_to_disk folder)")


def _read_json_array(path: Path) -> pa.Table:
    with path.open("rb") as handle:
        data = json.load(handle)
    if isinstance(data, dict):  # {"data": [...]} as some exports write
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else None
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise DatasetError(f"{path}: JSON that is not a list of records")
    return pa.Table.from_pylist(data)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _concat(tables: list[pa.Table], where: str) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="default")
    except pa.ArrowException as error:
        raise DatasetError(f"{where}: its files do not share one schema ({_first_line(error)})") from error


def _features_from_metadata(table: pa.Table) -> dict[str, Any] | None:
    metadata = table.schema.metadata or {}
    raw = metadata.get(b"huggingface")
    if not raw:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    features = info.get("info", {}).get("features") if isinstance(info, dict) else None
    return features if isinstance(features, dict) else None


def _read_info(path: Path | None) -> dict[str, Any]:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class _Located:
    table: pa.Table
    source: str
    info: dict[str, Any]
    """dataset_info.json (features, builder/dataset/config names), when there is one."""
    default_name: str


def _save_to_disk_dataset(folder: Path) -> tuple[list[Path], dict[str, Any]]:
    state = _read_info(folder / "state.json")
    files = state.get("_data_files")
    if not isinstance(files, list) or not files:
        raise DatasetError(f"{folder}: a save_to_disk folder whose state.json lists no data files")
    paths = []
    for entry in files:
        filename = entry.get("filename") if isinstance(entry, dict) else None
        if not isinstance(filename, str) or "/" in filename or "\\" in filename or filename.startswith("."):
            raise DatasetError(f"{folder}: state.json names an unusable data file {filename!r}")
        paths.append(folder / filename)
    return paths, _read_info(folder / "dataset_info.json")


def _locate(spec: str, split: str, config: str | None, revision: str | None) -> _Located:
    path = Path(spec).expanduser()
    if path.is_file():
        return _Located(_read_file(path), str(path), {}, path.stem)
    if path.is_dir():
        if (path / "dataset_dict.json").is_file():
            splits = _read_info(path / "dataset_dict.json").get("splits") or []
            if split not in splits:
                raise DatasetError(f"{spec}: no split {split!r} (it has {', '.join(map(str, splits)) or 'none'})")
            folder = path / split
            files, info = _save_to_disk_dataset(folder)
            return _Located(_concat([_read_arrow_file(f) for f in files], spec), str(folder), info, path.name)
        if (path / "state.json").is_file():
            files, info = _save_to_disk_dataset(path)
            return _Located(_concat([_read_arrow_file(f) for f in files], spec), str(path), info, path.name)
        files = _split_files(path, split)
        if not files:
            raise DatasetError(f"{spec}: no data file for split {split!r} in this folder "
                               f"(looked for {', '.join(_FILE_SUFFIXES)} files naming the split)")  # fmt: skip
        return _Located(_concat([_read_file(f) for f in files], spec), str(path), {}, path.name)
    if spec.startswith((".", "/", "~")) or spec.endswith(_FILE_SUFFIXES):
        raise DatasetError(f"{spec}: no such file or folder")
    # A name: the local caches only.
    cached = hub_cache_snapshot("datasets", spec, revision)
    if cached is not None:
        base = cached / config if config and (cached / config).is_dir() else cached
        files = _split_files(base, split)
        if files:
            return _Located(_concat([_read_file(f) for f in files], spec), str(base), {}, spec)
    arrows, info_path = _datasets_cache_files(spec, config, split)
    if arrows:
        table = _concat([_read_arrow_file(f) for f in arrows], spec)
        return _Located(table, str(arrows[0].parent), _read_info(info_path), spec)
    raise DatasetError(
        f"{spec}: not a local file or folder, and split {split!r} of a dataset by that name is not in the local "
        "Hugging Face cache (ptmscope verify never downloads data sets)"
    )


# -- columns and labels ---------------------------------------------------------------------------


def _class_names(feature: Any) -> list[str] | None:
    """Names of a ClassLabel feature, or of the ClassLabel inside a Sequence/List feature."""
    if not isinstance(feature, dict):
        return None
    if feature.get("_type") == "ClassLabel" and isinstance(feature.get("names"), list):
        return [str(n) for n in feature["names"]]
    inner = feature.get("feature")
    if feature.get("_type") in ("Sequence", "List", "LargeList") and inner is not None:
        return _class_names(inner)
    return None


def _pick(table_columns: list[str], task: str, overrides: Mapping[str, str]) -> dict[str, str]:
    roles = COLUMNS[task]
    unknown = sorted(set(overrides) - set(roles))
    if unknown:
        raise DatasetError(f"--column {unknown[0]}=...: {task} uses the roles {', '.join(roles)}")
    chosen: dict[str, str] = {}
    for role, names in roles.items():
        if role in overrides:
            if overrides[role] not in table_columns:
                raise DatasetError(f"--column {role}={overrides[role]}: no such column "
                                   f"(columns: {', '.join(table_columns[:20])})")  # fmt: skip
            chosen[role] = overrides[role]
            continue
        found = next((n for n in names if n in table_columns), None)
        if found is None:
            raise DatasetError(
                f"no {role!r} column for {task} (looked for {', '.join(names)}; the data has "
                f"{', '.join(table_columns[:20]) or 'no columns'}); name it with --column {role}=COLUMN"
            )
        chosen[role] = found
    return chosen


def load_eval_data(
    spec: str,
    task: str,
    *,
    split: str = "test",
    config: str | None = None,
    name: str | None = None,
    columns: Mapping[str, str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    revision: str | None = None,
) -> EvalData:
    """Read one split of an evaluation dataset for ``task``.

    Args:
        spec: a path (file, folder, save_to_disk folder) or the name of a dataset in the
            local Hugging Face cache.
        task: one of ``TASKS``.
        split: the split to evaluate.
        config: the dataset configuration (cache look-ups and claim matching).
        name: the dataset's identity for matching claims; default the dataset's own
            info, else the name given, else the file or folder name.
        columns: ``{role: column}`` overrides of the column names.
        limit: evaluate a seeded random sample of this many rows (in file order).
        seed: seed of that sample.
        revision: revision of a Hub-cache dataset.

    Raises:
        DatasetError: the data cannot be found or read, lacks a column, or is empty.
    """
    if task not in TASKS:
        raise DatasetError(f"unknown task {task!r} (one of {', '.join(TASKS)})")
    located = _locate(spec, split, config, revision)
    table = located.table
    total = table.num_rows
    if total == 0:
        raise DatasetError(f"{spec}: split {split!r} is empty")
    if total > MAX_EXAMPLES:
        raise DatasetError(f"{spec}: {total:,} rows; verify evaluates at most {MAX_EXAMPLES:,} (use --limit)")
    chosen = _pick(list(table.column_names), task, columns or {})
    notes = []
    if limit is not None and limit < total:
        if limit <= 0:
            raise DatasetError("--limit must be positive")
        rows = np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))
        table = table.take(pa.array(rows))
        notes.append(f"a seeded random sample of {limit:,} of the split's {total:,} examples (seed {seed})")
    features = (located.info.get("features") if isinstance(located.info.get("features"), dict) else None) or (
        _features_from_metadata(located.table) or {}
    )
    label_role = {"text-classification": "label", "image-classification": "label",
                  "token-classification": "tags", "sentence-similarity": None}[task]  # fmt: skip
    label_names = _class_names(features.get(chosen[label_role])) if label_role else None
    values = {role: table.column(column).to_pylist() for role, column in chosen.items()}
    own_name = located.info.get("dataset_name") or located.info.get("builder_name")
    identity = name or (str(own_name) if isinstance(own_name, str) and own_name else None) or located.default_name
    own_config = located.info.get("config_name")
    return EvalData(
        source=located.source,
        name=identity,
        config=config or (own_config if isinstance(own_config, str) and own_config != "default" else None),
        split=split,
        columns=values,
        label_names=label_names,
        total=total,
        notes=notes,
    )
