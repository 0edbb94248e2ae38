"""One test per bad input: each is a reject with a reason or a recorded problem — never a crash or a wrong value."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from records.problems import ProblemRow
from schemas.validate import validate
from transform import parse_page
from transform.normalize import quoted

PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
BASE = (PAGES / "b-base.txt").read_text(encoding="utf-8")


def variant(old: str, new: str) -> bytes:
    assert old in BASE
    return BASE.replace(old, new).encode("utf-8")


def errors(page) -> list[tuple[str | None, str]]:
    return [(p.field, p.reason) for p in page.problems if p.severity == "error"]


def warned(page) -> list[tuple[str | None, str]]:
    """The page's field warnings (missing, unreadable, lenient, conflict); the page itself loads."""
    assert page.ok, page.problems
    return [(p.field, p.reason) for p in page.problems if p.severity == "warning" and p.kind]


def validation_warnings(page) -> list[ProblemRow]:
    result = validate([page])
    assert result.rejects == [] and len(result.projects) == 1
    return result.warnings


def validation_rejects(page) -> list[ProblemRow]:
    assert page.ok, page.problems
    return validate([page]).rejects


def test_base_page_is_clean():
    page = parse_page(BASE.encode(), "base")
    assert page.ok and page.problems == []
    assert validation_rejects(page) == []


def test_empty_file():
    assert errors(parse_page(b"", "empty")) == [(None, "empty page")]
    assert errors(parse_page(b"  \n\n ", "blank")) == [(None, "empty page")]


def test_binary_file():
    body = bytes(range(256)) * 40
    (problem,) = errors(parse_page(body, "bin"))
    assert problem[1].startswith("not a text page: binary content")


def test_png_image():
    body = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
    (problem,) = errors(parse_page(body, "img.png"))
    assert "binary" in problem[1]


def test_html_of_a_page_that_is_not_a_project():
    page = parse_page((PAGES / "not-a-project.html").read_bytes(), "news")
    assert errors(page) == [(None, "not a project page: no project fields found")]
    assert page.project is None


def test_page_cut_off_midway_text():
    cut = BASE[: BASE.index("Projektperiod")]
    page = parse_page(cut.encode(), "cut")
    assert ("start_date", "missing on the page") in warned(page)
    assert ("esf_grant_sek", "missing on the page") in warned(page)
    assert page.project["missing_fields"] == 4  # dates, grant and budget


def test_page_cut_off_midway_html():
    html = (PAGES / "b-script-entities.html").read_text(encoding="utf-8")
    cut = html[: html.index("<h2>Sammanfattning")]
    page = parse_page(cut.encode(), "cut.html")
    assert page.ok and errors(page) == []
    assert (None, "HTML document ends without </html>: the page may be cut off", "warning") in \
        [(p.field, p.reason, p.severity) for p in page.problems]


@pytest.mark.parametrize("amount", ["ca 5 milj kr", "5 milj", "3,2 MSEK", "tre miljoner", "1.5"])
def test_amount_that_is_not_exact(amount):
    page = parse_page(variant("3 200 000 kr", amount), "amount")
    assert warned(page) == [("esf_grant_sek", f"not an exact amount in kronor: {amount!r}")]
    assert page.project["esf_grant_sek"] is None and page.project["missing_fields"] == 1


def test_amount_with_ore_is_rounded_with_a_warning():
    page = parse_page(variant("3 200 000 kr", "4 719 182,50 kr"), "ore")
    assert page.ok
    assert page.project["esf_grant_sek"] == 4719183
    assert [(p.field, p.severity, p.kind) for p in page.problems] == [("esf_grant_sek", "warning", "lenient")]
    assert "rounded to 4719183" in page.problems[0].reason


def test_amount_dash_is_missing_with_a_warning():
    page = parse_page(variant("3 200 000 kr", "-"), "dash")
    assert page.project["esf_grant_sek"] is None
    assert warned(page) == [("esf_grant_sek", "missing on the page")]


