"""Tiny real models for the verify tests, built and trained offline in seconds.

Each builder generates a small labelled task, trains a transformers model with a few
layers on it for a few steps (CPU, seeded), saves it as safetensors with its
tokenizer or image processor, and returns what the test needs to know, including the
model's accuracy on the test split computed here by a plain loop (independently of
ptmscope's own code), so an honest card can claim it.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
POSITIVE = ["good", "great", "happy", "lovely", "superb", "fine", "nice", "bright"]
NEGATIVE = ["bad", "awful", "sad", "poor", "grim", "dull", "nasty", "bleak"]
FILLERS = ["the", "film", "was", "a", "very", "day", "it", "felt", "and", "so", "quite", "this", "story", "plot"]
PERSONS = ["alice", "bob", "carol", "dave", "erin"]
SURNAMES = ["smith", "jones", "brown"]
PLACES = ["paris", "london", "berlin", "rome", "oslo"]
TAGS = ["O", "B-PER", "I-PER", "B-LOC"]


@dataclass
class Tiny:
    """A trained tiny model and its data."""

    folder: Path
    test_rows: list[dict]
    """The test split as rows (columns as the task names them)."""
    accuracy: float
    """Accuracy (entity F1 for token classification) on the test split, computed by the test's own loop."""
    label_names: list[str]


def _tokenizer(words: list[str], folder: Path, max_length: int = 32):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate([*SPECIALS, *words])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=max_length)  # fmt: skip
    fast.save_pretrained(folder)
    return fast, len(vocab)


def _bert_config(vocab_size: int, labels: list[str]):
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=32, num_labels=len(labels),
                      id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})  # fmt: skip


def _train(model, batches, steps: int, lr: float = 3e-3) -> None:
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        inputs = batches[step % len(batches)]
        loss = model(**inputs).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def sentiment_rows(n: int, rng: random.Random, noise: float) -> list[dict]:
    """Sentences with one sentiment word among fillers; a share ``noise`` of labels flipped."""
    rows = []
    for _ in range(n):
        positive = rng.random() < 0.5
        words = rng.choices(FILLERS, k=rng.randint(3, 7))
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if positive else NEGATIVE))
        label = "positive" if positive else "negative"
        if rng.random() < noise:
            label = "negative" if positive else "positive"
        rows.append({"text": " ".join(words), "label": label})
    return rows


def text_classifier(folder: Path, *, seed: int = 0, noise: float = 0.15) -> Tiny:
    """A 2-layer BERT sentiment classifier (hidden size 32) whose test accuracy is about 1 - noise."""
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    rng = random.Random(seed)
    labels = ["negative", "positive"]
    tokenizer, vocab_size = _tokenizer(POSITIVE + NEGATIVE + FILLERS, folder)
    model = BertForSequenceClassification(_bert_config(vocab_size, labels))
    train = sentiment_rows(640, rng, noise)
    test = sentiment_rows(400, rng, noise)
    batches = []
    for i in range(0, len(train), 32):
        chunk = train[i : i + 32]
        encoded = tokenizer([r["text"] for r in chunk], padding=True, return_tensors="pt")
        encoded["labels"] = torch.tensor([labels.index(r["label"]) for r in chunk])
        batches.append(encoded)
    _train(model, batches, steps=120)
    model.save_pretrained(folder)  # safetensors by default
    with torch.no_grad():
        encoded = tokenizer([r["text"] for r in test], padding=True, return_tensors="pt")
        predicted = model(**encoded).logits.argmax(-1).tolist()
    accuracy = sum(labels[p] == r["label"] for p, r in zip(predicted, test, strict=True)) / len(test)
    return Tiny(folder, test, accuracy, labels)


def ner_rows(n: int, rng: random.Random) -> list[dict]:
    """Sentences with person names (one or two words) and places among fillers, tagged IOB2."""
    rows = []
    for _ in range(n):
        tokens: list[str] = []
        tags: list[str] = []
        for _ in range(rng.randint(2, 4)):
            kind = rng.random()
            if kind < 0.3:
                tokens.append(rng.choice(PERSONS))
                tags.append("B-PER")
                if rng.random() < 0.5:
                    tokens.append(rng.choice(SURNAMES))
                    tags.append("I-PER")
            elif kind < 0.5:
                tokens.append(rng.choice(PLACES))
                tags.append("B-LOC")
            else:
                tokens.append(rng.choice(FILLERS))
                tags.append("O")
        rows.append({"tokens": tokens, "tags": tags})
    return rows


