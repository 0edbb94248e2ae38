"""`esf search`: ranked full-text search (BM25, Swedish stemming) over project titles and sections."""
from __future__ import annotations

import re
import duckdb

from load.search import FTS_SCHEMA, STEMMER, TABLE

COLUMNS = ["project_id", "title", "region", "period", "area", "score", "snippet"]
SNIPPET_WORDS = 12  # words either side of the first match
WORD = re.compile(r"[0-9A-Za-zÅÄÖåäöÉéÜüÆæØø]+")

SEARCH = f"""
WITH hits AS (
    SELECT project_id, {FTS_SCHEMA}.match_bm25(project_id, $q) AS score FROM {TABLE}
)
SELECT p.project_id, p.title, p.region, p.programme_period AS period, p.programme_area_code AS area,
       round(h.score, 3) AS score, d.body
FROM hits h
JOIN projects p USING (project_id)
JOIN {TABLE} d USING (project_id)
WHERE h.score IS NOT NULL
  AND ($period IS NULL OR p.programme_period = $period)
  AND ($region IS NULL OR lower(p.region) = lower($region) OR p.region_code = upper($region))
  AND ($area IS NULL OR p.programme_area_code = upper($area))
ORDER BY h.score DESC, p.project_id
LIMIT $limit"""


class NoIndex(LookupError):
    """The published database has no search index (it was published before `esf search` existed)."""


def search(con: duckdb.DuckDBPyConnection, text: str, *, period: str | None = None, region: str | None = None,
           area: str | None = None, limit: int = 20) -> tuple[list[str], list[tuple]]:
    """Projects matching `text`, best first: project, title, region, period, area, BM25 score and a snippet."""
    if not con.execute("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ?", [FTS_SCHEMA]).fetchone()[0]:
        raise NoIndex("the database has no search index yet: the next `esf run` (or `esf reprocess`) builds it")
    rows = con.execute(SEARCH, {"q": text, "period": period, "region": region, "area": area,
                                "limit": limit}).fetchall()
    wanted = stems(con, WORD.findall(text))
    return COLUMNS, [(*row[:6], snippet(con, row[6], wanted)) for row in rows]


def stems(con: duckdb.DuckDBPyConnection, words: list[str]) -> dict[str, str]:
    """Each word (lower-cased) → its stem, as the index stems it."""
    unique = sorted({w.lower() for w in words})
    if not unique:
        return {}
    return dict(con.execute(f"SELECT w, stem(w, '{STEMMER}') FROM unnest($w::VARCHAR[]) t(w)", {"w": unique}).fetchall())


def snippet(con: duckdb.DuckDBPyConnection, body: str, wanted: dict[str, str]) -> str:
    """A one-line excerpt around the first word of `body` that stems like a searched word, marked [thus]."""
    words = list(WORD.finditer(body))
    targets = set(wanted.values())
    found = stems(con, [m.group() for m in words]) if words and targets else {}
    first = next((i for i, m in enumerate(words) if found.get(m.group().lower()) in targets), None)
    if first is None:
        return _one_line(body[:160]) + ("…" if len(body) > 160 else "")
    start = words[max(0, first - SNIPPET_WORDS)].start()
    end = words[min(len(words) - 1, first + SNIPPET_WORDS)].end()
    hit = words[first]
    text = f"{body[start:hit.start()]}[{hit.group()}]{body[hit.end():end]}"
    return ("…" if start else "") + _one_line(text) + ("…" if end < len(body) else "")


def _one_line(text: str) -> str:
    return " ".join(text.split())

