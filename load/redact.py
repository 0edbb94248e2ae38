"""Personal data withheld in SQL, from the one mark (records/personal.py): a SELECT of any table or view that
leaves it out. Publishing without contacts copies every table through it; `esf export --without-contacts` writes
every table and view through it. Nothing here writes: each function returns SQL text for the caller to run."""
from __future__ import annotations

import duckdb

from load import sql

from load.sql import literal
from records.personal import (EMAIL_LIKE, MIN_QUOTED, PERSONAL_COLUMNS, PHONE_LIKE, PROBLEM_TEXT_COLUMNS, WITHHELD,
                              WITHHELD_PROBLEM, personal_field_pattern)

KEYS = ("source_key", "project_id")  # what ties a row to its page and its project
VALUES_CTE = "esf_personal"          # (key, vals): the personal values of each page and project, longest first



def personal_field_sql(column: str = "field") -> str:
    """The SQL test of records.personal.is_personal_field on a column (RE2 reads the same pattern)."""
    return f"coalesce(regexp_matches({column}, {literal(personal_field_pattern())}), false)"


def shapes_sql(expression: str) -> str:
    """SQL: `expression` with every e-mail- or phone-shaped run replaced by WITHHELD."""
    emails = f"regexp_replace({expression}, {literal('(?i)' + EMAIL_LIKE)}, {literal(WITHHELD)}, 'g')"
    return f"regexp_replace({emails}, {literal(PHONE_LIKE)}, {literal(chr(92) + '1' + WITHHELD)}, 'g')"

def columns(con: duckdb.DuckDBPyConnection, database: str, relation: str) -> list[tuple[str, str]]:
    """(name, SQL type) of a table's or view's columns, in order."""
    return [(name, kind) for name, kind, _ in sql.columns(con, relation, database)]


def _tables(con: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    return [r.name for r in sql.relations(con, database) if r.kind == "table"]


def _is_problem_relation(names: set[str]) -> bool:
    return "field" in names and bool(names & set(PROBLEM_TEXT_COLUMNS))


def personal_values_sql(con: duckdb.DuckDBPyConnection, database: str) -> str:
    """A query of (key, vals): per page (source_key) and per project (project_id), every personal value the
    database holds — the columns marked personal, and the value a problem about a personal field quoted (an
    unreadable address as the page wrote it) — longest first."""
    parts = []
    for table in _tables(con, database):
        names = {n for n, _ in columns(con, database, table)}
        keys = [k for k in KEYS if k in names]
        source = f'"{database}".main."{table}"'
        for key in keys:
            for column in (c for c in PERSONAL_COLUMNS if c in names):
                parts.append(f"SELECT {key} AS key, {column}::VARCHAR AS value FROM {source} "
                             f"WHERE {column} IS NOT NULL")
            if _is_problem_relation(names) and "value" in names:
                parts.append(f"SELECT {key} AS key, value FROM {source} WHERE {personal_field_sql('field')} "
                             "AND value IS NOT NULL")
    if not parts:
        return "SELECT NULL::VARCHAR AS key, []::VARCHAR[] AS vals WHERE false"
    union = "\n  UNION ALL ".join(parts)
    return (f"SELECT key, list(value ORDER BY length(value) DESC, value) AS vals\n"
            f"FROM (SELECT DISTINCT key, trim(value) AS value FROM ({union})\n"
            f"      WHERE key IS NOT NULL AND length(trim(value)) >= {MIN_QUOTED}) GROUP BY key")


def redacted_select(con: duckdb.DuckDBPyConnection, database: str, relation: str,
                    leave_out: tuple[str, ...] = (), values_table: str | None = None) -> str:
    """SELECT every column of `database`.main.`relation` (but `leave_out`) with personal data withheld:
    a personal column NULL (same type); in a problem table or view, a problem about a personal field with its
    text withheld, any other problem text (and a field that is an unknown label as written) with its page's and
    project's personal values and anything shaped like an address or phone number replaced. `values_table`: a
    table made of `personal_values_sql` once for many SELECTs (else each computes its own)."""
    cols = [(n, t) for n, t in columns(con, database, relation) if n not in leave_out]
    names = {n for n, _ in cols}
    source = f'"{database}".main."{relation}"'
    problems = _is_problem_relation(names)
    keys = [k for k in KEYS if k in names] if problems else []
    select = []
    for name, sql_type in cols:
        if name in PERSONAL_COLUMNS:
            select.append(f"NULL::{sql_type} AS {name}")
        elif problems and name == "field":  # a column's name, or an unknown label as the page wrote it
            select.append(f"{_scrubbed('t.field', keys)} AS field")
        elif problems and name in PROBLEM_TEXT_COLUMNS:
            withheld = f"'{WITHHELD_PROBLEM}'" if name == "reason" else "NULL"
            select.append(f"CASE WHEN {personal_field_sql('t.field')} THEN {withheld}::{sql_type} "
                          f"ELSE {_scrubbed(f't.{name}', keys)} END AS {name}")
        else:
            select.append(f"t.{name}")
    joins = "".join(f" LEFT JOIN {values_table or VALUES_CTE} AS pv_{k} ON pv_{k}.key = t.{k}" for k in keys)
    with_values = f"WITH {VALUES_CTE} AS ({personal_values_sql(con, database)}) " if keys and not values_table else ""
    return f"{with_values}SELECT {', '.join(select)} FROM {source} AS t{joins}"


def _scrubbed(expression: str, keys: list[str]) -> str:
    """SQL: `expression` with the personal values joined for its row (by each key) and the shapes replaced."""
    if keys:
        values = " || ".join(f"coalesce(pv_{k}.vals, []::VARCHAR[])" for k in keys)
        expression = (f"list_reduce(list_prepend({expression}::VARCHAR, {values}), "
                      f"lambda acc, v: replace(acc, v, '{WITHHELD}'))")
    return shapes_sql(expression)
