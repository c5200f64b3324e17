"""Versioned schema migrations for the DuckDB store.

A port of sqlite-utils' ``Migrations`` to DuckDB: each migration is a function
registered under a unique name, applied once, in order, and recorded in
``_ptmscope_migrations`` in the same transaction as its own changes.

    migrations = Migrations("ptmscope")

    @migrations()
    def m0001_initial(con): ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

MigrationFn = Callable[["duckdb.DuckDBPyConnection"], None]


@dataclass(frozen=True)
class Migration:
    """One registered schema change."""

    name: str
    """Unique within its set; the order of registration is the order of application."""
    fn: MigrationFn
    """Applies the change on an open connection inside a transaction."""


class Migrations:
    """An ordered, named set of migrations, applied idempotently."""

    table = "_ptmscope_migrations"

    def __init__(self, name: str) -> None:
        self.name = name
        self._migrations: list[Migration] = []

    def __call__(self, *, name: str | None = None) -> Callable[[MigrationFn], MigrationFn]:
        """Register the decorated function as the next migration."""

        def decorator(fn: MigrationFn) -> MigrationFn:
            migration_name = name or fn.__name__
            if not migration_name:
                raise ValueError("a migration needs a name")
            if any(m.name == migration_name for m in self._migrations):
                raise ValueError(f"migration {migration_name!r} is already registered in {self.name!r}")
            self._migrations.append(Migration(migration_name, fn))
            return fn

        return decorator

    def _ensure_table(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            " migration_set VARCHAR NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )

    def applied(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        """Names of the migrations already applied to this database, in order."""
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [self.table]
        ).fetchall()
        if not exists[0][0]:
            return []
        rows = con.execute(
            f"SELECT name FROM {self.table} WHERE migration_set = ? ORDER BY applied_at, rowid",
            [self.name],
        ).fetchall()
        return [r[0] for r in rows]

    def pending(self, con: duckdb.DuckDBPyConnection) -> list[Migration]:
        """Migrations not yet applied, in the order they will run."""
        done = set(self.applied(con))
        return [m for m in self._migrations if m.name not in done]

    def apply(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        """Apply every pending migration, each in its own transaction; return their names."""
        self._ensure_table(con)
        ran = []
        for migration in self.pending(con):
            con.execute("BEGIN TRANSACTION")
            try:
                migration.fn(con)
                con.execute(
                    f"INSERT INTO {self.table} VALUES (?, ?, ?)",
                    [self.name, migration.name, datetime.now(UTC)],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            ran.append(migration.name)
        return ran

    def __len__(self) -> int:
        return len(self._migrations)
