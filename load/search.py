"""The full-text index behind `esf search`: BM25 over each project's title and sections, in DuckDB's fts extension's
tables. Built by the loader in the run's own file, so the published file carries it read-only.

Terms are words with their Swedish inflection endings taken off (`normalize`, with the endings of
data/reference/suffixes_sv.csv), so `arbetsmarknad`, `arbetsmarknaden` and `arbetsmarknadens` are one term: Snowball's
Swedish stemmer, which the fts extension offers, made `arbetsmarknad` → `arbetsmarkn` but `arbetsmarknaden` →
`arbetsmarknad`, and left `språket` whole. The index keeps every word it has seen with its term (`words`, for prefix
queries and phrases) and the endings it was built with (`format`), so a query is normalized as its index was."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb

from load.sql import every_relation, literal, scalar
from records.data import data_dir
from records.errors import EsfError

TABLE = "search_documents"
FTS_SCHEMA = f"fts_main_{TABLE}"
# 3: terms by the suffix table, each posting with its word's position (2: without positions; 1: Snowball's stems);
# an index of another format is rebuilt by the next load.
INDEX_FORMAT = 3
MIN_STEM = 3     # an ending is taken off only where at least this many letters stay
ROUNDS = 8       # endings taken off one after another, at most (kompetensens → kompetensen → kompetens → kompeten → kompet)
# Lower-cased, accents kept (å, ä, ö are letters of their own); anything else separates words.
IGNORE = r"(\.|[^a-z0-9åäöéüæø])+"
DICTIONARY = Path(__file__).resolve().parent / "dictionary.csv"


class SearchUnavailable(EsfError):
    """The fts extension cannot be loaded here (its wheel is missing, or built for another DuckDB)."""


@dataclass(frozen=True)
class Terms:
    """How words become index terms: the inflection endings, longest first, and the two limits."""
    suffixes: tuple[str, ...]
    min_stem: int = MIN_STEM
    rounds: int = ROUNDS

    def term(self, word: str) -> str:
        """`word` (lower-case) without its inflection endings: the longest ending that leaves `min_stem` letters,
        then again on what is left, at most `rounds` times, so a base form and its inflected forms meet."""
        for _ in range(self.rounds):
            cut = next((s for s in self.suffixes if word.endswith(s) and len(word) - len(s) >= self.min_stem), None)
            if cut is None:
                break
            word = word[:-len(cut)]
        return word


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
    con.execute(f"LOAD {literal(extension_path())}")


def index_format(con: duckdb.DuckDBPyConnection, database: str | None = None) -> int | None:
    """The format of the database's search index (None: no index; 1: an index from before the format table)."""
    tables = {name for schema, name in every_relation(con, database or str(scalar(con, "SELECT current_database()")))
              if schema == FTS_SCHEMA}
    if not tables:
        return None
    if "format" not in tables:
        return 1
    prefix = f"{database}." if database else ""
    return int(scalar(con, f"SELECT max(format) FROM {prefix}{FTS_SCHEMA}.format"))


def has_index(con: duckdb.DuckDBPyConnection, database: str | None = None) -> bool:
    """Whether the database (the current one, or the attached `database`) holds a search index of this format
    (a load rebuilds one of an older format whole)."""
    return index_format(con, database) == INDEX_FORMAT


def index_terms(con: duckdb.DuckDBPyConnection) -> Terms:
    """The endings and limits the database's index was built with (queries must make terms the same way)."""
    row = con.execute(f"SELECT suffixes, min_stem, rounds FROM {FTS_SCHEMA}.format").fetchone()
    if row is None:
        raise LookupError("the search index has no format row")
    suffixes, min_stem, rounds = row
    return Terms(tuple(suffixes), min_stem, rounds)


DOCUMENTS = f"""
SELECT p.project_id, p.title, coalesce(s.body, '') AS body, $run AS run_id
FROM projects p
LEFT JOIN (SELECT project_id, string_agg(text, chr(10) || chr(10) ORDER BY section, heading, text) AS body
           FROM project_sections GROUP BY project_id) s USING (project_id)"""

