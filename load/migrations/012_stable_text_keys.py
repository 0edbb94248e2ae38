"""A project without a case number or a canonical URL (a template A text page) was keyed by title + owner + start
date, so an owner that went missing made another project of it. Its key is now made of title + start date + region
code; the projects keyed the old way are re-keyed here, so they keep their history (first_seen, versions) instead
of being marked gone and loaded anew.

What it cannot keep: a project's record hash includes its key, so the next load records one new version of each
re-keyed project (same values, new key). Two old keys that would become one (same title, start date and region,
different owners), or a new key already taken, are left as they are: the next load decides them as it would have.
`rejects` and `warnings` keep what they said.

Frozen: the key rule is this migration's own copy of transform.record.project_key and transform.reference.fold as
they stood then, so an old file upgrades the same way whatever later releases do to them."""
from __future__ import annotations

import hashlib
import re
import unicodedata

import duckdb
import pandas as pd

TABLES = ("projects", "project_versions", "project_organisations", "project_municipalities", "project_sections",
          "project_field_problems", "search_documents")
FTS_DOCS = "fts_main_search_documents.docs"  # the search index names each document by its project_id
_SEPARATORS = re.compile(r"[-–—_/]")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold().replace("&", " och ")
    return " ".join(_SEPARATORS.sub(" ", text).split())


def text_key(title: str | None, start_date: object, region_code: str | None) -> str:
    basis = "|".join(_fold(str(v or "")) for v in (title, start_date, region_code))
    return "k-" + hashlib.sha256(basis.encode()).hexdigest()[:16]


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = ? AND table_name = ?", [schema, table]).fetchone()[0])


def upgrade(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("SELECT project_id, title, start_date, region_code FROM projects "
                       "WHERE project_id LIKE 'k-%'").fetchall()
    taken = {pid for (pid,) in con.execute("SELECT project_id FROM projects WHERE project_id NOT LIKE 'k-%'").fetchall()}
    wanted: dict[str, list[str]] = {}
    for old, title, start, region_code in rows:
        wanted.setdefault(text_key(title, start, region_code), []).append(old)
    renamed = {olds[0]: new for new, olds in wanted.items() if len(olds) == 1 and new not in taken and olds[0] != new}
    unchanged = {old for old, _, _, _ in rows} - set(renamed)
    renamed = {old: new for old, new in renamed.items() if new not in unchanged}
    if not renamed:
        return
    con.register("rekey_df", pd.DataFrame({"old": list(renamed), "new": list(renamed.values())}))
    try:
        for table in TABLES:
            if _exists(con, "main", table):
                con.execute(f"UPDATE {table} SET project_id = k.new FROM rekey_df k WHERE {table}.project_id = k.old")
        if _exists(con, "fts_main_search_documents", "docs"):
            con.execute(f"UPDATE {FTS_DOCS} SET name = k.new FROM rekey_df k WHERE docs.name = k.old")
    finally:
        con.unregister("rekey_df")
