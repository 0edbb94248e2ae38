"""Search finds a word in whichever form a page wrote it: the word-form test set (tests/fixtures/wordforms.csv,
query forms → the forms the real pages in ../shared/samples write) at recall ≥ 98 % and precision ≥ 90 %, for the
terms alone and for `esf search` on a warehouse of the real pages. Skipped where ../shared is absent."""
from __future__ import annotations

import pytest

from analyst.readonly import open_published
from analyst.search import search
from bench.wordforms import by_projects, by_words, page_words, word_forms
from load.search import Terms, extension_path, suffixes
from service import run as service
from service.run import RunSettings

RECALL, PRECISION = 0.98, 0.90


def test_the_test_set_is_written_from_the_real_pages(real_samples):
    vocabulary = page_words(real_samples)
    cases = word_forms()
    assert len(cases) >= 24
    missing = [f"{c.word}: {form}" for c in cases for form in c.on_pages if form not in vocabulary]
    assert not missing, missing
    # the everyday words of the issue, in base and inflected query forms
    queries = {q for c in cases for q in c.queries}
    assert {"arbetsmarknad", "arbetsmarknaden", "arbetsmarknadens", "kompetens", "kompetensen", "ungdom", "ungdomar",
            "kvinna", "kvinnor", "utbildning", "utbildningar", "deltagare", "deltagarna", "språk", "språket"} <= queries


def test_query_forms_and_page_forms_make_one_term(real_samples):
    score = by_words(Terms(suffixes()).term, page_words(real_samples), word_forms())
    print(score.line("words"))
    assert score.recall >= RECALL and score.precision >= PRECISION, score.line("words")


def test_search_finds_the_projects_that_hold_a_form_of_the_word(real_samples, tmp_path):
    db = tmp_path / "esf.duckdb"
    assert service.refresh(RunSettings(db=str(db), sources=(str(real_samples),))).status in ("succeeded", "rejects")
    con = open_published(db, extensions=[extension_path()])
    try:
        texts = dict(con.execute("SELECT project_id, title || ' ' || body FROM search_documents").fetchall())
        assert len(texts) == len(list(real_samples.glob("*.txt")))
        score = by_projects(lambda q: {row[0] for row in search(con, q, limit=1000).rows}, texts, word_forms())
    finally:
        con.close()
    print(score.line("projects"))
    assert score.recall >= RECALL and score.precision >= PRECISION, score.line("projects")


@pytest.mark.parametrize("form, base", [("arbetsmarknadens", "arbetsmarknad"), ("kompetensen", "kompetens"),
                                        ("kvinnorna", "kvinna"), ("ungdomarna", "ungdom"), ("språket", "språk"),
                                        ("deltagarna", "deltagare"), ("utbildningarnas", "utbildning")])
def test_endings_come_off_until_base_and_form_meet(form, base):
    terms = Terms(suffixes())
    assert terms.term(form) == terms.term(base)


@pytest.mark.parametrize("one, other", [("deltagare", "deltagande"), ("arbetsmarknad", "arbetsgivare"), ("se", "sea")])
def test_other_words_stay_apart(one, other):
    terms = Terms(suffixes())
    assert terms.term(one) != terms.term(other)
    assert len(terms.term("se")) == 2  # a word shorter than the shortest stem is left whole
