"""Map a dataset's labels onto a model's label ids (config.json ``id2label``), or say why they do not map.

Rules, in order:

1. Labels written as strings (``"joy"``, ``"B-PER"``) are looked up in the model's label
   names, exactly, then ignoring case. A model with only transformers' default names
   (``LABEL_0``...) accepts only those names.
2. Labels stored as ints with class names (a ``datasets`` ``ClassLabel``) are mapped
   by *name* when the model has real names, so a dataset and a model that order the
   same classes differently still agree; by id when the model has default names.
3. Labels stored as plain ints are model ids and must lie in ``0..num_labels-1``.

Anything else (a missing label, a name the model does not know, an id out of range)
is a ``LabelMappingError`` that lists what did not map.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ptmscope.errors import LabelMappingError

_GENERIC = re.compile(r"^LABEL_\d+$")


def _shown(values: Sequence[object], limit: int = 6) -> str:
    items = [repr(v) for v in list(values)[:limit]]
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(items) + more


def is_generic(id2label: dict[int, str]) -> bool:
    """True when the names are transformers' defaults (LABEL_0, LABEL_1...), i.e. the model names no classes."""
    return all(_GENERIC.match(name) for name in id2label.values())


class LabelMapper:
    """Turns dataset label values into model label ids."""

    def __init__(self, id2label: dict[int, str], dataset_names: list[str] | None) -> None:
        if not id2label:
            raise LabelMappingError("the model's config.json has no labels (id2label)")
        self.id2label = id2label
        self.generic = is_generic(id2label)
        self.dataset_names = dataset_names
        self._exact = {name: i for i, name in id2label.items()}
        self._folded = {name.casefold(): i for i, name in id2label.items()}
        self.unknown: dict[object, int] = {}
        self.notes: list[str] = []
        if dataset_names is not None and not self.generic:
            missing = [n for n in dataset_names if self._lookup(n) is None]
            if missing:
                raise LabelMappingError(
                    f"the dataset's classes {_shown(missing)} are not among the model's labels "
                    f"{_shown(list(id2label.values()))} (config.json id2label)"
                )
        if dataset_names is not None and self.generic:
            self.notes.append("the model names no classes (LABEL_k); the dataset's class ids were used as model ids")

    def _lookup(self, name: str) -> int | None:
        found = self._exact.get(name)
        return found if found is not None else self._folded.get(name.casefold())

    def one(self, value: Any, where: str) -> int:
        """The model id of one label value; records unknown values (``check`` raises on them)."""
        if value is None:
            raise LabelMappingError(f"{where} has no label")
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            found = self._lookup(value.strip())
            if found is None:
                self.unknown[value] = self.unknown.get(value, 0) + 1
                return -1
            return found
        if isinstance(value, int):
            if self.dataset_names is not None and not self.generic:
                if not 0 <= value < len(self.dataset_names):
                    raise LabelMappingError(f"{where}: class id {value} is outside the dataset's "
                                            f"{len(self.dataset_names)} classes")  # fmt: skip
                found = self._lookup(self.dataset_names[value])
                assert found is not None  # checked in __init__
                return found
            if value not in self.id2label:
                self.unknown[value] = self.unknown.get(value, 0) + 1
                return -1
            return value
        raise LabelMappingError(f"{where}: a label of type {type(value).__name__} ({str(value)[:40]!r})")

    def check(self) -> None:
        """Raise if any value did not map."""
        if not self.unknown:
            return
        names = list(self.id2label.values())
        hint = (
            "; the model has no class names (LABEL_k), so give labels as ints"
            if self.generic and any(isinstance(v, str) for v in self.unknown)
            else ""
        )
        raise LabelMappingError(
            f"dataset labels {_shown(list(self.unknown))} are not among the model's labels {_shown(names)} "
            f"(config.json id2label){hint}"
        )

    def name(self, model_id: int) -> str:
        """The class name of a model id: config.json's, else the dataset's (generic models), else LABEL_k."""
        if self.generic and self.dataset_names is not None and 0 <= model_id < len(self.dataset_names):
            return self.dataset_names[model_id]
        return self.id2label.get(model_id, f"LABEL_{model_id}")


def map_labels(values: Sequence[Any], id2label: dict[int, str],
               dataset_names: list[str] | None) -> tuple[list[int], LabelMapper]:  # fmt: skip
    """Model ids of a label column; raises LabelMappingError when any does not map."""
    mapper = LabelMapper(id2label, dataset_names)
    ids = [mapper.one(v, f"row {i}") for i, v in enumerate(values)]
    mapper.check()
    return ids, mapper


def map_tag_sequences(sequences: Sequence[Any], tokens: Sequence[Any], id2label: dict[int, str],
                      dataset_names: list[str] | None) -> tuple[list[list[int]], LabelMapper]:  # fmt: skip
    """Model ids of every tag of every sentence; the tags must line up with the tokens."""
    mapper = LabelMapper(id2label, dataset_names)
    out: list[list[int]] = []
    for i, (tags, words) in enumerate(zip(sequences, tokens, strict=True)):
        if not isinstance(tags, list) or not isinstance(words, list):
            raise LabelMappingError(f"row {i}: tokens and tags must be lists")
        if len(tags) != len(words):
            raise LabelMappingError(f"row {i}: {len(words)} tokens but {len(tags)} tags")
        out.append([mapper.one(t, f"row {i}") for t in tags])
    mapper.check()
    if mapper.generic and dataset_names is None:
        raise LabelMappingError(
            "entity F1 needs tag names (B-PER, I-PER...), but neither the model (LABEL_k) nor the dataset names them"
        )
    return out, mapper
