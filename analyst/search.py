"""`esf search`: ranked full-text search (BM25) over project titles and sections, in whichever form a page wrote a
word: `arbetsmarknad` finds `arbetsmarknaden` and `arbetsmarknadens` (load/search.py makes the terms). `arbets*`
finds every word that starts so; `"nyanlända kvinnor"` finds the words next to each other. A search that finds
nothing says why (`Found.note`).

Every query word is looked for in both languages at once, each with its own endings and stop words: as a Swedish
term in the pages' texts and as an English term in the lists' English summaries (`training` finds `trained` there),
and the hits are one ranking. A word is left out only where it is a stop word of both languages."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from analyst.places import resolve_region
from load.search import FTS_SCHEMA, INDEX_FORMAT, TABLE, index_format, index_terms
from load.search_terms import ENGLISH, LANGUAGES, MARK, SWEDISH, Terms
from records.errors import UsageError

COLUMNS = ["project_id", "title", "region", "period", "area", "score", "snippet"]
SNIPPET_WORDS = 12  # words either side of the first match
WORD = re.compile(r"[0-9A-Za-zÅÄÖåäöÉéÜüÆæØø]+")
QUERY_PART = re.compile(r'"(?P<phrase>[^"]*)"?|(?P<word>[0-9A-Za-zÅÄÖåäöÉéÜüÆæØø]+)(?P<star>\*)?')
MIN_PREFIX = 2  # letters before a * (a* alone would be most of the index)

# BM25 as the fts extension's match_bm25 macro computes it (k = 1.2, b = 0.75, log10), but set-based: the macro
# scores one document per call, which took 2-3 s at 100,000 projects; this scores only the matching postings.
# $terms: the query's terms (of both languages); $prefixes: every term of a word that starts with one.
MATCHES = f"""
WITH tokens AS (
    SELECT DISTINCT term FROM (SELECT unnest($terms::VARCHAR[]) AS term
                               UNION ALL
                               SELECT w.term FROM {FTS_SCHEMA}.words w JOIN unnest($prefixes::VARCHAR[]) p(prefix)
                                   ON starts_with(w.word, p.prefix))),
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
filtered AS (
    SELECT p.project_id, p.title, p.region, p.programme_period AS period, p.programme_area_code AS area, h.score
    FROM hits h JOIN projects p USING (project_id)
    WHERE ($period IS NULL OR p.programme_period = $period)
      AND ($region IS NULL OR p.region = $region OR p.region_code = $region_code)
      AND ($area IS NULL OR p.programme_area_code = upper($area)){{phrases}})
SELECT project_id, score, round(score, 3) FROM filtered ORDER BY score DESC, project_id LIMIT $limit"""
# A quoted phrase: its words' terms stand at the right distances in one field, in either language: each word's
# posting at the first word's position plus its place in the phrase (a stop word, not indexed, counts its place).
PHRASE = f"""
      AND h.project_id IN (SELECT docs.name FROM {FTS_SCHEMA}.docs docs WHERE docs.docid IN ({{variants}}))"""
PHRASE_VARIANT = f"""
          SELECT t0.docid FROM {FTS_SCHEMA}.terms t0{{joins}}
          WHERE t0.termid = (SELECT termid FROM {FTS_SCHEMA}.dict WHERE term = ${{name}}_0){{conditions}}"""
PHRASE_JOIN = f"""
          JOIN {FTS_SCHEMA}.terms t{{j}} ON t{{j}}.docid = t0.docid AND t{{j}}.fieldid = t0.fieldid AND t{{j}}.pos = t0.pos + {{offset}}"""
PHRASE_CONDITION = f"""
          AND t{{j}}.termid = (SELECT termid FROM {FTS_SCHEMA}.dict WHERE term = ${{name}}_{{j}})"""
SHOWN = f"""SELECT p.project_id, p.title, p.region, p.programme_period, p.programme_area_code, d.body, d.english
FROM projects p JOIN {TABLE} d USING (project_id) WHERE p.project_id IN (SELECT unnest($ids::VARCHAR[]))"""
TEXT_LANGUAGES = (SWEDISH, ENGLISH)  # SHOWN's body and english: where a snippet looks for the first match, in order
Languages = dict[str, Terms]


class NoIndex(UsageError, LookupError):
    """The published database has no search index of this version (the next `esf run` builds one)."""


@dataclass
class Query:
    """What a search text asks for: words (any form), prefixes (`arbets*`), phrases (`"nyanlända kvinnor"`)."""
    words: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    stop_words: list[str] = field(default_factory=list)  # given, a stop word of a language (of both: left out)

    def searchable(self) -> bool:
        return bool(self.words or self.prefixes or any(self.phrases))

    def only_stop_words(self) -> bool:
        """Every word given is a stop word of one language or the other (och, att; the, of): nothing to look for."""
        given = self.words + [w for phrase in self.phrases for w in phrase]
        return not self.prefixes and set(given) <= set(self.stop_words)


@dataclass
class Found:
    """A search's answer; `note` says why it is empty (or what was left out), for one line on stderr."""
    columns: list[str]
    rows: list[tuple]
    note: str | None = None


