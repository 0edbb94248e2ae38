"""The label-driven parser, one behaviour per test, on small synthetic pages in every layout."""
from __future__ import annotations

from pathlib import Path

from transform import parse_page
from transform.lines import html_to_page_text, text_to_lines
from transform.parser import COLON, GLUED, PAIRED, parse_lines

PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"


def page_of(name: str):
    return parse_page((PAGES / name).read_bytes(), name)


def test_layouts_are_detected_once_per_page():
    assert parse_lines(text_to_lines("T\nProjektägareX AB\nRegionStockholm\n")).layout == GLUED
    assert parse_lines(text_to_lines("T\nProjektägare\nX AB\nRegion\nStockholm\n")).layout == PAIRED
    assert parse_lines(text_to_lines("T\nProjektägare:\nX AB\nRegion:\nStockholm\n")).layout == COLON
    assert parse_lines(text_to_lines("Bara text.\nIngen etikett här.\n")).layout is None


def test_value_starting_with_a_label_word_stays_a_value():
    fields = parse_lines(text_to_lines("T\nProjektägare\nRegion Blekinge\nRegion\nSydsverige\n"))
    assert fields.values == {"owner": "Region Blekinge", "region": "Sydsverige"}


def test_glued_value_starting_with_label_word():
    fields = parse_lines(text_to_lines("T\nProgramområdeProgramområde 2 Ökat arbetskraftsutbud\nRegionStockholm\n"))
    assert fields.values["programme_area"] == "Programområde 2 Ökat arbetskraftsutbud"


def test_glued_label_needs_a_plausible_value():
    # 'Regionens' is a word, not the label 'Region' glued to 'ens'.
    fields = parse_lines(text_to_lines("Regionens unga\nProjektägareX AB\nRegionStockholm\n"))
    assert fields.title == "Regionens unga"
    assert fields.values == {"owner": "X AB", "region": "Stockholm"}


def test_empty_value_followed_by_next_label():
    page = page_of("c-empty-values.txt")
    assert page.project["start_date"] is None
    assert page.project["end_date"].isoformat() == "2027-06-30"


def test_unknown_label_is_a_warning_not_a_value():
    page = page_of("c-empty-values.txt")
    assert page.ok
    assert [(p.field, p.severity, p.value) for p in page.problems if p.severity == "warning"] == \
        [("Nytt fält som ingen känner", "warning", "Nytt fält som ingen känner:\nnågot värde")]  # label and value kept
    assert page.project["planned_participants"] == 60
    assert ("start_date", "note", "absent") in [(p.field, p.severity, p.kind) for p in page.problems]  # empty


def test_c_heading_gives_case_number_and_title():
    fields = parse_lines(text_to_lines("Cookies\n2015/00265 - Ett namn - med bindestreck\nRegion:\nStockholm\n"
                                       "Projektägare:\nX\n"))
    assert (fields.heading_case_number, fields.title) == ("2015/00265", "Ett namn - med bindestreck")


def test_banners_before_title_are_skipped():
    fields = parse_lines(text_to_lines("Logotyp på utskrifter\nStäng\n12 maj - Webbinarium om något\n"
                                       "Mer information och anmälan.\nRiktiga titeln\nProjektägareX\nRegionStockholm"))
    assert fields.title == "Riktiga titeln"


def test_html_h1_wins_over_a_banner_after_it():
    html = ("<html><body><h1>Titeln</h1><div class='notice'>Uppdaterad information om covid-19</div>"
            "<p><b>Projektägare</b>X AB</p><p><b>Region</b>Stockholm</p></body></html>")
    text = html_to_page_text(html)
    assert parse_lines(text.lines, text.headings).title == "Titeln"


def test_repeated_section_heading_is_dropped():
    fields = parse_lines(text_to_lines("T\nProjektägareX\nRegionStockholm\nSyfte\n\nSyfte\nAtt pröva.\n"))
    assert fields.sections == [("purpose", "Syfte", "Att pröva.")]


