"""Licence knowledge: the Hub's licence ids, their SPDX ids and kinds, and the chain rule.

The catalogue is data (data/licenses.yaml). The rule for a derivative model and its
base lives in one SQL macro, ``license_verdict``, so a single audit and an audit of a
million models judge a licence chain the same way:

- a permissive, public-domain or weak-copyleft base allows any licence;
- a no-derivatives base allows none;
- a non-commercial base needs a non-commercial (or no-derivatives) derivative;
- a copyleft or share-alike base needs the same licence family;
- a use-restricted base (OpenRAIL, Llama, Gemma) needs a use-restricted derivative:
  a permissive licence would drop restrictions the base requires to pass on;
- anything involving ``other`` or an unknown id is "unknown", not a conflict.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import duckdb

PERMISSIVE_KINDS = ("permissive", "public-domain")


@cache
def catalogue() -> dict[str, dict[str, Any]]:
    """The licence catalogue: Hub licence id -> {spdx, kind, family}."""
    text = (resources.files("ptmscope.data") / "licenses.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)["licenses"]
    return {
        str(k).lower(): {"spdx": v.get("spdx"), "kind": v["kind"], "family": v.get("family")} for k, v in data.items()
    }


VERDICT_MACRO = """
CREATE OR REPLACE TEMP MACRO license_verdict(base_kind, base_family, kind, family) AS
CASE
    WHEN base_kind IS NULL OR kind IS NULL OR base_kind = 'other' OR kind = 'other' THEN 'unknown'
    WHEN base_kind IN ('permissive', 'public-domain', 'weak-copyleft') THEN 'compatible'
    WHEN base_kind = 'no-derivatives' THEN 'conflict'
    WHEN base_kind = 'non-commercial' THEN
        CASE WHEN kind IN ('non-commercial', 'no-derivatives') THEN 'compatible' ELSE 'conflict' END
    WHEN base_kind IN ('copyleft', 'share-alike') THEN
        CASE WHEN family IS NOT NULL AND family = base_family THEN 'compatible' ELSE 'conflict' END
    WHEN base_kind = 'use-restricted' THEN
        CASE WHEN kind IN ('use-restricted', 'non-commercial', 'no-derivatives') THEN 'compatible' ELSE 'conflict' END
    ELSE 'unknown'
END
"""

REASON_MACRO = """
CREATE OR REPLACE TEMP MACRO license_conflict_reason(base_id, base_kind, id) AS
CASE base_kind
    WHEN 'no-derivatives' THEN 'the base model''s ' || base_id || ' licence allows no derivatives'
    WHEN 'non-commercial' THEN id || ' allows commercial use, but the base model''s ' || base_id || ' does not'
    WHEN 'copyleft' THEN id || ' drops the ' || base_id || ' copyleft that the base model requires'
    WHEN 'share-alike' THEN id || ' drops the ' || base_id || ' share-alike terms of the base model'
    WHEN 'use-restricted' THEN id || ' drops the use restrictions of the base model''s ' || base_id || ' licence'
    ELSE NULL
END
"""


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Create the temp table ``license_catalog`` and the verdict macros on a connection."""
    con.execute("CREATE OR REPLACE TEMP TABLE license_catalog (id VARCHAR, spdx VARCHAR, kind VARCHAR, family VARCHAR)")
    con.executemany(
        "INSERT INTO license_catalog VALUES (?, ?, ?, ?)",
        [(k, v["spdx"], v["kind"], v["family"]) for k, v in catalogue().items()],
    )
    con.execute(VERDICT_MACRO)
    con.execute(REASON_MACRO)