# The index is plain tables (docs, terms, dict, stats, words); a load replaces only the changed projects' postings
# and counts, and the full build is the same steps over every project (a test compares an update with a rebuild).
# First the changed documents' words, left in esf_tokens; `_add_words` gives the new ones their terms; then:
TOKENS = """
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
CREATE OR REPLACE TEMP TABLE esf_tokens AS
SELECT docid, fieldid, w, pos
FROM (SELECT docid, fieldid, unnest(ws) AS w, generate_subscripts(ws, 1) AS pos
      FROM (SELECT docid, (SELECT fieldid FROM {s}.fields WHERE field = 'title') AS fieldid, {s}.tokenize(title) AS ws
            FROM esf_new
            UNION ALL
            SELECT docid, (SELECT fieldid FROM {s}.fields WHERE field = 'body'), {s}.tokenize(body) FROM esf_new))
WHERE w IS NOT NULL AND len(w) > 0 AND w NOT IN (SELECT sw FROM {s}.stopwords);
"""
POSTINGS = """
CREATE OR REPLACE TEMP TABLE esf_words AS
SELECT t.docid, t.fieldid, x.term, t.pos FROM esf_tokens t JOIN {s}.words x ON x.word = t.w;
INSERT INTO {s}.dict (termid, term, df)
SELECT (SELECT coalesce(max(termid), -1) FROM {s}.dict) + row_number() OVER (ORDER BY term), term, 0
FROM (SELECT DISTINCT term FROM esf_words WHERE term NOT IN (SELECT term FROM {s}.dict));
INSERT INTO {s}.terms (docid, fieldid, termid, pos)
SELECT w.docid, w.fieldid, d.termid, w.pos FROM esf_words w JOIN {s}.dict d USING (term);
UPDATE {s}.dict SET df = df + a.n
FROM (SELECT d.termid, count(DISTINCT w.docid) AS n FROM esf_words w JOIN {s}.dict d USING (term) GROUP BY d.termid) a
WHERE dict.termid = a.termid;
DELETE FROM {s}.dict WHERE df = 0;
DELETE FROM {s}.words WHERE term NOT IN (SELECT term FROM {s}.dict);
INSERT INTO {s}.docs (docid, name, len)
SELECT n.docid, n.project_id, count(w.term) FROM esf_new n LEFT JOIN esf_words w USING (docid) GROUP BY ALL;
DELETE FROM {s}.stats;
INSERT INTO {s}.stats SELECT count(docid), sum(len) / count(len) FROM {s}.docs;
DROP TABLE esf_old; DROP TABLE esf_new; DROP TABLE esf_tokens; DROP TABLE esf_words; DROP TABLE esf_changed;
"""


def refresh_search(con: duckdb.DuckDBPyConnection, run_id: int, changed: list[str] | None = None) -> None:
    """Bring the search documents and index up to date inside the caller's transaction: for the `changed`
    projects only, where an index of this format exists; else (none, an older format, or `changed` None) whole."""
    if changed is None or not has_index(con):
        con.execute(f"DELETE FROM {TABLE}")
        build_index(con)  # on no rows: the schema, macros and tables, filled below like any update
        con.execute(f"INSERT INTO {TABLE} (project_id, title, body, run_id) {DOCUMENTS}", {"run": run_id})
        con.execute(f"CREATE OR REPLACE TEMP TABLE esf_changed AS SELECT project_id FROM {TABLE}")
        _update(con)
        return
    if not changed:
        return
    load_fts(con)
    con.execute("CREATE OR REPLACE TEMP TABLE esf_changed AS SELECT unnest($ids::VARCHAR[]) AS project_id", {"ids": changed})
    con.execute(f"DELETE FROM {TABLE} WHERE project_id IN (SELECT project_id FROM esf_changed)")
    con.execute(f"INSERT INTO {TABLE} (project_id, title, body, run_id) {DOCUMENTS} "
                "WHERE p.project_id IN (SELECT project_id FROM esf_changed)", {"run": run_id})
    _update(con)


