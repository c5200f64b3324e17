"""Run a loaded model over evaluation inputs in batches (torch, CPU, no gradients).

Text inputs are batched in order of length (less padding), and results are put back
in row order. Inputs longer than the model's maximum length are truncated, as
evaluation scripts do; for token classification a word cut off by truncation is
predicted ``O`` (outside any entity), and the count is reported.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ptmscope.errors import DatasetError
from ptmscope.verify.model import LoadedModel

Progress = Callable[[int], None]
"""Called with the number of examples just finished."""


def _batches(order: Sequence[int], size: int) -> list[list[int]]:
    return [list(order[i : i + size]) for i in range(0, len(order), size)]


def _by_length(texts: Sequence[Any]) -> list[int]:
    return sorted(range(len(texts)), key=lambda i: len(texts[i]))


def check_texts(values: Sequence[Any], role: str) -> list[str]:
    """The column as strings; DatasetError on a missing or non-text value."""
    out = []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise DatasetError(f"row {i}: {role} is {type(value).__name__}, not text")
        out.append(value)
    return out


def classify_texts(loaded: LoadedModel, texts: Sequence[str], batch_size: int, progress: Progress) -> list[int]:
    """Predicted label ids of a text classifier."""
    import torch  # the optional verify extra: imported when a model runs, never at module import

    predicted = [0] * len(texts)
    with torch.inference_mode():
        for batch in _batches(_by_length(texts), batch_size):
            encoded = loaded.preprocessor([texts[i] for i in batch], padding=True, truncation=True,
                                          max_length=loaded.max_length, return_tensors="pt")  # fmt: skip
            logits = loaded.model(**encoded).logits
            for i, label in zip(batch, logits.argmax(dim=-1).tolist(), strict=True):
                predicted[i] = int(label)
            progress(len(batch))
    return predicted


def tag_tokens(loaded: LoadedModel, sentences: Sequence[list[str]], batch_size: int,
               progress: Progress) -> tuple[list[list[int]], int]:  # fmt: skip
    """Predicted label ids per word (from each word's first sub-token), and words lost to truncation."""
    import torch  # the optional verify extra: imported when a model runs, never at module import

    outside = next((i for i, name in loaded.id2label.items() if name == "O"), None)
    predicted: list[list[int]] = [[] for _ in sentences]
    truncated = 0
    for i, words in enumerate(sentences):
        if not all(isinstance(w, str) for w in words):
            raise DatasetError(f"row {i}: tokens must be strings")
    with torch.inference_mode():
        for batch in _batches(_by_length(sentences), batch_size):
            encoded = loaded.preprocessor([sentences[i] for i in batch], is_split_into_words=True, padding=True,
                                          truncation=True, max_length=loaded.max_length,
                                          return_tensors="pt")  # fmt: skip
            labels = loaded.model(**{k: v for k, v in encoded.items() if k != "offset_mapping"}).logits.argmax(-1)
            for row, i in enumerate(batch):
                first: dict[int, int] = {}
                for position, word in enumerate(encoded.word_ids(row)):
                    if word is not None and word not in first:
                        first[word] = position
                count = len(sentences[i])
                truncated += count - len(first)
                fallback = outside if outside is not None else -1
                predicted[i] = [int(labels[row, first[w]]) if w in first else fallback for w in range(count)]
            progress(len(batch))
    return predicted, truncated


def _image(value: Any, row: int) -> Any:
    """A PIL RGB image from what a dataset column holds: encoded bytes, {bytes, path}, a path or an array."""
    try:
        if isinstance(value, dict):
            if value.get("bytes"):
                value = value["bytes"]
            elif value.get("path"):
                value = value["path"]
        image: Image.Image
        if isinstance(value, bytes | bytearray):
            image = Image.open(io.BytesIO(value))
        elif isinstance(value, str):
            image = Image.open(value)
        elif isinstance(value, list):
            array = np.asarray(value)
            if array.dtype != np.uint8:
                array = np.clip(array, 0, 255).astype(np.uint8)
            image = Image.fromarray(array)
        else:
            raise DatasetError(f"row {row}: an image column value of type {type(value).__name__}")
        image.load()
        return image.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, TypeError) as error:
        raise DatasetError(f"row {row}: cannot decode the image ({error})") from error


def classify_images(loaded: LoadedModel, images: Sequence[Any], batch_size: int, progress: Progress) -> list[int]:
    """Predicted label ids of an image classifier."""
    import torch  # the optional verify extra: imported when a model runs, never at module import

    predicted: list[int] = []
    with torch.inference_mode():
        for batch in _batches(range(len(images)), batch_size):
            pixels = loaded.preprocessor(images=[_image(images[i], i) for i in batch], return_tensors="pt")
            logits = loaded.model(**pixels).logits
            predicted.extend(int(v) for v in logits.argmax(dim=-1).tolist())
            progress(len(batch))
    return predicted


def embed(loaded: LoadedModel, sentences: Sequence[str], batch_size: int, progress: Progress) -> Any:
    """Sentence embeddings (a float tensor, one row per sentence), pooled as the model's Pooling module says."""
    import torch  # the optional verify extra: imported when a model runs, never at module import

    rows: list[Any] = [None] * len(sentences)
    with torch.inference_mode():
        for batch in _batches(_by_length(sentences), batch_size):
            encoded = loaded.preprocessor([sentences[i] for i in batch], padding=True, truncation=True,
                                          max_length=loaded.max_length, return_tensors="pt")  # fmt: skip
            hidden = loaded.model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            if loaded.layout.pooling == "cls":
                pooled = hidden[:, 0]
            elif loaded.layout.pooling == "max":
                pooled = hidden.masked_fill(mask == 0, float("-inf")).max(dim=1).values
            else:
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            for i, vector in zip(batch, pooled, strict=True):
                rows[i] = vector
            progress(len(batch))
    return torch.stack(rows) if rows else torch.zeros((0, 0))


def cosine_scores(loaded: LoadedModel, first: Sequence[str], second: Sequence[str], batch_size: int,
                  progress: Progress) -> list[float]:  # fmt: skip
    """Cosine similarity of each sentence pair's embeddings (each distinct sentence embedded once)."""
    import torch  # the optional verify extra: imported when a model runs, never at module import

    distinct = list(dict.fromkeys([*first, *second]))
    index = {s: i for i, s in enumerate(distinct)}
    vectors = embed(loaded, distinct, batch_size, progress)
    a = vectors[[index[s] for s in first]]
    b = vectors[[index[s] for s in second]]
    return [float(v) for v in torch.nn.functional.cosine_similarity(a, b, dim=-1).tolist()]
