"""The full-text index behind `esf search`: BM25 over each project's title and sections, and the English summaries
of the official lists' rows linked to it, in DuckDB's fts extension's tables. Built by the loader in the run's own
file, so the published file carries it read-only.

Terms are words with their inflection endings taken off (load/search_terms.py: Swedish endings for the pages,
English ones for the summaries), so `arbetsmarknad`, `arbetsmarknaden` and `arbetsmarknadens` are one term, as are
`trained` and `training`: Snowball's Swedish stemmer, which the fts extension offers, made `arbetsmarknad` →
`arbetsmarkn` but `arbetsmarknaden` → `arbetsmarknad`, and left `språket` whole. The index keeps every word it has
seen with its term (`words`, for prefix queries and phrases) and the endings it was built with (`format`), so a
query is normalized as its index was.

A list row that no project page links to is not indexed: a hit is a project (its page's region, period, area and
text), and such a row has none; `list_coverage` counts them and the next load that links a page indexes its summary."""
from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from load.links import LISTS
from load.search_terms import ENGLISH, LANGUAGES, MARK, SWEDISH, reference_terms
from load.search_terms import Terms as Terms, stopwords as stopwords, suffixes as suffixes  # also read from here
from load.sql import every_relation, literal, scalar
from records.errors import EsfError

TABLE = "search_documents"
FTS_SCHEMA = f"fts_main_{TABLE}"
# 4: English summaries in a field of their own, terms by language (3: Swedish only, terms by the suffix table, each
# posting with its word's position; 2: without positions; 1: Snowball's stems); another format is rebuilt by a load.
INDEX_FORMAT = 4
FIELDS = {"title": SWEDISH, "body": SWEDISH, "english": ENGLISH}  # search_documents' indexed columns, their language
# Lower-cased, accents kept (å, ä, ö are letters of their own); anything else separates words.
IGNORE = r"(\.|[^a-z0-9åäöéüæø])+"
DICTIONARY = Path(__file__).resolve().parent / "dictionary.csv"


class SearchUnavailable(EsfError):
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


def index_terms(con: duckdb.DuckDBPyConnection, lang: str = SWEDISH) -> Terms:
    """The endings and limits the database's index made `lang`'s terms with (queries must make terms the same way)."""
    row = con.execute(f"SELECT suffixes, becomes, min_stem, rounds FROM {FTS_SCHEMA}.format WHERE lang = ?",
                      [lang]).fetchone()
    if row is None:
        raise LookupError(f"the search index has no format row for {lang}")
    suffixes, becomes, min_stem, rounds = row
    return Terms(tuple(suffixes), min_stem, rounds, tuple(becomes))


# Each project's English texts: the English name and summary of every list row linked to it (the list of operations
# first, then Kohesio; a text both give, once), joined by blank lines; NULL where none has any.
# (Only linked rows are unnested: a list's rows without a page have texts no document takes.)
_ROWS = " UNION ALL ".join(
    f"SELECT '{source}' AS source, {n} AS list_order, source_key, external_id, occurrence, "
    f"unnest([name_en, summary_en]) AS text, unnest([1, 2]) AS part FROM {table} "
    f"SEMI JOIN (SELECT * FROM project_links WHERE source = '{source}') USING (source_key, external_id, occurrence)"
    for n, (source, table) in enumerate(LISTS.items()))
ENGLISH_TEXTS = f"""
SELECT project_id, string_agg(text, chr(10) || chr(10) ORDER BY first) AS english
FROM (SELECT project_id, text, min(place) AS first
      FROM (SELECT l.project_id, trim(r.text) AS text,
                   row_number() OVER (PARTITION BY l.project_id ORDER BY r.list_order, NOT l.is_primary,
                                      l.source_key, l.row_number, r.part) AS place
            FROM project_links l JOIN ({_ROWS}) r USING (source, source_key, external_id, occurrence)
            WHERE nullif(trim(r.text), '') IS NOT NULL)
      GROUP BY project_id, text)
GROUP BY project_id"""
DOCUMENTS = f"""
SELECT p.project_id, p.title, coalesce(s.body, '') AS body, e.english, $run AS run_id
FROM projects p
LEFT JOIN (SELECT project_id, string_agg(text, chr(10) || chr(10) ORDER BY section, heading, text) AS body
           FROM project_sections GROUP BY project_id) s USING (project_id)
LEFT JOIN ({ENGLISH_TEXTS}) e USING (project_id)"""
# The projects whose English texts are not those indexed: a list loaded, changed or removed, or a link made or lost.
ENGLISH_CHANGED = f"""
SELECT d.project_id FROM {TABLE} d LEFT JOIN ({ENGLISH_TEXTS}) e USING (project_id)
WHERE d.english IS DISTINCT FROM e.english ORDER BY 1"""
_FIELD_TOKENS = """
            SELECT docid, (SELECT fieldid FROM {{s}}.fields WHERE field = '{field}') AS fieldid, '{lang}' AS lang,
                   {{s}}.tokenize({field}) AS ws FROM esf_new"""
_ALL_FIELDS = "\n            UNION ALL".join(_FIELD_TOKENS.format(field=f, lang=lang) for f, lang in FIELDS.items())

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
       project_id, title, body, english
FROM {t} WHERE project_id IN (SELECT project_id FROM esf_changed);
CREATE OR REPLACE TEMP TABLE esf_tokens AS
SELECT t.docid, t.fieldid, t.lang, t.w, t.pos
FROM (SELECT docid, fieldid, lang, unnest(ws) AS w, generate_subscripts(ws, 1) AS pos
      FROM (""" + _ALL_FIELDS + """)) t
