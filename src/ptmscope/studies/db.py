"""The study's view of the store: parameterised SQL against one snapshot.

Every measurement asks its questions through ``StudyDB.rows``. In recording mode
(``ptmscope study --sql``) the queries are collected instead of run and every answer is
empty, so each measurement must cope with an empty result, as it must for an empty
snapshot anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


@dataclass
class StudyDB:
    """One snapshot of the store, as the measurements see it."""

    con: duckdb.DuckDBPyConnection
    snapshot_id: int
    recording: bool = False
    recorded: list[tuple[str, str]] = field(default_factory=list)
    """(measurement, sql) pairs seen in recording mode."""
    current: str = ""
    """The measurement running now (labels recorded SQL)."""
    definition: str = "strict"
    """What counts as a machine-parseable claim: 'strict' or 'paper' (ptmscope.studies.claims)."""
    front_matter: str | None = None
    """The rule the snapshot's cards were read with (ptmscope.cards.frontmatter), when known."""

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run ``sql`` with ``$sid`` bound to the snapshot (and any other named params)."""
        if self.recording:
            self.recorded.append((self.current, sql.strip()))
            return []
        bound = {name: value for name, value in {"sid": self.snapshot_id, **params}.items() if f"${name}" in sql}
        return self.con.execute(sql, bound).fetchall()

    def one(self, sql: str, **params: Any) -> tuple[Any, ...] | None:
        """The first row of ``sql``, or None."""
        rows = self.rows(sql, **params)
        return rows[0] if rows else None

    def scalar(self, sql: str, **params: Any) -> Any:
        """The first column of the first row, or None."""
        row = self.one(sql, **params)
        return row[0] if row else None
