"""`esf search`: ranked full-text search (BM25) over project titles and sections, in whichever form a page wrote a
word: `arbetsmarknad` finds `arbetsmarknaden` and `arbetsmarknadens` (load/search.py makes the terms). `arbets*`
finds every word that starts so; `"nyanlända kvinnor"` finds the words next to each other. A search that finds
nothing says why (`Found.note`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from analyst.places import resolve_region
from load.search import FTS_SCHEMA, INDEX_FORMAT, TABLE, Terms, index_format, index_terms

COLUMNS = ["project_id", "title", "region", "period", "area", "score", "snippet"]
SNIPPET_WORDS = 12  # words either side of the first match
LETTERS = "0-9a-zåäöéüæø"  # as the index's tokenizer (load.search.IGNORE): anything else separates words
WORD = re.compile(r"[0-9A-Za-zÅÄÖåäöÉéÜüÆæØø]+")
QUERY_PART = re.compile(r'"(?P<phrase>[^"]*)"?|(?P<word>[0-9A-Za-zÅÄÖåäöÉéÜüÆæØø]+)(?P<star>\*)?')
MIN_PREFIX = 2  # letters before a * (a* alone would be most of the index)

# BM25 as the fts extension's match_bm25 macro computes it (k = 1.2, b = 0.75, log10), but set-based: the macro
# scores one document per call, which took 2-3 s at 100,000 projects; this scores only the matching postings.
# $terms: the query's terms; $prefixes: every term of a word that starts with one; $required: terms every hit holds.
MATCHES = f"""
WITH tokens AS (
    SELECT DISTINCT term FROM (SELECT unnest($terms::VARCHAR[]) AS term
                               UNION ALL
                               SELECT w.term FROM {FTS_SCHEMA}.words w JOIN unnest($prefixes::VARCHAR[]) p(prefix)
                                   ON starts_with(w.word, p.prefix))),
tf AS (
    SELECT t.docid, t.termid, any_value(d.term) AS term, any_value(d.df) AS df, count(*) AS tf
    FROM {FTS_SCHEMA}.dict d JOIN tokens USING (term) JOIN {FTS_SCHEMA}.terms t USING (termid)
    GROUP BY t.docid, t.termid),
hits AS (
    SELECT docs.name AS project_id,
           sum(log((s.num_docs - tf.df + 0.5) / (tf.df + 0.5) + 1)
               * (tf.tf * (1.2 + 1) / (tf.tf + 1.2 * (1 - 0.75 + 0.75 * docs.len / s.avgdl)))) AS score
    FROM tf JOIN {FTS_SCHEMA}.docs docs USING (docid), {FTS_SCHEMA}.stats s
    GROUP BY docs.name
    HAVING count(DISTINCT tf.term) FILTER (WHERE list_contains($required::VARCHAR[], tf.term)) = len($required::VARCHAR[])),
filtered AS (
    SELECT p.project_id, p.title, p.region, p.programme_period AS period, p.programme_area_code AS area, h.score
    FROM hits h JOIN projects p USING (project_id)
    WHERE ($period IS NULL OR p.programme_period = $period)
      AND ($region IS NULL OR p.region = $region OR p.region_code = $region_code)
      AND ($area IS NULL OR p.programme_area_code = upper($area)))
SELECT project_id, score, round(score, 3) FROM filtered ORDER BY score DESC, project_id LIMIT $window OFFSET $offset"""
# A quoted phrase: its words' terms are required (above), and each phrase is a regular expression (its words in any
# form the index has seen, in order) tried in Python on the texts of the best hits, window by window, until there
# are enough: in SQL, DuckDB ran the expression over every document's text first (seconds where words are common).
FIRST_WINDOW = 200
TEXTS = f"""SELECT project_id, lower(title || chr(10) || body) FROM {TABLE}
WHERE project_id IN (SELECT unnest($ids::VARCHAR[]))"""
SHOWN = f"""SELECT p.project_id, p.title, p.region, p.programme_period, p.programme_area_code, d.body
FROM projects p JOIN {TABLE} d USING (project_id) WHERE p.project_id IN (SELECT unnest($ids::VARCHAR[]))"""


class NoIndex(LookupError):
    """The published database has no search index of this version (the next `esf run` builds one)."""


@dataclass
class Query:
    """What a search text asks for: words (any form), prefixes (`arbets*`), phrases (`"nyanlända kvinnor"`)."""
    words: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    stop_words: list[str] = field(default_factory=list)  # given, and left out (the index has none)

    def searchable(self) -> bool:
        return bool(self.words or self.prefixes or any(self.phrases))


@dataclass
class Found:
    """A search's answer; `note` says why it is empty (or what was left out), for one line on stderr."""
    columns: list[str]
    rows: list[tuple]
    note: str | None = None


