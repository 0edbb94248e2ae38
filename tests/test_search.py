"""`esf search`: BM25 over titles and sections with Swedish stemming and stop words, filters, snippets, an index
rebuilt by loads that change projects (and only by them), carried into a contact-free file, one-line errors."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from conftest import SAMPLES
from cli import cli
from load.search import INDEX_FORMAT, index_terms, load_fts
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
    return json.loads(result.stdout)


def note(db: Path, *args: str) -> str:
    """What a search that found nothing says on stderr (exit 0, no rows on stdout)."""
    result = CliRunner().invoke(cli, ["search", *args, "--db", str(db), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == [], result.output
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    return result.stderr


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
    """kvinnor, kvinnorna and kvinna are one term; every hit holds a form of it."""
    found = {form: [r["project_id"] for r in search(published, form)] for form in ("kvinnor", "kvinnorna", "kvinna")}
    assert found["kvinnor"] and found["kvinnor"] == found["kvinnorna"] == found["kvinna"]
    holding = {pid for pid, text in texts(published).items() if "kvinn" in text}
    assert set(found["kvinnor"]) == holding


@pytest.mark.parametrize("forms, written", [
    (("arbetsmarknad", "arbetsmarknaden", "arbetsmarknadens"), {"arbetsmarknad", "arbetsmarknaden", "arbetsmarknadens"}),
    (("kompetens", "kompetensen"), {"kompetens", "kompetensen", "kompetenser", "kompetensens"}),
    (("språk", "språket"), {"språk", "språket", "språkets"}),
    (("deltagare", "deltagarna"), {"deltagare", "deltagaren", "deltagarna", "deltagarnas", "deltagares"}),
])
def test_a_base_form_and_its_inflected_forms_meet(published, forms, written):
    """The base form finds the pages that wrote an inflected form and the other way round (Snowball's stemmer made
    arbetsmarknad → arbetsmarkn but arbetsmarknaden → arbetsmarknad, and left språket whole)."""
    holding = {pid for pid, text in texts(published).items() if set(re.findall(r"\w+", text)) & written}
    assert holding
    for form in forms:
        assert {r["project_id"] for r in search(published, form)} == holding, form


def test_results_are_ranked_by_bm25_score(published):
    rows = search(published, "kvinnor arbetsgivare utbildning")
    scores = [r["score"] for r in rows]
    assert len(rows) > 3 and scores == sorted(scores, reverse=True)
    con = duckdb.connect(str(published), read_only=True)
    load_fts(con)
    terms = " ".join(index_terms(con).term(w) for w in ("kvinnor", "arbetsgivare", "utbildning"))
    expected = con.execute("""SELECT project_id, round(score, 3) FROM (SELECT project_id,
                                  fts_main_search_documents.match_bm25(project_id, $terms) AS score
                              FROM search_documents) WHERE score IS NOT NULL ORDER BY score DESC, project_id""",
                           {"terms": terms}).fetchall()
    con.close()
    assert [(r["project_id"], r["score"]) for r in rows] == expected  # the extension's own BM25 macro agrees


def test_a_prefix_finds_every_word_that_starts_so(published):
    rows = search(published, "arbetsm*")
    holding = {pid for pid, text in texts(published).items() if re.search(r"\barbetsm", text)}
    assert holding and {r["project_id"] for r in rows} == holding
    assert all(re.search(r"\[arbetsm\w*\]", r["snippet"], re.I) for r in rows)
    assert search(published, "arbetsmarknad*") == search(published, "arbetsmarknad*") != []


def test_a_quoted_phrase_needs_its_words_in_order(published):
    phrase = "långt från arbetsmarknaden"
    holding = {pid for pid, text in texts(published).items() if phrase in " ".join(re.findall(r"\w+", text))}
    assert holding and {r["project_id"] for r in search(published, f'"{phrase}"')} == holding
    both_words = {r["project_id"] for r in search(published, "långt arbetsmarknaden")}
    assert holding < both_words  # without quotes, pages with the words apart are found too
    assert "not next to each other" in note(published, '"arbetsmarknaden långt"')


def test_a_title_word_finds_its_project_first(published):
    rows = search(published, "Kustporten")
    assert rows[0]["title"] == "Kustporten" and rows[0]["region"] == "Småland och Öarna"
    assert rows[0]["period"] == "2014-2020"


def test_stop_words_alone_find_nothing_and_say_so(published):
    assert "och, att, för are stop words" in note(published, "och att för")


def test_a_word_no_page_holds_says_so(published):
    assert "no project's text holds zebrafinkar (in any form)" in note(published, "zebrafinkar")


def test_filters_that_leave_nothing_say_how_many_projects_hold_the_word(published):
    holding = len(search(published, "kustporten"))
    said = note(published, "kustporten", "--period", "2007-2013")
    assert f"{holding} project{'s' if holding != 1 else ''} hold kustporten, but none with period 2007-2013" in said


@pytest.mark.parametrize("region, says", [
    ("Västra Götaland", "Västra Götalands län is a county in the ESF region Västsverige (SE23)"),
    ("Göteborg", "Göteborg is a municipality in Västra Götalands län, ESF region Västsverige (SE23)"),
    ("Atlantis", "'Atlantis' is not an ESF region; the regions are Övre Norrland, Mellersta Norrland,"),
])
def test_an_unknown_region_lists_the_regions(published, region, says):
    said = note(published, "arbete", "--region", region)
    assert says in said and "Sydsverige" in said and "Nationellt" in said


def test_a_region_variant_is_the_region(published):
    assert search(published, "arbete", "--region", "Småland & Öarna") == search(published, "arbete", "--region", "SE21") != []


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
    assert [r["title"] for r in search(db, "zebrafinkar")] == ["Kustporten"]  # one term: zebrafink
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
            "postings": con.execute(f"SELECT d.name, t.fieldid, w.term, list(t.pos ORDER BY t.pos) FROM {s}.terms t "
                                    f"JOIN {s}.docs d USING (docid) JOIN {s}.dict w USING (termid) "
                                    "GROUP BY ALL ORDER BY ALL").fetchall(),
            "stats": con.execute(f"SELECT num_docs, round(avgdl, 9) FROM {s}.stats").fetchall(),
            "words": con.execute(f"SELECT w.word, w.term FROM {s}.words w JOIN {s}.dict d USING (term) "
                                 f"JOIN {s}.terms t USING (termid) GROUP BY ALL ORDER BY ALL").fetchall(),
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


def test_an_index_of_an_older_format_is_refused_then_rebuilt_by_the_next_load(corpus, tmp_path):
    """A file whose index was made by Snowball's stemmer (format 1, no `format` table): `esf search` says the next
    run rebuilds it, and the next run does, though no project changed."""
    pages = tmp_path / "pages"
    shutil.copytree(corpus, pages)
    db = tmp_path / "esf.duckdb"
    service.refresh(RunSettings(db=str(db), sources=(str(pages),)))
    for path in (db, tmp_path / "esf.work.duckdb"):
        con = duckdb.connect(str(path))
        con.execute("DROP TABLE fts_main_search_documents.format")
        con.close()
    result = CliRunner().invoke(cli, ["search", "arbete", "--db", str(db)])
    assert result.exit_code == 2 and f"older format (1, this esf reads {INDEX_FORMAT})" in result.output
    assert "next `esf run`" in result.output
    service.refresh(RunSettings(db=str(db), sources=(str(pages),)))  # nothing changed, the index is rebuilt
    assert search(db, "arbetsmarknad") == search(db, "arbetsmarknaden") != []


def test_a_phrase_with_a_stop_word_inside_keeps_its_place(published):
    """Postings carry positions (stop words counted): "kvinnor och män" finds the pages that write it; "kvinnor män"
    does not (och stands between), though both words are on those pages."""
    phrase = "kvinnor och män"
    holding = {pid for pid, text in texts(published).items() if phrase in " ".join(re.findall(r"\w+", text))}
    assert len(holding) >= 2 and {r["project_id"] for r in search(published, f'"{phrase}"')} == holding
    adjacent = {pid for pid, text in texts(published).items() if "kvinnor män" in " ".join(re.findall(r"\w+", text))}
    assert {r["project_id"] for r in search(published, '"kvinnor män"')} == adjacent
    assert holding - adjacent and holding <= {r["project_id"] for r in search(published, "kvinnor män")}
