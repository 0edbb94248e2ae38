"""The warehouse's schema: migrations in order, then the views and the comments of the data dictionary."""
from __future__ import annotations

import csv
import importlib.util
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import duckdb

from load.sql import columns, has_database, has_table, literal, relations, scalar, transaction

HERE = Path(__file__).resolve().parent
MIGRATIONS = HERE / "migrations"
RAW = "raw"  # the catalog the raw store is attached under: raw.raw_pages, raw.file_state


RAW_STORE_VERSION = 11  # the migration that moved page bodies into the raw store


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The warehouse's schema version (0: a new file)."""
    if not has_table(con, "schema_migrations"):
        return 0
    return int(scalar(con, "SELECT coalesce(max(version), 0) FROM schema_migrations"))


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations this file lacks, each in its own transaction; then views and comments.

    A migration is NNN_name.sql, or NNN_name.py with `upgrade(con)` for a step SQL cannot take, and
    optionally `prepare(con)`, run in a transaction of its own first: DuckDB writes one attached database
    per transaction, so a step that writes the raw store goes there (and must be safe to repeat)."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER, name VARCHAR, applied_at TIMESTAMPTZ)")
    done = {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for path in migration_files():
        version = int(path.name.split("_", 1)[0])
        if version in done:
            continue
        module = load_migration(path) if path.suffix == ".py" else None
        if module is not None and hasattr(module, "prepare"):
            with transaction(con):
                module.prepare(con)
        with transaction(con):
            if module is not None:
                module.upgrade(con)
            else:
                con.execute(path.read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        [version, path.name, datetime.now(timezone.utc)])
        applied.append(version)
    if has_database(con, RAW):
        con.execute((HERE / "raw_store.sql").read_text(encoding="utf-8"))  # a raw store made afresh
    apply_views_and_comments(con)  # always: a new release may change a view without a migration
    return applied


def migration_files() -> list[Path]:
    return sorted([*MIGRATIONS.glob("[0-9]*.sql"), *MIGRATIONS.glob("[0-9]*.py")], key=lambda p: p.name)


def load_migration(path: Path) -> ModuleType:
    """A migration written in Python, as a module (`upgrade(con)`, optionally `prepare(con)`)."""
    spec = importlib.util.spec_from_file_location(f"esf_migration_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load migration {path.name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# table → the tables whose column comments it repeats, in order (load/dictionary.csv need not say them twice)
SAME_COLUMNS_AS = {"project_versions": ("projects",), "operation_versions": ("operations",),
                   "kohesio_operations": ("operations",),
                   "kohesio_operation_versions": ("operation_versions", "operations"),
                   "operations_current": ("operations",),
                   "kohesio_operations_current": ("operations_current", "operations")}


def apply_views_and_comments(con: duckdb.DuckDBPyConnection) -> None:
    """Recreate the views; set each comment that differs from load/dictionary.csv (setting all ~200 took a
    second of every run)."""
    con.execute((HERE / "views.sql").read_text(encoding="utf-8"))
    entries = list(csv.DictReader(open(HERE / "dictionary.csv", encoding="utf-8", newline="")))
    found = relations(con) + (relations(con, RAW) if has_database(con, RAW) else [])
    kinds = {r.name: (r.kind.upper(), f"{RAW}.{r.name}" if r.database == RAW else r.name) for r in found}
    current: dict[tuple[str, str], str | None] = {(r.name, ""): r.comment for r in found}
    current.update(((r.name, name), comment) for r in found for name, _, comment in columns(con, r.name, r.database))
    described = {(e["table"], e["column"]): e["comment"] for e in entries}
    # A table that repeats another's columns (versions, the second list) takes their meaning where it has none.
    for (t, column), _ in list(current.items()):
        for base in SAME_COLUMNS_AS.get(t, ()):
            if column and (t, column) not in described and (base, column) in described:
                described[(t, column)] = described[(base, column)]
    statements: dict[bool, list[str]] = {False: [], True: []}  # by database: is it the raw store's
    for (table, column), comment in described.items():
        if table not in kinds or current.get((table, column)) == comment:
            continue
        kind, name = kinds[table]
        what = f"COLUMN {name}.{column}" if column else f"{kind} {name}"
        statements[name.startswith(f"{RAW}.")].append(f"COMMENT ON {what} IS {literal(comment)}")
    for written in statements.values():  # a transaction per database (DuckDB writes one in each), not per comment
        if written:
            with transaction(con):
                con.execute(";\n".join(written))