def parse(text: str, stop_words: dict[str, set[str]]) -> Query:
    """The words, prefixes and phrases of a search text, lower-cased; stop words (per language) set apart: a word
    that is one in every language is left out, one that is a stop word of one language only is noted."""
    everywhere = set.intersection(*stop_words.values())
    somewhere = set.union(*stop_words.values())
    query = Query()
    for part in QUERY_PART.finditer(text):
        if part["phrase"] is not None:
            words = [w.lower() for w in WORD.findall(part["phrase"])]
            if any(w not in everywhere for w in words):
                query.phrases.append(words)
            query.stop_words += [w for w in words if w in somewhere]
            continue
        word = part["word"].lower()
        if part["star"] and len(word) >= MIN_PREFIX:
            query.prefixes.append(word)
            continue
        if word not in everywhere:
            query.words.append(word)
        if word in somewhere:
            query.stop_words.append(word)
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
    terms = {lang: index_terms(con, lang) for lang in LANGUAGES}
    stop_words: dict[str, set[str]] = {lang: set() for lang in LANGUAGES}
    for lang, word in con.execute(f"SELECT lang, sw FROM {FTS_SCHEMA}.stopwords").fetchall():
        stop_words[lang].add(word)
    query = parse(text, stop_words)
    if not query.searchable():
        return Found(COLUMNS, [], _only_stop_words(query))
    place = resolve_region(con, region) if region is not None else None
    if place is not None and place.unknown:
        return Found(COLUMNS, [], place.unknown)
    params = _params(query, terms, stop_words) | {"period": period, "area": area, "region": place and place.name,
                                                  "region_code": place and place.code}
    hits = _hits(con, params, limit)
    if hits:
        shown = {row[0]: row for row in con.execute(SHOWN, {"ids": [h[0] for h in hits]}).fetchall()}
        marked = _marked(query, terms, stop_words)
        return Found(COLUMNS, [(*shown[pid][:5], score, snippet(shown[pid][5:], marked, terms))
                               for pid, _, score in hits])
    if query.only_stop_words():  # och, att: no Swedish text is searched for them, and no English text holds them
        return Found(COLUMNS, [], _only_stop_words(query))
    return Found(COLUMNS, [], _why_nothing(con, query, params))


def _hits(con: duckdb.DuckDBPyConnection, params: dict, limit: int | None) -> list[tuple[str, float, float]]:
    """(project, score, rounded score) of the best `limit` hits (None: all), best first."""
    sql, bound = [], {k: v for k, v in params.items() if k != "phrases"} | {"limit": limit}
    for i, variants in enumerate(params["phrases"]):  # per phrase, per language: [(term, place in the phrase), …]
        selects = []
        for v, phrase in enumerate(variants):
            name = f"phrase{i}_{v}"
            first = phrase[0][1]
            joins = "".join(PHRASE_JOIN.format(j=j, offset=int(place - first))
                            for j, (_, place) in enumerate(phrase) if j)
            conditions = "".join(PHRASE_CONDITION.format(j=j, name=name) for j in range(1, len(phrase)))
            selects.append(PHRASE_VARIANT.format(joins=joins, conditions=conditions, name=name))
            bound |= {f"{name}_{j}": term for j, (term, _) in enumerate(phrase)}
        sql.append(PHRASE.format(variants="\n          UNION ALL".join(selects)))
    return con.execute(MATCHES.format(phrases="".join(sql)), bound).fetchall()


def _terms(word: str, terms: Languages, stop_words: dict[str, set[str]]) -> list[str]:
    """A query word's index terms: one per language it is no stop word of."""
    return [MARK[lang] + t.term(word) for lang, t in terms.items() if word not in stop_words[lang]]


def _params(query: Query, terms: Languages, stop_words: dict[str, set[str]]) -> dict:
    """The query's terms, and each phrase's terms with their places, once per language it has a word in."""
    phrases = [[variant for lang, t in terms.items()
                if (variant := [(MARK[lang] + t.term(w), place) for place, w in enumerate(phrase)
                                if w not in stop_words[lang]])]
               for phrase in query.phrases]
    phrase_terms = {term for variants in phrases for variant in variants for term, _ in variant}
    words = {term for w in query.words for term in _terms(w, terms, stop_words)}
    return {"terms": sorted(words | phrase_terms), "prefixes": query.prefixes, "phrases": phrases}


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


def _marked(query: Query, terms: Languages, stop_words: dict[str, set[str]]) -> tuple[set[str], tuple[str, ...]]:
    """The terms (of both languages) and prefixes a snippet marks."""
    given = query.words + [w for p in query.phrases for w in p]
    return {term for w in given for term in _terms(w, terms, stop_words)}, tuple(query.prefixes)


def snippet(texts: tuple[str | None, ...], marked: tuple[set[str], tuple[str, ...]], terms: Languages) -> str:
    """A one-line excerpt around the first word that is a searched word in some form, marked [thus]: in the
    page's text (TEXT_LANGUAGES' first), else in the English summaries; the page's text's start where neither has."""
    wanted, prefixes = marked
    for text, lang in zip(texts, TEXT_LANGUAGES):
        words = list(WORD.finditer(text or ""))
        first = next((i for i, m in enumerate(words)
                      if MARK[lang] + terms[lang].term(m.group().lower()) in wanted
                      or m.group().lower().startswith(prefixes or ("\0",))), None)
        if first is not None and text is not None:
            return _excerpt(text, words, first)
    body = texts[0] or ""
    return _one_line(body[:160]) + ("…" if len(body) > 160 else "")


def _excerpt(text: str, words: list[re.Match[str]], first: int) -> str:
    start = words[max(0, first - SNIPPET_WORDS)].start()
    end = words[min(len(words) - 1, first + SNIPPET_WORDS)].end()
    hit = words[first]
    marked = f"{text[start:hit.start()]}[{hit.group()}]{text[hit.end():end]}"
    return ("…" if start else "") + _one_line(marked) + ("…" if end < len(text) else "")


def _one_line(text: str) -> str:
    return " ".join(text.split())