def test_amount_zero_is_emptied_by_validation_with_a_warning():
    page = parse_page(variant("3 200 000 kr", "0 kr"), "zero")
    assert page.project["esf_grant_sek"] == 0
    (warning,) = validation_warnings(page)
    assert (warning.field, warning.reason, warning.value) == ("projects.esf_grant_sek", "greater_than(0)", "0")
    result = validate([page])
    assert pd.isna(result.projects.loc[0, "esf_grant_sek"]) and result.projects.loc[0, "missing_fields"] == 1
    assert result.field_problems[["field", "status", "stage"]].values.tolist() == \
        [["esf_grant_sek", "unreadable", "validate"]]


def test_grant_larger_than_budget_is_a_warning_and_both_are_kept():
    page = parse_page(variant("3 200 000 kr", "7 000 000 kr"), "grant")
    (warning,) = validation_warnings(page)
    assert warning.field == "projects.esf_grant_sek,projects.total_budget_sek"
    assert warning.value == "esf_grant_sek=7000000; total_budget_sek=6400000"
    assert validate([page]).projects.loc[0, "esf_grant_sek"] == 7000000


def test_impossible_date():
    page = parse_page(variant("2017-03-01-2019-02-28", "2011-02-30-2013-01-31"), "feb30")
    assert warned(page) == [("period", "impossible date: '2011-02-30'")]
    assert (page.project["start_date"], page.project["end_date"]) == (None, None)


def test_date_outside_plausible_range():
    page = parse_page(variant("2017-03-01-2019-02-28", "1999-12-01-2001-01-31"), "old")
    assert warned(page) == [("period", "date outside 2000–2035: '1999-12-01'")]


def test_unknown_region():
    page = parse_page(variant("\nVästsverige\n", "\nMellersta Götaland\n"), "region")
    assert warned(page) == [("region", "unknown region: 'Mellersta Götaland'")]
    assert (page.project["region"], page.project["region_code"]) == (None, None)


def test_windows_1252_bytes():
    page = parse_page(BASE.replace("Västsverige", "Östra Mellansverige").encode("cp1252"), "cp1252")
    assert page.ok
    assert page.project["region"] == "Östra Mellansverige"
    assert page.project["programme_area_name"] == "Öka övergångarna till arbete"


def test_latin_1_html_with_meta_charset():
    html = ('<html><head><meta charset="iso-8859-1"></head><body><h1>Ökad rörlighet</h1>'
            + "".join(f"<h4>{k}</h4><p>{v}</p>" for k, v in [
                ("Programområde", "1.1 Kompetensförsörjning"), ("Region", "Småland & Öarna"),
                ("Projektägare", "Växjö kommun"), ("Projektnummer", "2015/00265"),
                ("Projektperiod", "2015-11-01-2018-10-31"), ("Total projektbudget", "200 000 kr"),
                ("Beviljat ESF-stöd", "100 000 kr")])
            + "</body></html>")
    page = parse_page(html.encode("latin-1"), "latin1.html")
    assert page.ok, page.problems
    assert (page.project["title"], page.project["owner"], page.project["region"]) == \
        ("Ökad rörlighet", "Växjö kommun", "Småland och Öarna")


def test_fifty_megabyte_page_is_refused():
    body = BASE.encode() + b"x" * (50 * 1024 * 1024)
    (problem,) = errors(parse_page(body, "huge"))
    assert problem[1].startswith("page of 52,") and "over the 5,242,880-byte limit" in problem[1]


def test_script_and_entities_are_plain_text():
    page = parse_page((PAGES / "b-script-entities.html").read_bytes(), "script.html")
    assert page.ok, page.problems
    assert page.project["title"] == "Skript & entiteter <test>"
    assert page.project["owner"] == "Bygg & Anläggning AB"
    assert page.sections[0]["text"] == 'Text med "citat" & åäö och <script> som text.'
    assert "alert" not in str(page.to_json())


def test_programme_period_conflict_is_a_warning_and_no_period():
    page = parse_page(variant("2017/00345", "22-039-S04"), "conflict")
    assert ("programme_period", "programme period unclear: case number says 2021-2027, template says "
                                "2014-2020, programme area says 2014-2020") in warned(page)
    assert page.project["programme_period"] is None and page.project["case_number"] == "22-039-S04"
    assert page.project["missing_fields"] == 1


def test_bad_email_and_phone_are_errors_naming_the_field():
    page = parse_page(variant("test.testsson@exempel.se", "test.testsson(at)exempel"), "mail")
    assert warned(page) == [("contact_email", "not an e-mail address: 'test.testsson(at)exempel'")]
    assert page.project["contact_email"] is None


