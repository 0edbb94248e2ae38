"""`esf search`: BM25 over titles and sections with Swedish stemming and stop words, filters, snippets, an index
rebuilt by loads that change projects (and only by them), carried into a contact-free file, one-line errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from cli import cli
from load.search import load_fts
from service import run as service
from service.run import RunSettings


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("search") / "pages"
    shutil.copytree(SAMPLES, target)
    return target


@pytest.fixture(scope="module")
def published(corpus) -> Path:
    db = corpus.parent / "esf.duckdb"
    service.refresh(RunSettings(db=str(db), sources=(str(corpus),)))
    return db


def search(db: Path, *args: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["search", *args, "--db", str(db), "--format", "json", "--limit", "100"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def texts(db: Path) -> dict[str, str]:
    """Each project's title and sections, lower-cased, from the base tables."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute("""SELECT p.project_id, lower(p.title || ' ' || coalesce(string_agg(s.text, ' '), ''))
                                   FROM projects p LEFT JOIN project_sections s USING (project_id)
                                   GROUP BY p.project_id, p.title""").fetchall())
    finally:
        con.close()


def test_inflected_forms_find_the_same_projects(published):
    """Swedish stemming: kvinnor, kvinnorna and kvinna are one term; every hit holds a form of it."""
    found = {form: [r["project_id"] for r in search(published, form)] for form in ("kvinnor", "kvinnorna", "kvinna")}
    assert found["kvinnor"] and found["kvinnor"] == found["kvinnorna"] == found["kvinna"]
    holding = {pid for pid, text in texts(published).items() if "kvinn" in text}
    assert set(found["kvinnor"]) == holding


def test_results_are_ranked_by_bm25_score(published):
    rows = search(published, "kvinnor arbetsgivare utbildning")
    scores = [r["score"] for r in rows]
    assert len(rows) > 3 and scores == sorted(scores, reverse=True)
    con = duckdb.connect(str(published), read_only=True)
    load_fts(con)
    expected = con.execute("""SELECT project_id, round(score, 3) FROM (SELECT project_id,
                                  fts_main_search_documents.match_bm25(project_id, 'kvinnor arbetsgivare utbildning') AS score
                              FROM search_documents) WHERE score IS NOT NULL ORDER BY score DESC, project_id""").fetchall()
    con.close()
    assert [(r["project_id"], r["score"]) for r in rows] == expected  # the extension's own BM25 macro agrees


def test_a_title_word_finds_its_project_first(published):
    rows = search(published, "Kustporten")
    assert rows[0]["title"] == "Kustporten" and rows[0]["region"] == "Småland och Öarna"
    assert rows[0]["period"] == "2014-2020"


def test_stop_words_alone_find_nothing(published):
    assert search(published, "och att för") == []


def test_snippet_marks_the_first_match(published):
    rows = search(published, "kvinnorna")
    assert rows and all("[kvinn" in r["snippet"].lower() for r in rows)
    assert all("\n" not in r["snippet"] for r in rows)


@pytest.mark.parametrize("option, value, column, expected", [
    ("--period", "2007-2013", "period", "2007-2013"),
    ("--region", "Sydsverige", "region", "Sydsverige"),
    ("--region", "se22", "region", "Sydsverige"),
    ("--area", "2", "area", "2"),
])
def test_filters_keep_only_matching_projects(published, option, value, column, expected):
    everything = search(published, "arbete deltagare")
    filtered = search(published, "arbete deltagare", option, value)
    assert filtered and filtered == [r for r in everything if r[column] == expected]


def test_limit_and_formats(published):
    result = CliRunner().invoke(cli, ["search", "arbete", "--db", str(published), "--limit", "2"])
    assert result.exit_code == 0 and result.output.rstrip().endswith("(2 rows)")
    assert result.output.splitlines()[0].split() == ["project_id", "title", "region", "period", "area", "score", "snippet"]
    csv_out = CliRunner().invoke(cli, ["search", "arbete", "--db", str(published), "--limit", "2", "--format", "csv"])
    assert csv_out.output.splitlines()[0] == "project_id,title,region,period,area,score,snippet"
    assert len(csv_out.output.splitlines()) == 3


def test_quotes_and_symbols_in_the_query_are_text(published):
    assert search(published, "Kustporten'); DROP TABLE projects; --")[0]["title"] == "Kustporten"


def test_a_load_that_changes_projects_rebuilds_the_index(corpus, tmp_path):
    pages = tmp_path / "pages"
    shutil.copytree(corpus, pages)
    db = tmp_path / "esf.duckdb"
    service.refresh(RunSettings(db=str(db), sources=(str(pages),)))
    assert search(db, "zebrafinkar") == []
    service.refresh(RunSettings(db=str(db), sources=(str(pages),)))  # nothing changed: the index is left alone
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT DISTINCT run_id FROM search_documents").fetchall() == [(1,)]
    con.close()
    page = pages / "c-2019-00512-kustporten.txt"
    page.write_text(page.read_text(encoding="utf-8").replace("Kustporten är", "Kustporten, med zebrafinken, är", 1),
                    encoding="utf-8")
    service.refresh(RunSettings(db=str(db), sources=(str(pages),)))
    assert [r["title"] for r in search(db, "zebrafinkar")] == ["Kustporten"]  # stemmed: zebrafink
    assert index_content(db) == index_content(db, rebuilt=True)  # the update is what a full build makes


def index_content(db: Path, rebuilt: bool = False) -> dict[str, list]:
    """The index as names and terms (docids and termids are internal), from `db` or a full rebuild of a copy."""
    from load.search import refresh_search
    if rebuilt:
        copy = db.with_name("rebuilt.duckdb")
        shutil.copyfile(db, copy)
        con = duckdb.connect(str(copy))
        load_fts(con)
        refresh_search(con, 99)
    else:
        con = duckdb.connect(str(db), read_only=True)
    s = "fts_main_search_documents"
    try:
        return {
            "docs": con.execute(f"SELECT name, len FROM {s}.docs ORDER BY ALL").fetchall(),
            "dict": con.execute(f"SELECT term, df FROM {s}.dict ORDER BY ALL").fetchall(),
            "postings": con.execute(f"SELECT d.name, t.fieldid, w.term, count(*) FROM {s}.terms t JOIN {s}.docs d "
                                    f"USING (docid) JOIN {s}.dict w USING (termid) GROUP BY ALL ORDER BY ALL").fetchall(),
            "stats": con.execute(f"SELECT num_docs, round(avgdl, 9) FROM {s}.stats").fetchall(),
            "documents": con.execute("SELECT project_id, title, body FROM search_documents ORDER BY ALL").fetchall()}
    finally:
        con.close()


def test_the_contact_free_file_is_searchable(corpus, tmp_path):
    db = tmp_path / "esf.duckdb"
    service.refresh(RunSettings(db=str(db), sources=(str(corpus),), without_contacts=True))
    assert [r["title"] for r in search(db, "Kustporten")][:1] == ["Kustporten"]


@pytest.mark.parametrize("args, message", [
    (["   "], "nothing to search for"),
    (["x", "--period", "1999"], "Invalid value for '--period'"),
    (["x", "--limit", "0"], "Invalid value for '--limit'"),
])
def test_bad_searches_are_one_line(published, args, message):
    result = CliRunner().invoke(cli, ["search", *args, "--db", str(published)])
    assert result.exit_code == 2 and message in result.output


def test_a_file_without_index_says_how_to_get_one(published, tmp_path):
    db = tmp_path / "old.duckdb"
    shutil.copyfile(published, db)
    con = duckdb.connect(str(db))
    con.execute("DROP SCHEMA fts_main_search_documents CASCADE")
    con.close()
    result = CliRunner().invoke(cli, ["search", "arbete", "--db", str(db)])
    assert result.exit_code == 2 and "no search index yet" in result.output


def test_search_without_a_database_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["search", "arbete", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2 and "no database at" in result.output
