"""The published database opened for analysts: read-only, no file access, settings locked, one read statement.

Three layers, each enough for the common cases and together closing the rest:
DuckDB opens the file read-only (no INSERT, UPDATE, DELETE, CREATE, DROP on it); external access is off and the
configuration locked, so no statement can attach another database, read or write a file, load an extension or
turn any of that back on; and `read_statement` lets through only one statement of a read form (checked with
DuckDB's own parser), without the few table functions that change state.
"""
from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable

import duckdb

from load.sql import literal, scalar
from records.errors import UsageError

READ_FORMS = "SELECT, WITH, FROM, VALUES, TABLE, DESCRIBE, SHOW, SUMMARIZE, PIVOT … IN (…), EXPLAIN"
# Functions a SELECT may call that change state or write (logging and profiling to files, checkpoints), run SQL
# hidden in a string (query), or reach into the Python process (the scans of Python objects).
STATEFUL_FUNCTIONS = frozenset({
    "checkpoint", "force_checkpoint", "enable_logging", "disable_logging", "truncate_duckdb_logs", "write_log",
    "enable_profiling", "disable_profiling", "query", "json_execute_serialized_sql",
    "arrow_scan", "arrow_scan_dumb", "pandas_scan", "python_map_function",
})


class Refused(UsageError, ValueError):
    """A statement `esf query` will not run; the message says why, in one line."""


def open_published(db: str | os.PathLike, file_dirs: Iterable[str | os.PathLike] = (),
                   extensions: Iterable[str | os.PathLike] = ()) -> duckdb.DuckDBPyConnection:
    """`db` opened read-only, files out of reach except under `file_dirs`, nothing spilled to disk, settings locked;
    `extensions` (files) are loaded before the lock, as nothing can load one after it."""
    con = duckdb.connect(str(db), read_only=True, config={
        "temp_directory": "", "autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        for path in extensions:
            con.execute(f"LOAD {literal(os.fspath(path))}")
        dirs = [os.path.join(os.path.abspath(d), "") for d in file_dirs]
        if dirs:
            con.execute("SET allowed_directories = $1", [dirs])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    """Column names and rows of the one read statement in `sql`; Refused for anything else."""
    statement = read_statement(con, sql)
    try:
        cur = con.execute(statement)
        columns = [d[0] for d in cur.description] if cur.description else []
        return columns, cur.fetchall() if columns else []
    except duckdb.PermissionException as exc:
        raise Refused(f"{first_line(exc)} (--allow-files DIR lets a query read files under DIR)") from None
    except duckdb.Error as exc:
        if "read-only" in first_line(exc) or "read only" in first_line(exc):
            raise Refused(f"the database is opened read-only for queries ({first_line(exc)})") from None
        raise


def read_statement(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The text of the one statement in `sql` if it only reads; Refused otherwise (parser errors pass through)."""
    statements = duckdb.extract_statements(sql)
    if not statements:
        raise Refused("no SQL statement given")
    if any(not s.query for s in statements):  # DuckDB added a statement: a PIVOT without IN creates a type
        raise Refused("this PIVOT would first create a type; name the values: PIVOT t ON col IN ('a', 'b')")
    if len(statements) > 1:
        raise Refused(f"one statement at a time ({len(statements)} given)")
    _check(con, statements[0])
    return statements[0].query


def _check(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> None:
    if statement.type == duckdb.StatementType.EXPLAIN:  # EXPLAIN ANALYZE runs what it explains
        return _check(con, _explained(statement.query))
    if statement.type != duckdb.StatementType.SELECT:
        raise Refused(f"{_kind(statement)} is not a read query; esf query runs one of: {READ_FORMS}")
    stateful = sorted(_function_names(con, statement.query) & STATEFUL_FUNCTIONS)
    if stateful:
        raise Refused(f"{stateful[0]}() is not for read queries")


def _explained(sql: str) -> duckdb.Statement:
    """The statement an EXPLAIN [ANALYZE | (options)] statement explains."""
    starts = [start for start, _ in duckdb.tokenize(sql)]
    words = [sql[a:b].strip().upper() for a, b in zip(starts, starts[1:] + [len(sql)])]
    i = 1
    if i < len(words) and words[i] in ("ANALYZE", "ANALYSE"):
        i += 1
    elif i < len(words) and words[i] == "(":
        i = words.index(")", i) + 1 if ")" in words[i:] else len(words)
    inner = duckdb.extract_statements(sql[starts[i]:]) if i < len(starts) else []
    if len(inner) != 1:
        raise Refused("write EXPLAIN with the query it explains: EXPLAIN SELECT …")
    return inner[0]


def _function_names(con: duckdb.DuckDBPyConnection, sql: str) -> set[str]:
    """Every function a SELECT names, from DuckDB's own parse tree."""
    tree = json.loads(scalar(con, "SELECT json_serialize_sql($1)", [sql]))
    if tree.get("error"):
        raise Refused(f"cannot check this query: {tree.get('error_message', 'unknown error')}")
    return _names(tree)


def _names(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["function_name"].lower()} if isinstance(node.get("function_name"), str) else set()
        return found.union(*(_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_names(v) for v in node))
    return set()


def _kind(statement: duckdb.Statement) -> str:
    """What a statement does, as its first keyword says (INSTALL, PRAGMA) or, after a WITH, its type."""
    tokens = duckdb.tokenize(statement.query)
    word = statement.query[tokens[0][0]:].split(None, 1)[0].upper() if tokens else "this statement"
    return statement.type.name if word == "WITH" else word


def first_line(exc: BaseException) -> str:
    """An error's first line (DuckDB adds hints and a caret on later lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def error_lines(exc: BaseException) -> list[str]:
    """Every line of a DuckDB error, for the terminal: its message, then its hints (`Did you mean "projects"?`,
    candidate columns and functions) and the LINE with its caret; blank lines dropped, tabs as two spaces, control
    characters escaped (a query's text may hold them)."""
    from analyst.formats import escape_control
    lines = [line.replace("\t", "  ").rstrip() for line in str(exc).splitlines()]
    return [escape_control(line) for line in lines if line.strip()] or [type(exc).__name__]


def close_names(name: str, names: Iterable[str], limit: int = 3) -> list[str]:
    """The names most like `name` (difflib), closest first: a misspelt table or view, or one singular for plural."""
    names = list(names)
    by_case = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(by_case), n=limit, cutoff=0.6)
    starting = [n for n in by_case if n.startswith(name.lower()) and n not in close] if len(name) >= 3 else []
    return [by_case[n] for n in (close + starting)[:limit]]
