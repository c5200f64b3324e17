"""Figures the ICSE 2023 paper published (Jiang et al., arXiv 2303.02552), for comparison.

Sources: the paper's text (arXiv 2303.02552) and, for the Fig. 6 dataset panel, the
dict typed into cell 1 of the artifact's ``data/data_cleaning.ipynb`` (PurdueDualityLab/
ICSE-23-PTM-Artifact). The paper's data is an August 2022 Hub snapshot of about 63k
models; a different snapshot will differ, which is the point of comparing.
"""

from __future__ import annotations

from typing import Any

# Fig. 7: models with machine-parseable claims / models, per pipeline task.
FIG7_CLAIMS_BY_TASK: dict[str, tuple[int, int]] = {
    "token-classification": (526, 3130),
    "automatic-speech-recognition": (618, 3919),
    "image-classification": (105, 731),
    "summarization": (56, 501),
    "text-classification": (872, 8764),
    "translation": (99, 1637),
    "text2text-generation": (256, 5320),
    "object-detection": (1, 44),
    "multiple-choice": (1, 94),
    "question-answering": (22, 2102),
    "audio-classification": (1, 141),
    "fill-mask": (17, 3802),
    "sentence-similarity": (1, 609),
    "text-generation": (7, 5481),
    "other": (12, 26192),
}

# Fig. 6, dataset panel as published (artifact notebook cell 1, drawn by ``main()`` of the
# artifact's plotData/ptm.py): metric *claims* per evaluation ``dataset.type``, beside "none",
# the models without claims. The text calls universal_dependencies' 6,834 "models depending
# upon it", but they are claims (one model claims dozens of treebanks); the sum, 69,853, is
# more than the 63,182 models. ptmscope reports this panel as ``fig6_eval_datasets``.
FIG6_EVAL_DATASET_CLAIMS: dict[str, int] = {
    "none": 56933,
    "universal_dependencies": 6834,
    "conll2003": 580,
    "emotion": 477,
    "glue": 355,
    "mozilla-foundation/common_voice_8_0": 344,
    "speech-recognition-community-v2/dev_data": 340,
    "common_voice": 328,
    "mozilla-foundation/common_voice_7_0": 218,
    "xtreme": 181,
    "other": 3263,
}

# Fig. 6, architecture panel: the order the figure lists; §VIII gives BERT's count.
FIG6_TOP_ARCHITECTURES: tuple[str, ...] = (
    "bert",
    "gpt2",
    "wav2vec2",
    "roberta",
    "distilbert",
    "t5",
    "marian",
    "bart",
    "xlm-roberta",
)
FIG6_BERT_MODELS = 10247

# Table IV and §VIII-IX.
TABLE_IV: dict[str, Any] = {
    "organizations_verified": (199, 6243),
    "repos_with_signed_commits": (132, 63182),
    "verified_orgs_with_signed_repos": 2,
    "malware_flagged": 0,
    "one_dataset_downstream_ptms": 1673,  # Table IV's "one dataset has 1,673 downstream PTMs"
    "most_claimed_eval_dataset": ("universal_dependencies", 6834),
    "most_depended_architecture": ("bert", 10247),
    "clone_failures": 186,
}

SNAPSHOT = "Hugging Face Hub, August 2022 (63,182 model repositories)"


def as_json() -> dict[str, Any]:
    """The published figures in the study's JSON shape."""
    return {
        "snapshot": SNAPSHOT,
        "claims_by_task": {t: {"with_claims": k, "total": n} for t, (k, n) in FIG7_CLAIMS_BY_TASK.items()},
        "fig6_eval_datasets": dict(FIG6_EVAL_DATASET_CLAIMS),
        "top_architectures": list(FIG6_TOP_ARCHITECTURES),
        "bert_models": FIG6_BERT_MODELS,
        "table_iv": {k: list(v) if isinstance(v, tuple) else v for k, v in TABLE_IV.items()},
    }
