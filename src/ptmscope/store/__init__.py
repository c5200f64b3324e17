"""The DuckDB store: snapshots and the facts they hold."""

from __future__ import annotations

from ptmscope.store.store import Snapshot, Store, default_db_path

__all__ = ["Snapshot", "Store", "default_db_path"]