def test_lists_become_organisations_and_municipalities():
    page = page_of("a-english.txt")
    assert page.ok, page.problems
    assert [(m["name_as_written"], m["municipality_code"]) for m in page.municipalities] == [("Skövde", "1496")]


def test_english_labels():
    p = page_of("a-english.txt").project
    assert (p["owner"], p["esf_grant_sek"], p["total_budget_sek"], p["contact_phone"], p["phase"]) == \
        ("Skövde kommun", 1250000, 2500000, "+46500498000", "Genomförande")
    assert p["template"] == "A" and p["programme_period"] == "2007-2013"
    # an English page (its headings are English): its English labels are no change, so no warning
    assert not [p for p in page_of("a-english.txt").problems if p.kind in ("english_label", "swedish_label")]


def test_an_english_label_on_a_swedish_page_is_read_with_a_warning():
    text = (PAGES / "b-base.txt").read_text(encoding="utf-8").replace("Projektägare\n", "Project owner\n")
    page = parse_page(text.encode(), "b")
    assert page.ok and page.project["owner"] == "Region Halland"
    assert [(p.field, p.reason, p.value) for p in page.problems if p.kind == "english_label"] == \
        [("owner", "English label on a Swedish page", "Project owner")]


def test_text_after_a_bulleted_list_is_not_an_item():
    fields = parse_lines(text_to_lines("T\nProjektägareX\nRegionStockholm\nKommun\n • Solna\nSidfot med länkar\n"))
    assert fields.lists == {"municipality": ["Solna"]}
    assert fields.sections == [("other", None, "Sidfot med länkar")]


def test_html_blocks_inline_and_br():
    text = html_to_page_text("<html><body><p>Ett <b>fet</b> ord<br>ny rad</p><ul><li>a</li><li> b </li></ul>"
                             "<div>x&nbsp;&nbsp;y</div><!-- kommentar --><footer>sidfot</footer></body></html>")
    assert text.lines == ["Ett fet ord", "ny rad", "• a", "• b", "x y"]


def test_html_prefers_main_and_drops_nav():
    text = html_to_page_text("<html><body><nav>Meny</nav><p>utanför</p><main><p>inne</p></main></body></html>")
    assert text.lines == ["inne"]


def test_canonical_url_is_read():
    text = html_to_page_text('<html><head><link rel="canonical" href="https://www.esf.se/x/"></head>'
                             "<body><p>a</p></body></html>")
    assert text.canonical_url == "https://www.esf.se/x/"


def test_same_field_twice_keeps_first_and_warns():
    page = parse_page("T\nProjektägare\nA\nProjektägare\nB\nRegion\nStockholm\n".encode(), "twice")
    assert page.project["owner"] == "A"
    assert ("owner", "warning") in [(p.field, p.severity) for p in page.problems]


def test_a_page_with_twenty_thousand_partners_keeps_every_one():
    partners = [f"Samverkansförening nr {i} i Bänkeby" for i in range(20_000)]
    text = (PAGES / "b-base.txt").read_text(encoding="utf-8") + "\nSamarbetspartners\n"
    text += "".join(f"• {name}\n" for name in partners + partners[:100])  # a repeated name is listed once
    page = parse_page(text.encode(), "many-partners")
    assert page.ok, page.problems[:3]
    assert [o["name"] for o in page.organisations if o["role"] == "partner"] == partners


def test_a_heading_repeated_many_times_joins_its_texts_in_order():
    text = (PAGES / "b-base.txt").read_text(encoding="utf-8")
    text += "".join(f"\nSyfte\nDel {i} av syftet.\n" for i in range(5_000))
    page = parse_page(text.encode(), "many-sections")
    (purpose,) = [s for s in page.sections if s["section"] == "purpose"]
    assert purpose["text"].split("\n") == [f"Del {i} av syftet." for i in range(5_000)]