ANTI JOIN {s}.stopwords x ON x.sw = t.w AND x.lang = t.lang
WHERE t.w IS NOT NULL AND len(t.w) > 0;
"""
POSTINGS = """
CREATE OR REPLACE TEMP TABLE esf_words AS
SELECT t.docid, t.fieldid, x.term, t.pos FROM esf_tokens t JOIN {s}.words x ON x.word = t.w AND x.lang = t.lang;
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
    projects and those whose English texts changed (lists change apart from pages), where an index of this format
    exists; else (none, an older format, or `changed` None) whole."""
    if changed is None or not has_index(con):
        con.execute(f"DELETE FROM {TABLE}")
        build_index(con)  # on no rows: the schema, macros and tables, filled below like any update
        con.execute(f"INSERT INTO {TABLE} (project_id, title, body, english, run_id) {DOCUMENTS}", {"run": run_id})
        con.execute(f"CREATE OR REPLACE TEMP TABLE esf_changed AS SELECT project_id FROM {TABLE}")
        _update(con)
        return
    changed = sorted(set(changed) | {p for (p,) in con.execute(ENGLISH_CHANGED).fetchall()})
    if not changed:
        return
    load_fts(con)
    con.execute("CREATE OR REPLACE TEMP TABLE esf_changed AS SELECT unnest($ids::VARCHAR[]) AS project_id", {"ids": changed})
    con.execute(f"DELETE FROM {TABLE} WHERE project_id IN (SELECT project_id FROM esf_changed)")
    con.execute(f"INSERT INTO {TABLE} (project_id, title, body, english, run_id) {DOCUMENTS} "
                "WHERE p.project_id IN (SELECT project_id FROM esf_changed)", {"run": run_id})
    _update(con)


def _update(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the postings of the documents named in esf_changed."""
    con.execute(TOKENS.format(s=FTS_SCHEMA, t=TABLE))
    _add_words(con)
    con.execute(POSTINGS.format(s=FTS_SCHEMA))


def _add_words(con: duckdb.DuckDBPyConnection) -> None:
    """Words of esf_tokens the index has not seen in their language, with their terms, into its `words` table."""
    for lang in LANGUAGES:
        terms = index_terms(con, lang)
        new = [w for (w,) in con.execute(f"SELECT DISTINCT t.w FROM esf_tokens t ANTI JOIN {FTS_SCHEMA}.words x "
                                         "ON x.word = t.w AND x.lang = t.lang WHERE t.lang = ?", [lang]).fetchall()]
        if new:
            con.execute(f"INSERT INTO {FTS_SCHEMA}.words SELECT $lang, unnest($w::VARCHAR[]), unnest($t::VARCHAR[])",
                        {"lang": lang, "w": new, "t": [MARK[lang] + terms.term(w) for w in new]})


def copy_index(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Fill this database's (empty, just built) index with the index of the attached database `source`."""
    for table in ("docs", "terms", "dict", "stats", "words", "format"):
        con.execute(f"DELETE FROM {FTS_SCHEMA}.{table}")
        con.execute(f"INSERT INTO {FTS_SCHEMA}.{table} SELECT * FROM {source}.{FTS_SCHEMA}.{table}")


def build_index(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the index's tables and macros (fts's tokenizer and BM25 macro, no stemmer: terms are made by
    `Terms`), with each language's stop words, the words table, the format and endings, and the comments."""
    load_fts(con)
    con.execute("CREATE OR REPLACE TEMP TABLE esf_stopwords AS SELECT unnest($words)::VARCHAR AS sw",
                {"words": stopwords(SWEDISH)})
    fields = ", ".join(f"'{f}'" for f in FIELDS)
    con.execute(f"PRAGMA create_fts_index('{TABLE}', 'project_id', {fields}, stemmer = 'none', "
                f"stopwords = 'esf_stopwords', strip_accents = 0, lower = 1, ignore = '{IGNORE}', overwrite = 1)")
    con.execute("DROP TABLE esf_stopwords")
    con.execute(f"ALTER TABLE {FTS_SCHEMA}.stopwords ADD COLUMN lang VARCHAR DEFAULT '{SWEDISH}'")
    con.execute(f"INSERT INTO {FTS_SCHEMA}.stopwords SELECT unnest($words), $lang",
                {"words": stopwords(ENGLISH), "lang": ENGLISH})
    # a word's place in its field (stop words counted), for phrases: "nyanlända kvinnor" is kvinn one after nyanländ
    con.execute(f"ALTER TABLE {FTS_SCHEMA}.terms ADD COLUMN pos INTEGER")
    con.execute(f"CREATE TABLE {FTS_SCHEMA}.words (lang VARCHAR, word VARCHAR, term VARCHAR NOT NULL, "
                "PRIMARY KEY (lang, word))")
    con.execute(f"CREATE TABLE {FTS_SCHEMA}.format (format INTEGER, lang VARCHAR, suffixes VARCHAR[], "
                "becomes VARCHAR[], min_stem INTEGER, rounds INTEGER)")
    for lang in LANGUAGES:
        terms = reference_terms(lang)
        con.execute(f"INSERT INTO {FTS_SCHEMA}.format VALUES (?, ?, ?, ?, ?, ?)",
                    [INDEX_FORMAT, lang, list(terms.suffixes), list(terms.becomes), terms.min_stem, terms.rounds])
    _comment_index(con)


def _comment_index(con: duckdb.DuckDBPyConnection) -> None:
    """The index's tables are recreated by each build, so their comments (dictionary.csv) are set here."""
    with open(DICTIONARY, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["table"].startswith(FTS_SCHEMA + "."):
                continue
            target = f"COLUMN {row['table']}.{row['column']}" if row["column"] else f"TABLE {row['table']}"
            con.execute(f"COMMENT ON {target} IS {literal(row['comment'])}")
