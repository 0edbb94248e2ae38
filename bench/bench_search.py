"""Full-text search: how well it finds word forms on the real pages and in English summaries, and index build and
query time on 100,000 synthetic projects.

    python bench/bench_search.py [--projects 100000] [--runs 3]

First the word-form test set (tests/fixtures/wordforms.csv, bench/wordforms.py) on the real pages in
../shared/samples, where present: recall and precision of the terms, and of `esf search` on a warehouse of them;
then the English set (tests/fixtures/wordforms_en.csv) on the synthetic summaries by the same two measures, with
the terms of the fts extension's Snowball English and Porter stemmers on it for comparison.
The warehouse is the one bench_queries.py builds (real schema, filled by SQL), plus three sections per project
of 80 words each: a third stop words, a third from a Swedish vocabulary of ~1,500 inflected forms (common
ones far more often than rare), a third from a long tail of 50,000 other words; and for the 2021-2027 third of the
projects a linked row of the list of operations with a 60-word English summary made the same way. Four costs of a
load are timed (`load.search.refresh_search`, in one transaction): the full build (first load, or a file from
before search), the update a night pays when 1 % of the projects changed, the one when a reloaded list changed
1 % of the summaries, and a load that changed nothing (it still compares every project's English texts). A query
is `esf search`'s: BM25 ranking, filters, the top 20 with their snippets, from execute to every row in Python;
median of --runs × 5 runs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench import machine  # noqa: E402
from bench.bench_queries import FILL  # noqa: E402
from analyst.readonly import open_published  # noqa: E402
from load.search import extension_path, refresh_search  # noqa: E402
from load.migrate import migrate  # noqa: E402
from analyst.search import search  # noqa: E402
from bench import wordforms  # noqa: E402

STEMS = ("arbet arbetsmarknad arbetsgivar deltagar kvinn män ungdom nyanländ utbildning kompetens språk "
         "validering hälsa sjukskriv rehabilitering kommun region företag samverkan handledning praktik "
         "anställning studie vägledning jämställdhet tillgänglighet metod nätverk omställning digital "
         "yrkesutbildning vuxenutbildning integration funktionsnedsättning coachning mentor lärling "
         "kartläggning uppföljning skola elev lärare förälder socialtjänst försörjningsstöd bostad "
         "landsbygd stad skärgård fjäll turism skog industri vård omsorg bygg transport logistik handel "
         "restaurang hotell jordbruk fiske energi klimat miljö teknik programmering svetsning truck körkort "
         "barnomsorg äldreomsorg tolk mottagning etablering spår modul workshop seminarium konferens "
         "utvärdering forskning högskola universitet folkhögskola studieförbund förening kooperativ "
         "entreprenör innovation export import ekonomi budget budgetrådgivning skuld missbruk beroende "
         "kriminalvård frivård häkte ungdomsarbetslöshet långtidsarbetslöshet matchning rekrytering").split()
ENDINGS = ("", "en", "et", "er", "erna", "ar", "arna", "or", "orna", "a", "ande", "ade", "s")
COMMON = "och att i för som på med av till det är en ett de projektet ska har inom under vid".split()
STEMS_EN = ("train employ work study support develop integrat educat coach mentor plan skill course woman "
            "company municipalit employer employee participant guidance validat language market job famil "
            "household disabilit youth young migrant arriv apprentic internship servic method health care "
            "enterprise business region network cooperat unemploy recruit staff teacher school adult").split()
ENDINGS_EN = ("", "s", "ed", "ing", "ment", "ion", "es", "ies", "y", "e", "al")
COMMON_EN = "the and of to in for a with on is are by as at from their who this that".split()

SECTIONS = """
INSERT INTO project_sections (project_id, section, heading, text, run_id)
SELECT project_id, ['summary', 'background', 'goals'][1 + j], NULL,
       array_to_string(list_transform(range(80), k -> CASE WHEN hash(project_id, j, k, 1) % 3 = 0
           THEN $common[CAST(1 + hash(project_id, j, k) % len($common) AS BIGINT)]
           WHEN hash(project_id, j, k, 2) % 2 = 0 THEN 'ord' || (hash(project_id, j, k, 3) % 50000)
           ELSE $words[1 + CAST(floor(len($words) * pow((hash(project_id, j, k) % 1000000) / 1000000.0, 2)) AS INTEGER)]
           END), ' '), 1
