"""The full-text index behind `esf search`: DuckDB's fts extension (BM25, Swedish stemming) over each project's
title and sections. Built by the loader in the run's own file, so the published file carries it read-only."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import duckdb

TABLE = "search_documents"
FTS_SCHEMA = f"fts_main_{TABLE}"
STEMMER = "swedish"
# Lower-cased, accents kept (the Swedish stemmer needs å, ä, ö); anything else separates words.
IGNORE = r"(\.|[^a-z0-9åäöéüæø])+"
DICTIONARY = Path(__file__).resolve().parent / "dictionary.csv"


class SearchUnavailable(RuntimeError):
    """The fts extension cannot be loaded here (its wheel is missing, or built for another DuckDB)."""


def extension_path() -> Path:
    """The fts extension inside the duckdb-extension-fts wheel, for the DuckDB release installed."""
    try:
        import duckdb_extension_fts
    except ImportError:
        raise SearchUnavailable("the fts extension is not installed: pip install duckdb-extension-fts=="
                                f"{duckdb.__version__}") from None
    path = Path(duckdb_extension_fts.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    if not path.is_file():
        found = sorted(p.parent.name for p in Path(duckdb_extension_fts.__file__).parent.glob("extensions/*/*"))
        raise SearchUnavailable(f"the installed fts extension is for DuckDB {', '.join(found) or '?'}, "
                                f"not {duckdb.__version__}: install duckdb-extension-fts=={duckdb.__version__}")
    return path


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """LOAD the extension by path (never INSTALL: no network is needed or used)."""
    con.execute(f"LOAD '{str(extension_path()).replace(chr(39), chr(39) * 2)}'")


def has_index(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ?", [FTS_SCHEMA]).fetchone()[0])


def refresh_search(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Rebuild the search documents from projects and their sections, then the index (inside the caller's
    transaction)."""
    con.execute(f"DELETE FROM {TABLE}")
    con.execute(f"""INSERT INTO {TABLE} (project_id, title, body, run_id)
                    SELECT p.project_id, p.title, coalesce(s.body, ''), $run
                    FROM projects p
                    LEFT JOIN (SELECT project_id, string_agg(text, chr(10) || chr(10) ORDER BY section, heading, text) AS body
                               FROM project_sections GROUP BY project_id) s USING (project_id)""", {"run": run_id})
    build_index(con)


def build_index(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the BM25 index of search_documents, with the Swedish stemmer and stop words, and its comments."""
    load_fts(con)
    con.execute("CREATE OR REPLACE TEMP TABLE esf_stopwords AS SELECT unnest($words)::VARCHAR AS sw",
                {"words": stopwords()})
    con.execute(f"PRAGMA create_fts_index('{TABLE}', 'project_id', 'title', 'body', stemmer = '{STEMMER}', "
                f"stopwords = 'esf_stopwords', strip_accents = 0, lower = 1, ignore = '{IGNORE}', overwrite = 1)")
    con.execute("DROP TABLE esf_stopwords")
    _comment_index(con)


def stopwords() -> list[str]:
    """The Swedish stop words of data/reference/stopwords_sv.txt."""
    data = Path(os.environ.get("ESF_DATA_DIR") or Path(__file__).resolve().parents[1] / "data")  # as transform/
    lines = (data / "reference" / "stopwords_sv.txt").read_text(encoding="utf-8").splitlines()
    return sorted({w.strip().lower() for w in lines if w.strip() and not w.startswith("#")})


def _comment_index(con: duckdb.DuckDBPyConnection) -> None:
    """The index's tables are recreated by each build, so their comments (dictionary.csv) are set here."""
    with open(DICTIONARY, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["table"].startswith(FTS_SCHEMA + "."):
                continue
            text = row["comment"].replace("'", "''")
            target = f"COLUMN {row['table']}.{row['column']}" if row["column"] else f"TABLE {row['table']}"
            con.execute(f"COMMENT ON {target} IS '{text}'")
