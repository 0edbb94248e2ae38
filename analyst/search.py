"""`esf search`: ranked full-text search (BM25, Swedish stemming) over project titles and sections."""
from __future__ import annotations

import re
import duckdb

from load.search import FTS_SCHEMA, STEMMER, TABLE

COLUMNS = ["project_id", "title", "region", "period", "area", "score", "snippet"]
SNIPPET_WORDS = 12  # words either side of the first match
WORD = re.compile(r"[0-9A-Za-zÅÄÖåäöÉéÜüÆæØø]+")

# BM25 as the fts extension's match_bm25 macro computes it (k = 1.2, b = 0.75, log10), but set-based: the macro
# scores one document per call, which took 2-3 s at 100,000 projects; this scores only the matching postings.
SEARCH = f"""
WITH tokens AS (SELECT DISTINCT stem(unnest({FTS_SCHEMA}.tokenize($q)), '{STEMMER}') AS term),
tf AS (
    SELECT t.docid, t.termid, any_value(d.df) AS df, count(*) AS tf
    FROM {FTS_SCHEMA}.dict d JOIN tokens USING (term) JOIN {FTS_SCHEMA}.terms t USING (termid)
    GROUP BY t.docid, t.termid),
hits AS (
    SELECT docs.name AS project_id,
           sum(log((s.num_docs - tf.df + 0.5) / (tf.df + 0.5) + 1)
               * (tf.tf * (1.2 + 1) / (tf.tf + 1.2 * (1 - 0.75 + 0.75 * docs.len / s.avgdl)))) AS score
    FROM tf JOIN {FTS_SCHEMA}.docs docs USING (docid), {FTS_SCHEMA}.stats s
    GROUP BY docs.name),
top AS (
    SELECT p.project_id, p.title, p.region, p.programme_period AS period, p.programme_area_code AS area, h.score
    FROM hits h JOIN projects p USING (project_id)
    WHERE ($period IS NULL OR p.programme_period = $period)
      AND ($region IS NULL OR lower(p.region) = lower($region) OR p.region_code = upper($region))
      AND ($area IS NULL OR p.programme_area_code = upper($area))
    ORDER BY h.score DESC, p.project_id
    LIMIT $limit)
SELECT top.* REPLACE (round(score, 3) AS score), d.body   -- the texts of the hits shown only
FROM top JOIN {TABLE} d USING (project_id)
ORDER BY top.score DESC, top.project_id"""


class NoIndex(LookupError):
    """The published database has no search index (it was published before `esf search` existed)."""


def search(con: duckdb.DuckDBPyConnection, text: str, *, period: str | None = None, region: str | None = None,
           area: str | None = None, limit: int = 20) -> tuple[list[str], list[tuple]]:
    """Projects matching `text`, best first: project, title, region, period, area, BM25 score and a snippet."""
    if not con.execute("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ?", [FTS_SCHEMA]).fetchone()[0]:
        raise NoIndex("the database has no search index yet: the next `esf run` (or `esf reprocess`) builds it")
    rows = con.execute(SEARCH, {"q": text, "period": period, "region": region, "area": area,
                                "limit": limit}).fetchall()
    wanted = set(stems(con, WORD.findall(text)).values())
    found = stems(con, [w for row in rows for w in WORD.findall(row[6])])  # every body word stemmed in one query
    return COLUMNS, [(*row[:6], snippet(row[6], wanted, found)) for row in rows]


def stems(con: duckdb.DuckDBPyConnection, words: list[str]) -> dict[str, str]:
    """Each word (lower-cased) → its stem, as the index stems it."""
    unique = sorted({w.lower() for w in words})
    if not unique:
        return {}
    return dict(con.execute(f"SELECT w, stem(w, '{STEMMER}') FROM unnest($w::VARCHAR[]) t(w)", {"w": unique}).fetchall())


def snippet(body: str, wanted: set[str], stem_of: dict[str, str]) -> str:
    """A one-line excerpt around the first word of `body` that stems like a searched word, marked [thus]."""
    words = list(WORD.finditer(body))
    first = next((i for i, m in enumerate(words) if stem_of.get(m.group().lower()) in wanted), None)
    if first is None:
        return _one_line(body[:160]) + ("…" if len(body) > 160 else "")
    start = words[max(0, first - SNIPPET_WORDS)].start()
    end = words[min(len(words) - 1, first + SNIPPET_WORDS)].end()
    hit = words[first]
    text = f"{body[start:hit.start()]}[{hit.group()}]{body[hit.end():end]}"
    return ("…" if start else "") + _one_line(text) + ("…" if end < len(body) else "")


def _one_line(text: str) -> str:
    return " ".join(text.split())

