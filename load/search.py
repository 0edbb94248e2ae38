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


def has_index(con: duckdb.DuckDBPyConnection, database: str | None = None) -> bool:
    """Whether the database (the current one, or the attached `database`) holds the search index."""
    return bool(con.execute("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ? "
                            "AND database_name = coalesce(?, current_database())", [FTS_SCHEMA, database]).fetchone()[0])


DOCUMENTS = f"""
SELECT p.project_id, p.title, coalesce(s.body, '') AS body, $run AS run_id
FROM projects p
LEFT JOIN (SELECT project_id, string_agg(text, chr(10) || chr(10) ORDER BY section, heading, text) AS body
           FROM project_sections GROUP BY project_id) s USING (project_id)"""

# The index is plain tables (docs, terms, dict, stats); a load that changes a few projects replaces only their
# postings and counts, as the full build would have made them (a test compares the two). At 100,000
# projects a full build takes minutes; a night's 1 % of changed projects, seconds.
UPDATE = """
CREATE OR REPLACE TEMP TABLE esf_old AS SELECT docid FROM {s}.docs WHERE name IN (SELECT project_id FROM esf_changed);
UPDATE {s}.dict SET df = df - r.n
FROM (SELECT termid, count(DISTINCT docid) AS n FROM {s}.terms WHERE docid IN (SELECT docid FROM esf_old) GROUP BY termid) r
WHERE dict.termid = r.termid;
DELETE FROM {s}.terms WHERE docid IN (SELECT docid FROM esf_old);
DELETE FROM {s}.docs WHERE docid IN (SELECT docid FROM esf_old);
CREATE OR REPLACE TEMP TABLE esf_new AS
SELECT (SELECT coalesce(max(docid), -1) FROM {s}.docs) + row_number() OVER (ORDER BY project_id) AS docid,
       project_id, title, body
FROM {t} WHERE project_id IN (SELECT project_id FROM esf_changed);
CREATE OR REPLACE TEMP TABLE esf_words AS
SELECT docid, fieldid, stem(w, '{stemmer}') AS term
FROM (SELECT docid, (SELECT fieldid FROM {s}.fields WHERE field = 'title') AS fieldid, unnest({s}.tokenize(title)) AS w
      FROM esf_new
      UNION ALL
      SELECT docid, (SELECT fieldid FROM {s}.fields WHERE field = 'body'), unnest({s}.tokenize(body)) FROM esf_new)
WHERE w IS NOT NULL AND len(w) > 0 AND w NOT IN (SELECT sw FROM {s}.stopwords);
INSERT INTO {s}.dict (termid, term, df)
SELECT (SELECT coalesce(max(termid), -1) FROM {s}.dict) + row_number() OVER (ORDER BY term), term, 0
FROM (SELECT DISTINCT term FROM esf_words WHERE term NOT IN (SELECT term FROM {s}.dict));
INSERT INTO {s}.terms (docid, fieldid, termid) SELECT w.docid, w.fieldid, d.termid FROM esf_words w JOIN {s}.dict d USING (term);
UPDATE {s}.dict SET df = df + a.n
FROM (SELECT d.termid, count(DISTINCT w.docid) AS n FROM esf_words w JOIN {s}.dict d USING (term) GROUP BY d.termid) a
WHERE dict.termid = a.termid;
DELETE FROM {s}.dict WHERE df = 0;
INSERT INTO {s}.docs (docid, name, len)
SELECT n.docid, n.project_id, count(w.term) FROM esf_new n LEFT JOIN esf_words w USING (docid) GROUP BY ALL;
DELETE FROM {s}.stats;
INSERT INTO {s}.stats SELECT count(docid), sum(len) / count(len) FROM {s}.docs;
DROP TABLE esf_old; DROP TABLE esf_new; DROP TABLE esf_words; DROP TABLE esf_changed;
"""


def refresh_search(con: duckdb.DuckDBPyConnection, run_id: int, changed: list[str] | None = None) -> None:
    """Bring the search documents and index up to date inside the caller's transaction: for the `changed`
    projects only, where an index exists; else (no index yet, or `changed` None) rebuilt whole."""
    if changed is None or not has_index(con):
        con.execute(f"DELETE FROM {TABLE}")
        con.execute(f"INSERT INTO {TABLE} (project_id, title, body, run_id) {DOCUMENTS}", {"run": run_id})
        build_index(con)
        return
    if not changed:
        return
    load_fts(con)
    con.execute("CREATE OR REPLACE TEMP TABLE esf_changed AS SELECT unnest($ids::VARCHAR[]) AS project_id", {"ids": changed})
    con.execute(f"DELETE FROM {TABLE} WHERE project_id IN (SELECT project_id FROM esf_changed)")
    con.execute(f"INSERT INTO {TABLE} (project_id, title, body, run_id) {DOCUMENTS} "
                "WHERE p.project_id IN (SELECT project_id FROM esf_changed)", {"run": run_id})
    con.execute(UPDATE.format(s=FTS_SCHEMA, t=TABLE, stemmer=STEMMER))


def copy_index(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Fill this database's (empty, just built) index with the index of the attached database `source`."""
    for table in ("docs", "terms", "dict", "stats"):
        con.execute(f"DELETE FROM {FTS_SCHEMA}.{table}")
        con.execute(f"INSERT INTO {FTS_SCHEMA}.{table} SELECT * FROM {source}.{FTS_SCHEMA}.{table}")


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
