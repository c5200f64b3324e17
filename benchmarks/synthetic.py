"""Synthetic Hub listings with realistic skew, for benchmarks.

Each record has the shape ``/api/models?full=true&cardData=true`` returns today:
id, author, sha, lastModified, createdAt, downloads, likes, pipeline_tag,
library_name, tags (incl. ``dataset:``, ``license:``, ``base_model:``), config,
siblings, cardData (licence, datasets, base_model and, for a few, a model-index).

Skew follows what the real Hub shows (and the bundled Feb-2022 sample): downloads
are heavy-tailed (log-normal with most models near zero), namespaces, datasets and
architectures are Zipf-distributed, few models carry claims, a third declare a base.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from pathlib import Path

import orjson

TASKS = [
    ("text-generation", 0.20),
    ("text-classification", 0.12),
    (None, 0.20),
    ("fill-mask", 0.06),
    ("text2text-generation", 0.05),
    ("automatic-speech-recognition", 0.05),
    ("token-classification", 0.04),
    ("image-classification", 0.04),
    ("feature-extraction", 0.03),
    ("translation", 0.03),
    ("sentence-similarity", 0.03),
    ("question-answering", 0.03),
    ("text-to-image", 0.04),
    ("summarization", 0.01),
    ("object-detection", 0.01),
    ("reinforcement-learning", 0.03),
    ("audio-classification", 0.005),
    ("zero-shot-classification", 0.005),
]
ARCHITECTURES = [
    "llama",
    "bert",
    "gpt2",
    "mistral",
    "roberta",
    "t5",
    "qwen2",
    "wav2vec2",
    "distilbert",
    "vit",
    "whisper",
    "xlm-roberta",
    "bart",
    "marian",
    "gemma",
    "phi",
    "deberta-v2",
    "clip",
    "electra",
    "albert",
] + [f"arch{i}" for i in range(180)]
LICENSES = [
    "apache-2.0",
    "mit",
    "openrail",
    "cc-by-4.0",
    "llama2",
    "cc-by-nc-4.0",
    "other",
    "gpl-3.0",
    "creativeml-openrail-m",
    "bsd-3-clause",
    "cc-by-sa-4.0",
    "afl-3.0",
]
DATASETS = [
    "wikipedia",
    "common_voice",
    "glue",
    "squad",
    "imdb",
    "conll2003",
    "c4",
    "bookcorpus",
    "emotion",
    "librispeech_asr",
    "universal_dependencies",
    "xtreme",
    "mnist",
    "cifar10",
    "openwebtext",
] + [f"org{i}/dataset{i}" for i in range(5_000)]
WEIGHTS = [
    ["model.safetensors"],
    ["pytorch_model.bin"],
    ["model.safetensors", "pytorch_model.bin"],
    ["tf_model.h5", "pytorch_model.bin"],
    ["model.onnx"],
    ["model.gguf"],
    ["flax_model.msgpack"],
    [],
]
WEIGHT_P = [0.45, 0.25, 0.12, 0.04, 0.02, 0.04, 0.02, 0.06]
METRICS = ["accuracy", "f1", "wer", "bleu", "rouge1", "exact_match", "loss"]


def _zipf_index(rng: random.Random, n: int, s: float = 1.1) -> int:
    # inverse-CDF sampling of a truncated power law over 0..n-1
    u = rng.random()
    return min(n - 1, int((n ** (1 - s) * u + (1 - u)) ** (1 / (1 - s))) - 1) if s != 1 else int(n**u) - 1


def records(n: int, seed: int = 7) -> Iterator[dict]:
    """``n`` synthetic model records, deterministic for a seed."""
    rng = random.Random(seed)
    tasks, task_p = zip(*TASKS, strict=True)
    namespaces = [f"user{i}" for i in range(max(10, n // 6))]
    for i in range(n):
        owner = namespaces[_zipf_index(rng, len(namespaces), 1.05)]
        repo_id = f"{owner}/model-{i}"
        task = rng.choices(tasks, task_p)[0]
        arch = ARCHITECTURES[_zipf_index(rng, len(ARCHITECTURES), 1.3)] if rng.random() < 0.75 else None
        downloads = int(rng.lognormvariate(0.5, 3.0)) if rng.random() < 0.85 else 0
        tags = ["transformers"] if arch else []
        datasets = []
        if rng.random() < 0.3:
            datasets = list({DATASETS[_zipf_index(rng, len(DATASETS), 1.2)] for _ in range(rng.randint(1, 3))})
            tags += [f"dataset:{d}" for d in datasets]
        license_ = LICENSES[_zipf_index(rng, len(LICENSES), 1.4)] if rng.random() < 0.55 else None
        if license_:
            tags.append(f"license:{license_}")
        card: dict = {}
        if license_:
            card["license"] = license_
        if datasets:
            card["datasets"] = datasets
        if i > 100 and rng.random() < 0.33:
            base = f"{namespaces[_zipf_index(rng, len(namespaces), 1.05)]}/model-{_zipf_index(rng, i, 1.2)}"
            relation = rng.choice(["finetune", "finetune", "adapter", "quantized", "merge"])
            tags += [f"base_model:{base}", f"base_model:{relation}:{base}"]
            card["base_model"] = base
        if task and rng.random() < 0.06:
            card["model-index"] = [
                {
                    "name": repo_id.split("/")[1],
                    "results": [
                        {
                            "task": {"type": task},
                            "dataset": {"type": datasets[0] if datasets else "glue", "name": "eval"},
                            "metrics": [{"type": rng.choice(METRICS), "value": round(rng.random(), 4)}],
                        }
                    ],
                }
            ]
        files = [".gitattributes", "config.json"] + rng.choices(WEIGHTS, WEIGHT_P)[0]
        if rng.random() < 0.7:
            files.append("README.md")
        files += [f"extra_{k}.json" for k in range(rng.randint(0, 4))]
        yield {
            "_id": f"{i:024x}",
            "id": repo_id,
            "author": owner,
            "sha": f"{rng.getrandbits(160):040x}",
            "lastModified": f"20{rng.randint(20, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00.000Z",
            "createdAt": "2020-01-01T00:00:00.000Z",
            "private": False,
            "gated": False,
            "disabled": False,
            "downloads": downloads,
            "likes": int(downloads**0.3) if downloads else 0,
            "pipeline_tag": task,
            "library_name": "transformers" if arch else None,
            "tags": tags,
            "config": {"model_type": arch, "architectures": [f"{arch}Model"]} if arch else None,
            "siblings": [{"rfilename": f} for f in files],
            "cardData": card or None,
        }


def write_jsonl_gz(path: Path, n: int, seed: int = 7) -> Path:
    """Write ``n`` records as gzip-compressed JSON Lines (fast level 1)."""
    with gzip.open(path, "wb", compresslevel=1) as out:
        for record in records(n, seed):
            out.write(orjson.dumps(record))
            out.write(b"\n")
    return path