FROM projects, range(3) s(j)"""

SUMMARIES = """
INSERT INTO operation_versions (source_key, external_id, occurrence, row_number, summary_en, sha256, run_id, version,
                                valid_from)
SELECT 'operations.csv', project_id, 1, 1 + row_number() OVER (ORDER BY project_id),
       array_to_string(list_transform(range(60), k -> CASE WHEN hash(project_id, k, 1) % 3 = 0
           THEN $common[CAST(1 + hash(project_id, k) % len($common) AS BIGINT)]
           WHEN hash(project_id, k, 2) % 2 = 0 THEN 'word' || (hash(project_id, k, 3) % 20000)
           ELSE $words[1 + CAST(floor(len($words) * pow((hash(project_id, k) % 1000000) / 1000000.0, 2)) AS INTEGER)]
           END), ' '), 'x', 1, 1, TIMESTAMPTZ '2026-01-01'
FROM projects WHERE programme_period = '2021-2027'"""
CURRENT = """
INSERT INTO operations_current
SELECT source_key, external_id, occurrence, version, row_number, NULL, valid_from, TIMESTAMPTZ '2026-01-30'
FROM operation_versions"""
LINKS = """
INSERT INTO project_links BY NAME
SELECT external_id AS project_id, 'operations' AS source, external_id, source_key, occurrence, row_number,
       'case_number' AS method, true AS is_primary, 1 AS run_id
FROM operations"""

QUERIES = [("kvinnor arbetsmarknad", {}), ("ungdomar utbildning", {"period": "2014-2020"}),
           ("validering språk", {"region": "Västsverige"}), ("funktionsnedsättningar rehabilitering", {"area": "2"}),
           ("lärlingar", {}), ("arbetsmark*", {}), ('"nyanlända kvinnor"', {}), ("zebrafinkar", {}),
           ("trained women", {}), ("employers", {"period": "2021-2027"}), ('"young migrants"', {})]


def build(projects: int) -> Path:
    path = Path(tempfile.mkdtemp(prefix="esf-s-")) / "s.duckdb"
    con = duckdb.connect(str(path))
    migrate(con)
    con.execute(FILL.replace("range(?)", f"range({projects})"))
    words = [s + e for s in STEMS for e in ENDINGS]
    con.execute(SECTIONS, {"words": words, "common": COMMON})
    con.execute(SUMMARIES, {"words": [s + e for s in STEMS_EN for e in ENDINGS_EN], "common": COMMON_EN})
    con.execute(CURRENT)
    con.execute(LINKS)
    con.execute("CHECKPOINT")
    con.close()
    return path


def word_forms() -> None:
    """Recall and precision on the word-form test set, where ../shared/samples is present, and on the English set."""
    from load.search import Terms, suffixes
    from service import run as service
    from service.run import RunSettings
    if not wordforms.REAL_SAMPLES.is_dir():
        print("word forms: ../shared/samples is absent, not measured")
    else:
        cases = wordforms.word_forms()
        print(wordforms.by_words(Terms(suffixes()).term, wordforms.page_words(), cases).line(
            f"word forms ({len(cases)} words, {sum(len(c.queries) for c in cases)} query forms), terms"))
        print(_projects(service.refresh, RunSettings, (str(wordforms.REAL_SAMPLES),), cases,
                        "word forms, esf search on the {} real pages"))
    english_forms(service.refresh, RunSettings)


def english_forms(refresh: Any, settings: Any) -> None:
    """The English set: the suffix table's terms, the fts extension's stemmers' terms, and `esf search`."""
    from load.search import load_fts
    from load.search_terms import ENGLISH, reference_terms
    cases, vocabulary = wordforms.word_forms(wordforms.WORDFORMS_EN), wordforms.summary_words()
    label = f"english word forms ({len(cases)} words, {sum(len(c.queries) for c in cases)} query forms)"
    print(wordforms.by_words(reference_terms(ENGLISH).term, vocabulary, cases).line(f"{label}, terms (suffixes_en.csv)"))
    con = duckdb.connect()
    load_fts(con)
    for stemmer in ("english", "porter"):
        stems = dict(con.execute(f"SELECT w, stem(w, '{stemmer}') FROM unnest($w::VARCHAR[]) t(w)",
                                 {"w": sorted(vocabulary | {q for c in cases for q in c.queries})}).fetchall())
        print(wordforms.by_words(stems.__getitem__, vocabulary, cases).line(f"{label}, fts stemmer '{stemmer}'"))
    con.close()
    folder = Path(tempfile.mkdtemp(prefix="esf-en-"))
    print(_projects(refresh, settings, tuple(str(p) for p in wordforms.english_site(folder)), cases,
                    "english word forms, esf search on {} pages with their summary in the list of operations") + "\n")