def token_classifier(folder: Path, *, seed: int = 0) -> Tiny:
    """A 2-layer BERT tagger (PER, LOC) trained on generated sentences."""
    import torch
    from transformers import BertForTokenClassification

    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer, vocab_size = _tokenizer(PERSONS + SURNAMES + PLACES + FILLERS, folder)
    model = BertForTokenClassification(_bert_config(vocab_size, TAGS))
    train, test = ner_rows(480, rng), ner_rows(150, rng)
    batches = []
    for i in range(0, len(train), 32):
        chunk = train[i : i + 32]
        encoded = tokenizer([r["tokens"] for r in chunk], is_split_into_words=True, padding=True, return_tensors="pt")
        label_rows = []
        for j, row in enumerate(chunk):
            ids = encoded.word_ids(j)
            label_rows.append([-100 if w is None else TAGS.index(row["tags"][w]) for w in ids])
        encoded["labels"] = torch.tensor(label_rows)
        batches.append(encoded)
    _train(model, batches, steps=150)
    model.save_pretrained(folder)
    # Entity F1 by a plain loop over (type, start, end) spans of IOB2 tags.
    with torch.no_grad():
        encoded = tokenizer([r["tokens"] for r in test], is_split_into_words=True, padding=True, return_tensors="pt")
        logits = model(**encoded).logits.argmax(-1)
    tp = n_pred = n_gold = 0
    for j, row in enumerate(test):
        first = {}
        for position, w in enumerate(encoded.word_ids(j)):
            if w is not None and w not in first:
                first[w] = position
        predicted = [TAGS[int(logits[j, first[w]])] for w in range(len(row["tokens"]))]
        gold, pred = _spans(row["tags"]), _spans(predicted)
        tp, n_pred, n_gold = tp + len(gold & pred), n_pred + len(pred), n_gold + len(gold)
    precision, recall = tp / n_pred, tp / n_gold
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Tiny(folder, test, f1, TAGS)


def _spans(tags: list[str]) -> set[tuple[str, int, int]]:
    spans, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        if tag.startswith("I-") and kind == tag[2:]:
            continue
        if start is not None:
            spans.add((kind, start, i - 1))
            start, kind = None, None
        if tag != "O":
            start, kind = i, tag[2:]
    return spans


COLOURS = ["red", "green", "blue"]


def image_rows(n: int, rng, noise: float = 0.1) -> list[dict]:
    """8x8 PNG images whose dominant channel is the class; a share ``noise`` of labels flipped."""
    from PIL import Image

    rows = []
    for _ in range(n):
        k = int(rng.integers(0, 3))
        pixels = rng.integers(0, 90, size=(8, 8, 3))
        pixels[:, :, k] += 140
        buffer = io.BytesIO()
        Image.fromarray(pixels.astype("uint8")).save(buffer, format="PNG")
        label = k if rng.random() >= noise else int((k + 1) % 3)
        rows.append({"image": {"bytes": buffer.getvalue(), "path": None}, "label": COLOURS[label]})
    return rows


def image_classifier(folder: Path, *, seed: int = 0) -> Tiny:
    """A 2-layer ViT (8x8 images, 4x4 patches, hidden size 32) that tells the dominant colour."""
    import numpy as np
    import torch
    from PIL import Image
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    config = ViTConfig(image_size=8, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=64, num_labels=3,
                       id2label=dict(enumerate(COLOURS)), label2id={c: i for i, c in enumerate(COLOURS)})  # fmt: skip
    model = ViTForImageClassification(config)
    (folder / "preprocessor_config.json").parent.mkdir(parents=True, exist_ok=True)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": 8, "width": 8},
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5], "resample": 2}))  # fmt: skip
    train, test = image_rows(480, rng), image_rows(300, rng)

    def pixels(rows):
        arrays = [np.asarray(Image.open(io.BytesIO(r["image"]["bytes"])).convert("RGB"), dtype="float32") for r in rows]
        return (torch.tensor(np.stack(arrays)).permute(0, 3, 1, 2) / 255 - 0.5) / 0.5

    batches = [
        {"pixel_values": pixels(train[i : i + 32]),
         "labels": torch.tensor([COLOURS.index(r["label"]) for r in train[i : i + 32]])}
        for i in range(0, len(train), 32)
    ]  # fmt: skip
    _train(model, batches, steps=90)
    model.save_pretrained(folder)
    with torch.no_grad():
        predicted = model(pixel_values=pixels(test)).logits.argmax(-1).tolist()
    accuracy = sum(COLOURS[p] == r["label"] for p, r in zip(predicted, test, strict=True)) / len(test)
    return Tiny(folder, test, accuracy, COLOURS)


def card(claims: list[dict], *, pipeline_tag: str, name: str = "tiny") -> str:
    """A README whose model-index holds ``claims`` ({task, dataset, split, metric, value, [config, name]})."""
    import yaml

    results = [
        {
            "task": {"type": c["task"]},
            "dataset": {k: v for k, v in (("type", c["dataset"]), ("name", c["dataset"]),
                                          ("split", c.get("split")), ("config", c.get("config"))) if v},
            "metrics": [{"type": c["metric"], "value": c["value"], **({"name": c["name"]} if "name" in c else {})}],
        }
        for c in claims
    ]  # fmt: skip
    front = yaml.safe_dump({"license": "mit", "pipeline_tag": pipeline_tag,
                            "model-index": [{"name": name, "results": results}]}, sort_keys=False)  # fmt: skip
    return f"---\n{front}---\n# {name}\n\nA tiny model trained in a test.\n"