def test_same_project_at_two_addresses_keeps_the_page_read_last():
    from transform.batch import resolve_duplicates
    old = parse_page(BASE.encode(), "https://www.esf.se/zz-old-address/")
    new = parse_page(variant(old.project["title"], old.project["title"] + " (ny)"), "https://www.esf.se/a-new/")
    kept, superseded = resolve_duplicates([old, new])
    assert [p.source_key for p in kept] == ["https://www.esf.se/a-new/"]
    assert superseded == [old] and old.problems[-1].stage == "dedupe"


# Values out of range: a problem on the field with the raw value, never an exception (parse_page → validate).

def test_amount_beyond_any_budget_is_a_field_problem():
    raw = "12 345 678 901 234 567 890 kr"
    page = parse_page(variant("3 200 000 kr", raw), "huge-amount")
    assert warned(page) == [("esf_grant_sek", f"amount above the limit of 1 000 000 000 000 kr: {raw!r}")]
    assert page.problems[0].value == raw and page.project["esf_grant_sek"] is None
    assert validate([page]).rejects == []


def test_amount_at_the_limit_is_read():
    page = parse_page(variant("6 400 000 kr", "1 000 000 000 000 kr"), "limit")
    assert page.ok and page.project["total_budget_sek"] == 10**12


def test_amount_with_thousands_of_digits_is_a_field_problem():
    raw = "9" * 5000  # more digits than Python turns into an int by default
    page = parse_page(variant("3 200 000 kr", raw), "digits")
    assert warned(page) == [("esf_grant_sek", f"amount above the limit of 1 000 000 000 000 kr: {quoted(raw)}")]


@pytest.mark.parametrize("raw", ["-3 200 000 kr", "−3 200 000", "- 3200000 kr"])
def test_negative_amount_is_a_field_problem(raw):
    page = parse_page(variant("3 200 000 kr", raw), "negative")
    assert warned(page) == [("esf_grant_sek", f"negative amount: {raw!r}")]


@pytest.mark.parametrize("raw", ["99999999999999999999999", "1 000 001", "9" * 5000])
def test_absurd_participant_count_is_a_field_problem(raw):
    page = parse_page(variant("\n140\n", f"\n{raw}\n"), "participants")
    assert warned(page) == [("planned_participants", f"participant count above the limit of 1 000 000: {quoted(raw)}")]
    assert validate([page]).rejects == []


def test_negative_participant_count_is_a_field_problem():
    page = parse_page(variant("\n140\n", "\n-140\n"), "participants")
    assert warned(page) == [("planned_participants", "negative number: '-140'")]


def test_end_date_before_start_date_is_a_field_problem():
    page = parse_page(variant("2017-03-01-2019-02-28", "2019-02-28-2017-03-01"), "reversed")
    assert warned(page) == [("period", "end date 2017-03-01 is before start date 2019-02-28")]
    assert page.problems[0].value == "2019-02-28-2017-03-01"


def test_end_date_before_start_date_on_separate_lines():
    page = parse_page(variant("Projektperiod\n2017-03-01-2019-02-28",
                              "Startdatum\n2019-02-28\nSlutdatum\n2017-03-01"), "reversed-split")
    assert warned(page) == [("end_date", "end date 2017-03-01 is before start date 2019-02-28"),
                            ("start_date", "end date 2017-03-01 is before start date 2019-02-28")]
    assert page.problems[0].value == "2019-02-28 / 2017-03-01"


@pytest.mark.parametrize("raw", ["140 %", "-5 %", "100,5%"])
def test_cofinancing_rate_outside_0_to_1_is_a_field_problem(raw):
    page = parse_page(variant("\n140\n", f"\n140\nUnionens medfinansieringsgrad\n{raw}\n"), "rate")
    assert [f for f, _ in warned(page)] == ["cofinancing_rate"]
    assert page.problems[0].value == raw