def parse(text: str, stop_words: set[str]) -> Query:
    """The words, prefixes and phrases of a search text, lower-cased; stop words set apart."""
    query = Query()
    for part in QUERY_PART.finditer(text):
        if part["phrase"] is not None:
            words = [w.lower() for w in WORD.findall(part["phrase"])]
            if any(w not in stop_words for w in words):
                query.phrases.append(words)
            else:
                query.stop_words += words
            continue
        word = part["word"].lower()
        if part["star"] and len(word) >= MIN_PREFIX:
            query.prefixes.append(word)
        elif word in stop_words:
            query.stop_words.append(word)
        else:
            query.words.append(word)
    return query


def search(con: duckdb.DuckDBPyConnection, text: str, *, period: str | None = None, region: str | None = None,
           area: str | None = None, limit: int = 20) -> Found:
    """Projects matching `text`, best first: project, title, region, period, area, BM25 score and a snippet."""
    found = index_format(con)
    if found is None:
        raise NoIndex("the database has no search index yet: the next `esf run` (or `esf reprocess`) builds it")
    if found != INDEX_FORMAT:
        raise NoIndex(f"the database's search index is of an older format ({found}, this esf reads {INDEX_FORMAT}): "
                      "the next `esf run` (or `esf reprocess`) rebuilds it")
    terms = index_terms(con)
    stop_words = {w for (w,) in con.execute(f"SELECT sw FROM {FTS_SCHEMA}.stopwords").fetchall()}
    query = parse(text, stop_words)
    if not query.searchable():
        return Found(COLUMNS, [], _only_stop_words(query))
    place = resolve_region(con, region) if region is not None else None
    if place is not None and place.unknown:
        return Found(COLUMNS, [], place.unknown)
    params = _params(con, query, terms, stop_words) | {"period": period, "area": area, "region": place and place.name,
                                          "region_code": place and place.code}
    hits = _hits(con, params, limit)
    if hits:
        shown = {row[0]: row for row in con.execute(SHOWN, {"ids": [h[0] for h in hits]}).fetchall()}
        marked = _marked(query, terms)
        return Found(COLUMNS, [(*shown[pid][:5], score, snippet(shown[pid][5], marked, terms)) for pid, _, score in hits])
    return Found(COLUMNS, [], _why_nothing(con, query, params))


def _hits(con: duckdb.DuckDBPyConnection, params: dict, limit: int | None) -> list[tuple[str, float, float]]:
    """(project, score, rounded score) of the best `limit` hits (None: all), best first; phrases checked on the
    texts of the hits in rank order, a window at a time, each window eight times the last."""
    bound = {k: v for k, v in params.items() if k != "phrases"}
    if not params["phrases"]:
        return con.execute(MATCHES, bound | {"window": limit, "offset": 0}).fetchall()
    patterns = [re.compile(p) for p in params["phrases"]]
    ranked = con.execute(MATCHES, bound | {"window": None, "offset": 0}).fetchall()  # every hit, best first
    found: list[tuple[str, float, float]] = []
    offset, window = 0, max(FIRST_WINDOW, 10 * (limit or 0))
    while offset < len(ranked) and (limit is None or len(found) < limit):
        batch = ranked[offset:offset + window]
        texts = dict(con.execute(TEXTS, {"ids": [b[0] for b in batch]}).fetchall())
        found += [b for b in batch if all(p.search(texts[b[0]]) for p in patterns)]
        offset, window = offset + window, window * 8
    return found[:limit] if limit is not None else found