def _update(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the postings of the documents named in esf_changed."""
    con.execute(TOKENS.format(s=FTS_SCHEMA, t=TABLE))
    _add_words(con)
    con.execute(POSTINGS.format(s=FTS_SCHEMA))


def _add_words(con: duckdb.DuckDBPyConnection) -> None:
    """Words of esf_tokens the index has not seen, with their terms, into its `words` table."""
    terms = index_terms(con)
    new = [w for (w,) in con.execute(f"SELECT DISTINCT w FROM esf_tokens "
                                     f"WHERE w NOT IN (SELECT word FROM {FTS_SCHEMA}.words)").fetchall()]
    if new:
        con.execute(f"INSERT INTO {FTS_SCHEMA}.words SELECT unnest($w::VARCHAR[]), unnest($t::VARCHAR[])",
                    {"w": new, "t": [terms.term(w) for w in new]})


def copy_index(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Fill this database's (empty, just built) index with the index of the attached database `source`."""
    for table in ("docs", "terms", "dict", "stats", "words", "format"):
        con.execute(f"DELETE FROM {FTS_SCHEMA}.{table}")
        con.execute(f"INSERT INTO {FTS_SCHEMA}.{table} SELECT * FROM {source}.{FTS_SCHEMA}.{table}")


def build_index(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the index's tables and macros (fts's tokenizer and BM25 macro, no stemmer: terms are made by
    `Terms`), with the Swedish stop words, the words table, the format and endings, and the comments."""
    load_fts(con)
    con.execute("CREATE OR REPLACE TEMP TABLE esf_stopwords AS SELECT unnest($words)::VARCHAR AS sw",
                {"words": stopwords()})
    con.execute(f"PRAGMA create_fts_index('{TABLE}', 'project_id', 'title', 'body', stemmer = 'none', "
                f"stopwords = 'esf_stopwords', strip_accents = 0, lower = 1, ignore = '{IGNORE}', overwrite = 1)")
    con.execute("DROP TABLE esf_stopwords")
    # a word's place in its field (stop words counted), for phrases: "nyanlända kvinnor" is kvinn one after nyanländ
    con.execute(f"ALTER TABLE {FTS_SCHEMA}.terms ADD COLUMN pos INTEGER")
    con.execute(f"CREATE TABLE {FTS_SCHEMA}.words (word VARCHAR PRIMARY KEY, term VARCHAR NOT NULL)")
    con.execute(f"CREATE TABLE {FTS_SCHEMA}.format (format INTEGER, suffixes VARCHAR[], min_stem INTEGER, rounds INTEGER)")
    terms = Terms(suffixes())
    con.execute(f"INSERT INTO {FTS_SCHEMA}.format VALUES (?, ?, ?, ?)",
                [INDEX_FORMAT, list(terms.suffixes), terms.min_stem, terms.rounds])
    _comment_index(con)


def stopwords() -> list[str]:
    """The Swedish stop words of data/reference/stopwords_sv.txt."""
    lines = (data_dir() / "reference" / "stopwords_sv.txt").read_text(encoding="utf-8").splitlines()
    return sorted({w.strip().lower() for w in lines if w.strip() and not w.startswith("#")})


def suffixes() -> tuple[str, ...]:
    """The Swedish inflection endings of data/reference/suffixes_sv.csv, longest first."""
    with open(data_dir() / "reference" / "suffixes_sv.csv", encoding="utf-8", newline="") as fh:
        endings = {row["suffix"].strip().lower() for row in csv.DictReader(fh) if row["suffix"].strip()}
    return tuple(sorted(endings, key=lambda s: (-len(s), s)))


def _comment_index(con: duckdb.DuckDBPyConnection) -> None:
    """The index's tables are recreated by each build, so their comments (dictionary.csv) are set here."""
    with open(DICTIONARY, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["table"].startswith(FTS_SCHEMA + "."):
                continue
            target = f"COLUMN {row['table']}.{row['column']}" if row["column"] else f"TABLE {row['table']}"
            con.execute(f"COMMENT ON {target} IS {literal(row['comment'])}")