def test_validate_empties_values_its_columns_cannot_hold():
    """A record built elsewhere (not by parse_page) with absurd values loads with them NULL, with warnings."""
    page = parse_page(BASE.encode(), "built-elsewhere")
    page.project.update(esf_grant_sek=10**20, total_budget_sek=2**63, planned_participants=5 * 10**6,
                        start_date="i morgon", cofinancing_rate=10**400)
    result = validate([page])
    assert result.rejects == [] and len(result.projects) == 1
    assert result.projects.loc[0, ["esf_grant_sek", "total_budget_sek", "planned_participants"]].isna().all()
    assert sorted((r.field, r.value) for r in result.warnings) == [
        ("projects.cofinancing_rate", str(10**400)), ("projects.esf_grant_sek", str(10**20)),
        ("projects.planned_participants", "5000000"), ("projects.start_date", "i morgon"),
        ("projects.total_budget_sek", str(2**63))]
    assert {r.reason for r in result.warnings} == {
        "not_representable: the column's type cannot hold the value", "less_than_or_equal_to(1000000)"}


# Decoding: UTF-8 with a few bad bytes stays UTF-8; real Windows-1252 pages stay Windows-1252.

def problems_of(page) -> list[tuple[str | None, str, str, str]]:
    """The page's problems, but for fields the short test pages leave out (missing, absent)."""
    return [(p.field, p.reason, p.severity, p.stage) for p in page.problems if p.kind not in ("missing", "absent")]


def test_utf8_with_a_few_bad_bytes_stays_utf8_with_a_warning():
    body = BASE.encode().replace("Ett påhittat projekt".encode(), b"Ett p\xffhittat proj\xc3kt")
    page = parse_page(body, "bad-bytes")
    assert page.ok, page.problems
    assert (page.project["region"], page.project["owner"]) == ("Västsverige", "Region Halland")
    assert page.sections[0]["text"].startswith("Ett p\ufffdhittat proj\ufffdkt")
    assert problems_of(page) == [(None, "2 invalid UTF-8 byte sequences replaced", "warning", "decode")]
    assert page.problems[0].value.startswith("Ett p\ufffdhittat proj\ufffdkt som bara")  # where, to look it up


def test_utf8_declared_in_the_header_with_a_bad_byte_stays_utf8():
    body = BASE.encode().replace(b"Test Testsson", b"Test Test\x96sson")
    page = parse_page(body, "declared", content_type="text/plain; charset=UTF-8")
    assert page.ok and page.project["region"] == "Västsverige"
    assert page.project["contact_name"] == "Test Test\ufffdsson"
    assert problems_of(page) == [(None, "1 invalid UTF-8 byte sequence replaced", "warning", "decode")]


def test_utf8_html_with_a_bad_byte_stays_utf8():
    html = (PAGES / "b-script-entities.html").read_bytes()
    body = html.replace("Sammanfattning".encode(), b"Sammanfattning\xe5", 1)
    page = parse_page(body, "bad.html")
    assert page.ok and page.project["owner"] == "Bygg & Anläggning AB"
    assert problems_of(page) == [(None, "1 invalid UTF-8 byte sequence replaced", "warning", "decode")]


def test_windows_1252_with_one_accidental_utf8_sequence_stays_windows_1252():
    # 'Â©' in Windows-1252 is the bytes C3 A9, which UTF-8 reads as 'é': one valid sequence among many bad.
    text = BASE.replace("Västsverige", "Östra Mellansverige").replace("Ett påhittat", "Ett Ã© påhittat")
    page = parse_page(text.encode("cp1252"), "cp1252")
    assert page.ok and page.problems == []
    assert page.project["region"] == "Östra Mellansverige"
    assert page.sections[0]["text"].startswith("Ett Ã© påhittat")


def test_page_with_a_byte_order_mark():
    page = parse_page(b"\xef\xbb\xbf" + BASE.encode(), "bom")
    assert page.ok and page.problems == []
    assert page.project["title"] == "Testprojektet Brofästet"


def test_page_with_a_byte_order_mark_and_a_bad_byte():
    body = b"\xef\xbb\xbf" + BASE.encode().replace(b"Test Testsson", b"Test \xc0Testsson")
    page = parse_page(body, "bom-bad")
    assert page.ok and page.project["title"] == "Testprojektet Brofästet"
    assert problems_of(page) == [(None, "1 invalid UTF-8 byte sequence replaced", "warning", "decode")]