def _projects(refresh: Any, settings: Any, sources: tuple[str, ...], cases: list[wordforms.WordForms], what: str) -> str:
    db = Path(tempfile.mkdtemp(prefix="esf-wf-")) / "esf.duckdb"
    refresh(settings(db=str(db), sources=sources))
    con = open_published(db, extensions=[extension_path()])
    texts = dict(con.execute("SELECT project_id, title || ' ' || body || ' ' || coalesce(english, '') "
                             "FROM search_documents").fetchall())
    score = wordforms.by_projects(lambda q: {r[0] for r in search(con, q, limit=1000).rows}, texts, cases)
    con.close()
    return score.line(what.format(len(texts)))


def _timed(con: duckdb.DuckDBPyConnection, run_id: int, changed: list[str]) -> float:
    t = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    refresh_search(con, run_id, changed)
    con.execute("COMMIT")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--projects", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    word_forms()
    started = time.perf_counter()
    path = build(a.projects)
    con = duckdb.connect(str(path))
    words, chars = con.execute("SELECT count(*), sum(length(text)) FROM project_sections").fetchone()
    print(f"{a.projects:,} projects, {words:,} sections, {chars / 1e6:.0f} MB of text; built in "
          f"{time.perf_counter() - started:.0f} s. {machine()}\n")
    builds, updates, lists, idle = [], [], [], []
    for run in range(a.runs):
        t = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        refresh_search(con, 30)
        con.execute("COMMIT")
        builds.append(time.perf_counter() - t)
    for run in range(a.runs):  # a night: 1 % of the projects get a changed section
        changed = [p for (p,) in con.execute(f"SELECT project_id FROM projects WHERE hash(project_id, {run}) % 100 = 0").fetchall()]
        con.execute(f"UPDATE project_sections SET text = text || ' lärlingsplatser {run}' "
                    f"WHERE section = 'goals' AND hash(project_id, {run}) % 100 = 0")
        updates.append(_timed(con, 31 + run, changed))
    for run in range(a.runs):  # a reloaded list of operations: 1 % of the projects' English summaries changed
        summaries = con.execute(f"UPDATE operation_versions SET summary_en = summary_en || ' apprenticeships {run}' "
                                f"WHERE hash(external_id, {run}, 7) % 33 = 0").fetchone()[0]
        lists.append(_timed(con, 40 + run, []))
        idle.append(_timed(con, 50 + run, []))
    con.execute("CHECKPOINT")
    terms = con.execute("SELECT count(*) FROM fts_main_search_documents.dict").fetchone()[0]
    con.close()
    print(f"full build (search documents + BM25 index, one transaction): median {statistics.median(builds):.1f} s "
          f"of {', '.join(f'{b:.1f}' for b in builds)} s; {terms:,} distinct terms; file {path.stat().st_size / 1e6:.0f} MB")
    print(f"update for 1 % changed projects ({len(changed):,}): median {statistics.median(updates):.1f} s "
          f"of {', '.join(f'{u:.1f}' for u in updates)} s")
    print(f"update for a reloaded list that changed {summaries:,} English summaries: median "
          f"{statistics.median(lists):.1f} s of {', '.join(f'{u:.1f}' for u in lists)} s")
    print(f"a load that changed nothing (the English texts compared): median {statistics.median(idle):.2f} s "
          f"of {', '.join(f'{u:.2f}' for u in idle)} s\n")
    con = open_published(path, extensions=[extension_path()])
    print("| query | filter | results | median ms |\n|---|---|---|---|")
    for text, filters in QUERIES:
        times, rows = [], []
        for _ in range(a.runs * 5):
            t = time.perf_counter()
            rows = search(con, text, limit=20, **filters).rows
            times.append((time.perf_counter() - t) * 1000)
        label = ", ".join(f"--{k} {v}" for k, v in filters.items()) or "none"
        print(f"| `{text}` | {label} | {len(rows)} | {statistics.median(times):.0f} |")


if __name__ == "__main__":
    main()