def _params(con: duckdb.DuckDBPyConnection, query: Query, terms: Terms, stop_words: set[str]) -> dict:
    """The query's terms (a phrase's are required: every hit holds them all) and its phrases' patterns."""
    phrase_terms = [terms.term(w) for phrase in query.phrases for w in phrase if w not in stop_words]
    return {"terms": sorted({terms.term(w) for w in query.words} | set(phrase_terms)),
            "prefixes": query.prefixes, "required": sorted(set(phrase_terms)),
            "phrases": [_phrase_pattern(con, phrase, terms) for phrase in query.phrases]}


def _phrase_pattern(con: duckdb.DuckDBPyConnection, words: list[str], terms: Terms) -> str:
    """A regular expression for the phrase: each word in any form the index has seen of its term, in order."""
    forms = []
    for word in words:
        seen = {w for (w,) in con.execute(f"SELECT word FROM {FTS_SCHEMA}.words WHERE term = ?",
                                          [terms.term(word)]).fetchall()}
        forms.append("(" + "|".join(sorted(seen | {word})) + ")")  # words are letters and digits only
    return f"(^|[^{LETTERS}])" + f"[^{LETTERS}]+".join(forms) + f"([^{LETTERS}]|$)"


def _only_stop_words(query: Query) -> str:
    if not query.stop_words:
        return "nothing found: the search has no word to look for (letters or digits; a * needs two letters before it)"
    listed = ", ".join(dict.fromkeys(query.stop_words))
    return (f"nothing found: {listed} {'is a stop word' if len(query.stop_words) == 1 else 'are stop words'}, "
            "left out of the index; add a word that says what the project is about")


def _why_nothing(con: duckdb.DuckDBPyConnection, query: Query, params: dict) -> str:
    """One line on why a search found nothing: no text holds the words, not as the phrase, or not with the filters."""
    asked = _asked(query)
    unfiltered = params | {"period": None, "region": None, "region_code": None, "area": None}
    held = _count(con, unfiltered)
    if not held:
        if query.phrases and _count(con, unfiltered | {"phrases": []}):
            return f"nothing found: projects hold the words of {asked}, but not next to each other"
        return f"nothing found: no project's text holds {asked} (in any form)"
    filters = ", ".join(f"{name} {params[name]}" for name in ("period", "region", "area") if params[name])
    return f"nothing found: {held} project{'s' if held != 1 else ''} hold {asked}, but none with {filters}"


def _count(con: duckdb.DuckDBPyConnection, params: dict) -> int:
    return len(_hits(con, params, None))


def _asked(query: Query) -> str:
    parts = query.words + [f"{p}*" for p in query.prefixes] + [f'"{" ".join(p)}"' for p in query.phrases]
    return ", ".join(parts)


def _marked(query: Query, terms: Terms) -> tuple[set[str], tuple[str, ...]]:
    """The terms and prefixes a snippet marks."""
    wanted = {terms.term(w) for w in query.words} | {terms.term(w) for p in query.phrases for w in p}
    return wanted, tuple(query.prefixes)


def snippet(body: str, marked: tuple[set[str], tuple[str, ...]], terms: Terms) -> str:
    """A one-line excerpt around the first word of `body` that is a searched word in some form, marked [thus]."""
    wanted, prefixes = marked
    words = list(WORD.finditer(body))
    first = next((i for i, m in enumerate(words)
                  if terms.term(m.group().lower()) in wanted or m.group().lower().startswith(prefixes or ("\0",))), None)
    if first is None:
        return _one_line(body[:160]) + ("…" if len(body) > 160 else "")
    start = words[max(0, first - SNIPPET_WORDS)].start()
    end = words[min(len(words) - 1, first + SNIPPET_WORDS)].end()
    hit = words[first]
    text = f"{body[start:hit.start()]}[{hit.group()}]{body[hit.end():end]}"
    return ("…" if start else "") + _one_line(text) + ("…" if end < len(body) else "")


def _one_line(text: str) -> str:
    return " ".join(text.split())
