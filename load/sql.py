"""The SQL the project writes in one place: quoting a value into a statement, a transaction, one value of a
query, and the catalog (the tables, views and columns of a database, with their comments)."""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb


def literal(value: str | os.PathLike[str]) -> str:
    """A string (or a path) as an SQL string literal, for the statements that take no parameters (ATTACH,
    COPY … TO, COMMENT ON)."""
    return "'" + str(value).replace("'", "''") + "'"


def identifier(name: str) -> str:
    """A name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
    """The first column of the first row (a count, a max): a query that returns no row is a bug here."""
    row = con.execute(sql, params if isinstance(params, dict) else list(params)).fetchone()
    if row is None:
        raise LookupError(f"no row from: {sql}")
    return row[0]


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN … COMMIT, or ROLLBACK on any error. If the rollback fails too (a full disk can end the
    transaction under us: "no transaction is active"), the first error is the one raised."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # the error that ended the transaction is being raised
        raise


@dataclass(frozen=True)
class Relation:
    """A table or view of a database's main schema."""
    name: str
    kind: str              # 'table' | 'view'
    comment: str | None
    database: str


_RELATIONS = """
    SELECT table_name, 'table' AS kind, comment, database_name FROM duckdb_tables()
    WHERE schema_name = 'main' AND database_name = coalesce(?, current_database())
    UNION ALL
    SELECT view_name, 'view', comment, database_name FROM duckdb_views()
    WHERE NOT internal AND schema_name = 'main' AND database_name = coalesce(?, current_database())
    ORDER BY kind, table_name"""


def relations(con: duckdb.DuckDBPyConnection, database: str | None = None) -> list[Relation]:
    """The tables, then the views, of a database's main schema (the current database unless named), by name.
    Other schemas (the search index's) and DuckDB's internal views are left out."""
    return [Relation(*row) for row in con.execute(_RELATIONS, [database, database]).fetchall()]


def columns(con: duckdb.DuckDBPyConnection, relation: str, database: str | None = None,
            schema: str = "main") -> list[tuple[str, str, str | None]]:
    """(name, type, comment) of each column of a table or view (of the main schema unless named), in order."""
    return [(str(n), str(t), c) for n, t, c in con.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() WHERE schema_name = ? "
        "AND database_name = coalesce(?, current_database()) AND table_name = ? ORDER BY column_index",
        [schema, database, relation]).fetchall()]


def every_relation(con: duckdb.DuckDBPyConnection, database: str, views: bool = True) -> list[tuple[str, str]]:
    """(schema, name) of every table (and view) of a database, whatever its schema (the search index's too)."""
    found = "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = $db"
    if views:
        found += (" UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
                  "WHERE database_name = $db AND NOT internal")
    return [(str(s), str(n)) for s, n in con.execute(found, {"db": database}).fetchall()]


def has_table(con: duckdb.DuckDBPyConnection, name: str, database: str | None = None) -> bool:
    return bool(scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
                            "AND database_name = coalesce(?, current_database()) AND table_name = ?", [database, name]))


def has_view(con: duckdb.DuckDBPyConnection, name: str, database: str | None = None) -> bool:
    return bool(scalar(con, "SELECT count(*) FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' "
                            "AND database_name = coalesce(?, current_database()) AND view_name = ?", [database, name]))


def has_database(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(scalar(con, "SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [name]))
