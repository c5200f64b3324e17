"""One definition of a weight file's format, the same in Python and in SQL, read by every command."""

from __future__ import annotations

import duckdb
import pytest

from ptmscope.store.derived import FORMATS, format_sql, is_format_sql, weight_format

PATHS = {
    "model.safetensors": "safetensors",
    "pytorch_model.bin": "pickle",
    "training_args.bin": "pickle",
    "ckpt/last.CKPT": "pickle",
    "model.pkl": "pickle",
    "sklearn/model.joblib": "pickle",
    "embeddings.npy": "pickle",
    "arrays.npz": "pickle",
    "model.onnx": "onnx",
    "llama-7b.Q4_K_M.gguf": "gguf",
    "old.ggml": "gguf",
    "tf_model.h5": "tensorflow",
    "model.keras": "tensorflow",
    "export/saved_model.pb": "tensorflow",
    "graph.pbtxt": None,  # a text graph, no weights
    "model.tflite": "tflite",
    "flax_model.msgpack": "flax",
    "Model.mlpackage/Data/weights.bin": "pickle",  # a .bin names its own format first
    "Model.mlpackage/Manifest.json": "coreml",
    "model.mlmodel": "coreml",
    "config.json": None,
    "README.md": None,
}


@pytest.mark.parametrize(("path", "expected"), list(PATHS.items()))
def test_python_and_sql_name_the_same_format(path, expected):
    assert weight_format(path) == expected
    con = duckdb.connect()
    sql_format = con.execute(f"SELECT {format_sql('p')} FROM (SELECT lower(?) AS p)", [path]).fetchone()[0]
    assert sql_format == expected
    for name in FORMATS:
        got = con.execute(f"SELECT {is_format_sql('p', name)} FROM (SELECT lower(?) AS p)", [path]).fetchone()[0]
        assert got == (name == expected) or (got and name != expected and expected is not None), (path, name)


def test_an_unknown_format_is_an_error():
    with pytest.raises(KeyError):
        is_format_sql("p", "zip")
