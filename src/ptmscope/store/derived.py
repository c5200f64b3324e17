"""Facts derived from stored rows, defined once: which weight format a file name is.

The audit's facts, ``select``, the study and ``verify`` all ask what a repo's weights are; each
used to carry its own list of suffixes, and the lists disagreed (select's "pickle" left out
.pkl, .joblib and .npy; the study counted .pbtxt as TensorFlow). They now all read this table:
the Python side through :func:`weight_format`, SQL through :func:`format_sql` and
:func:`is_format_sql`, over a lower-cased path column.
"""

from __future__ import annotations

# format -> (file-name suffixes, path fragments), matched on the lower-cased path. Order matters
# where one name could match two rows: the first row that matches names the format.
WEIGHT_FORMATS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("safetensors", (".safetensors",), ()),
    # Python pickles, alone or inside a zip (torch.save), a joblib dump or a NumPy file: all run code on load
    ("pickle", (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".dill", ".npy", ".npz"), ()),
    ("onnx", (".onnx",), ()),
    ("gguf", (".gguf", ".ggml"), ()),
    # Keras/TensorFlow weights; a .pbtxt is a text graph without weights, so it is not one of them
    ("tensorflow", (".h5", ".keras", "saved_model.pb"), ()),
    ("tflite", (".tflite",), ()),
    ("flax", (".msgpack",), ()),
    ("coreml", (".mlmodel",), (".mlpackage/",)),
)
FORMATS = tuple(name for name, _, _ in WEIGHT_FORMATS)
PICKLE_SUFFIXES = next(suffixes for name, suffixes, _ in WEIGHT_FORMATS if name == "pickle")


def weight_format(path: str) -> str | None:
    """The weight format a file's path names, or None for a file that holds no weights."""
    p = path.lower()
    for name, suffixes, fragments in WEIGHT_FORMATS:
        if p.endswith(suffixes) or any(f in p for f in fragments):
            return name
    return None


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_format_sql(column: str, name: str) -> str:
    """A SQL boolean: the lower-cased path in ``column`` is a weight file of format ``name``."""
    for fmt, suffixes, fragments in WEIGHT_FORMATS:
        if fmt == name:
            tests = [f"suffix({column}, {_quoted(s)})" for s in suffixes]
            tests += [f"contains({column}, {_quoted(f)})" for f in fragments]
            return "(" + " OR ".join(tests) + ")"
    raise KeyError(name)


def format_sql(column: str) -> str:
    """A SQL expression: the weight format of the lower-cased path in ``column``, or NULL."""
    whens = " ".join(f"WHEN {is_format_sql(column, name)} THEN {_quoted(name)}" for name in FORMATS)
    return f"CASE {whens} END"


SNAPSHOT_FILE_SCANS_SQL = (
    "SELECT f.* FROM (SELECT repo_id, unnest(paths) AS path, unnest(oids) AS oid, revision"
    " FROM file_scan_repos WHERE snapshot_id = $sid AND status = 'ok') c"
    " JOIN file_scans f ON f.repo_id = c.repo_id AND f.path = c.path"
    " AND (f.oid = c.oid OR (c.oid IS NULL AND f.oid IS NULL AND f.revision IS NOT DISTINCT FROM c.revision))"
)
"""The stored verdict of every file a snapshot's ``scan --snapshot`` runs covered (parameter ``$sid``: the snapshot id).

``file_scans`` is keyed by content (repo, path, oid), ``file_scan_repos`` says which of those a
snapshot's runs looked at; the study, ``select --exclude-unsafe`` and ``audit`` read verdicts through this.
"""