@pytest.mark.parametrize("charset", ["nonsense-8", "utf-16", "ascii", "iso-8859-1"])
def test_a_wrong_charset_in_the_header_does_not_garble_a_utf8_page(charset):
    page = parse_page(BASE.encode(), "wrong-charset", content_type=f"text/plain; charset={charset}")
    assert page.ok, page.problems
    assert page.project["region"] == "Västsverige"


# Hostile pages: each is a problem on the page, never an exception.

HTML_FIELDS = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in [
    ("Programområde", "1.1 Kompetensförsörjning"), ("Region", "Stockholm"), ("Projektägare", "Bänkeby kommun"),
    ("Projektnummer", "2018/00999"), ("Projektperiod", "2018-01-01-2019-12-31"),
    ("Total projektbudget", "1 000 000 kr"), ("Beviljat ESF-stöd", "500 000 kr")])


def html_page(inner: str) -> bytes:
    return f"<html><body><h1>Djupa lådan</h1>{inner}</body></html>".encode()


def test_html_nested_two_thousand_deep_is_read():
    # the parser's default gives up at 256 levels, and a recursive walk at Python's recursion limit
    page = parse_page(html_page("<div>" * 1500 + f"<dl>{HTML_FIELDS}</dl>" + "</div>" * 1500), "deep.html")
    assert page.ok, page.problems
    assert (page.project["title"], page.project["owner"]) == ("Djupa lådan", "Bänkeby kommun")


def test_html_nested_deeper_than_the_parser_reads_is_a_warning():
    page = parse_page(html_page(f"<dl>{HTML_FIELDS}</dl>" + "<b>ord " * 3000), "deeper.html")
    assert page.ok and page.project["owner"] == "Bänkeby kommun"
    assert (None, "HTML nested too deep for the parser: the rest of the page is lost", "warning") in \
        [(p.field, p.reason, p.severity) for p in page.problems]


def test_stray_nul_bytes_are_removed_with_a_warning():
    body = variant("Region Halland", "Region Hal\x00land").replace(b"Test Testsson", b"Test\x00 Testsson")
    page = parse_page(body, "nul")
    assert page.ok and (page.project["owner"], page.project["contact_name"]) == ("Region Halland", "Test Testsson")
    assert problems_of(page) == [(None, "2 NUL characters removed", "warning", "decode")]


def test_stray_nul_byte_in_html_is_removed_with_a_warning():
    page = parse_page(html_page(f"<dl>{HTML_FIELDS}</dl>").replace(b"Stockholm", b"Stock\x00holm"), "nul.html")
    assert page.ok and page.project["region"] == "Stockholm"
    assert problems_of(page) == [(None, "1 NUL character removed", "warning", "decode")]


def test_a_field_label_that_is_also_a_heading_does_not_crash(monkeypatch):
    import dataclasses

    from transform import parser
    vocab = parser.labels()
    odd = dataclasses.replace(vocab, fields={**vocab.fields, "syfte": "name"})  # 'Syfte' is also a section
    monkeypatch.setattr(parser, "labels", lambda: odd)
    fields = parser.parse_lines(["Titel", "Syfte", "Ett namn", "Region", "Stockholm", "Syfte", "Text."])
    assert fields.values == {"name": "Ett namn", "region": "Stockholm"}


def test_a_megabyte_value_is_quoted_short_in_the_reason():
    raw = "1" * (1024 * 1024)
    page = parse_page(variant("3 200 000 kr", raw), "long")
    (problem,) = page.problems
    assert problem.value == raw
    assert problem.reason == f"amount above the limit of 1 000 000 000 000 kr: {'1' * 80!r}… (1,048,576 characters)"


@pytest.mark.parametrize("body", [
    b"<html><head><title>x</title></head><body> \n </body></html>", "\u00a0\u2003\n\u3000".encode(),
    b"<br>" * 1000, b"<", b"<!-- -->", b"<?xml version='1.0'?>", b":" * (4 * 1024 * 1024),
    html_page("<table><tr><td>" + "a" * (1024 * 1024) + "</td></tr></table>"),
], ids=["markup-only", "unicode-spaces", "br-only", "lone-lt", "comment", "xml-decl", "4mb-line", "1mb-cell"])
def test_pages_with_no_project_are_a_problem_not_an_exception(body):
    page = parse_page(body, "hostile")
    assert errors(page) == [(None, "not a project page: no project fields found")]
    assert validate([page]).rejects == []
