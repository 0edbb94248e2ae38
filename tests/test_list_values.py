"""The official lists' values, field by field (transform.list_values), and property tests of the amount, rate and date
normalisers: round trips of formatted values, and nothing but ValueProblem on any text."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transform import list_values as lv
from transform import normalize as nz
from transform.limits import EARLIEST_DATE, LATEST_DATE, MAX_AMOUNT_SEK
from records.lists import NotAList
from transform.lists import read_list

LISTS = Path(__file__).resolve().parent / "fixtures" / "lists"
SWEDISH_MONTHS = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
                  "november", "december"]


def read_all(body: bytes):
    reading = read_list(body)
    rows, problems = [], []
    for chunk in reading.chunks:
        rows += chunk.rows
        problems += chunk.problems
    return rows, problems


def one(heading: str, value: str, kohesio: bool = False):
    """One row with one value under `heading`: (the row, its problems)."""
    identity = "Operation_Unique_Identifier,{h}\nQ1,{v}\n" if kohesio else "Diarienummer;{h}\n23-041-S05;{v}\n"
    value = f'"{value}"' if ("," in value and kohesio) or ";" in value else value
    rows, problems = read_all(identity.format(h=heading, v=value).encode())
    return rows[0], problems


def total(fn, *args):
    try:
        return fn(*args)
    except nz.ValueProblem:
        return None


# --- case numbers and identifiers --------------------------------------------------------------------------------

def test_case_numbers_written_with_spaces_dashes_or_lower_case():
    rows, problems = read_all((LISTS / "case_numbers.csv").read_bytes())
    assert [(r.row_number, r.external_id, r.case_number) for r in rows] == [
        (2, "2015/00738", "2015/00738"), (3, "22-002-S01", "22-002-S01"), (4, "22-002-S01", "22-002-S01"),
        (5, "2015/738", None)]
    warning = [p for p in problems if p.row_number == 5]
    assert [(p.field, p.value, p.severity) for p in warning] == [("case_number", "2015/738", "warning")]


@pytest.mark.parametrize("written, expected", [(" 2015 / 00738", "2015/00738"), ("22-002-s01", "22-002-S01"),
                                               ("22\u2013002\u2013S01", "22-002-S01"), ("-", None)])
def test_case_number(written, expected):
    assert lv.case_number(written) == expected


@pytest.mark.parametrize("local, case", [("2021SE05SFPR001_22-002-S01", "22-002-S01"), ("22-002-s01", "22-002-S01"),
                                         ("2014SE05M9OP001_2015/00738", "2015/00738"), ("A_B_2015/00738", "2015/00738"),
                                         ("SMA-HOGLAND-0042", None), ("2021SE05SFPR001_", None), (None, None)])
def test_kohesio_case_number_after_the_last_underscore(local, case):
    assert lv.kohesio_case_number(local) == case


@pytest.mark.parametrize("uri, item", [("https://linkedopendata.eu/entity/Q4039171", "Q4039171"),
                                       ("https://linkedopendata.eu/entity/Q4039171/", "Q4039171"),
                                       ("Q4039171", "Q4039171"), (None, None)])
def test_kohesio_item_id(uri, item):
    assert lv.kohesio_item(uri) == item


# --- amounts -----------------------------------------------------------------------------------------------------

def test_amounts_file():
    rows, problems = read_all((LISTS / "amounts.csv").read_bytes())
    assert [(r.total_budget, r.eu_grant) for r in rows] == [
        (Decimal("1234567.50"), Decimal("1234567.50")), (Decimal("1234567.50"), Decimal("7657289.97")),
        (Decimal("11428791"), Decimal("11428791")), (None, None), (None, None), (None, None), (None, None),
        (Decimal("1.23"), None), (Decimal("1234567.50"), Decimal("1234567"))]
    assert [(p.row_number, p.field, p.value) for p in problems] == [
        (7, "total_budget", "10^22"), (7, "eu_grant", "1e22"), (8, "total_budget", "99 999 999 999 999"),
        (8, "eu_grant", "-500"), (9, "total_budget", "1,234"), (9, "eu_grant", "12 34")]
    # '-', 'saknas' and empty: None without a warning; '1,234' read as 1.23 with one (below)
    assert problems[4].reason == "amount '1,234' has more than two decimals: rounded to 1.23"


@pytest.mark.parametrize("written, expected", [
    ("1 234 567,50", "1234567.50"), ("1\u00a0234\u00a0567,50", "1234567.50"), ("1\u202f234\u202f567,50", "1234567.50"),
    ("7657289.97", "7657289.97"), ("11 428 791", "11428791"), ("11 428 791 kr", "11428791"), ("SEK 1 000", "1000"),
    ("1.234.567,50", "1234567.50"), ("1,234,567.50", "1234567.50"), ("0", "0"), ("7657289.9700001", "7657289.97"),
])
def test_amount_forms(written, expected):
    assert lv.amount(written, decimal_comma=True) == Decimal(expected)


@pytest.mark.parametrize("written", ["-", "saknas", "", "  ", "Saknas", "uppgift saknas", None])
def test_amount_placeholders_are_none_without_alarm(written):
    assert lv.amount(written, decimal_comma=True) is None


@pytest.mark.parametrize("written", ["10^22", "1e22", "1E+22", "99 999 999 999 999", "-500", "\u2212500", "12 34",
                                     "1.234,567.8", "ett tusen", "1 234 567,50 EUR 3", "∞"])
def test_absurd_or_unreadable_amounts_raise(written):
    with pytest.raises(nz.ValueProblem):
        lv.amount(written, decimal_comma=True)


def test_the_1_234_ambiguity_is_settled_by_the_kind_of_file():
    """The list of operations writes decimal commas (Swedish): '1,234' is 1,234 kr, held to öre. Kohesio writes dot
    decimals, so a comma there groups thousands: '1,234' is 1 234."""
    assert lv.amount("1,234", decimal_comma=True) == Decimal("1.23")
    assert lv.read_amount("1,234", decimal_comma=True) == (
        Decimal("1.23"), "amount '1,234' has more than two decimals: rounded to 1.23")
    assert lv.read_amount("1,234", decimal_comma=False) == (Decimal("1234"), None)
    assert lv.read_amount(7657289.9700001, decimal_comma=False) == (Decimal("7657289.97"), None)
    assert lv.amount("1,234", decimal_comma=False) == Decimal("1234")
    assert one("Total projektbudget", "1,234")[0].total_budget == Decimal("1.23")
    assert one("Total_Eligible_Expenditure_amount", "1,234", kohesio=True)[0].total_budget == Decimal("1234")
    assert one("Total_Eligible_Expenditure_amount", "1,5", kohesio=True)[0].total_budget == Decimal("1.50")


def test_amount_cells_of_a_workbook():
    assert lv.amount(7657289.97, decimal_comma=False) == Decimal("7657289.97")
    assert lv.amount(11428791, decimal_comma=True) == Decimal("11428791")
    with pytest.raises(nz.ValueProblem):
        lv.amount(1e22, decimal_comma=True)
    with pytest.raises(nz.ValueProblem):
        lv.amount(float("nan"), decimal_comma=True)


@given(st.text())
def test_amount_never_raises_anything_but_value_problem(text):
    total(lv.amount, text, True)
    total(lv.amount, text, False)


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_SEK * 100 - 1),
       st.sampled_from([" ", "\u00a0", "\u202f", ""]), st.booleans())
def test_amount_round_trip_swedish(cents, separator, with_ore):
    kronor, ore = divmod(cents, 100)
    written = f"{kronor:,}".replace(",", separator) + (f",{ore:02d}" if with_ore else "")
    assert lv.amount(written, decimal_comma=True) == (Decimal(cents) / 100 if with_ore else Decimal(kronor))


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_SEK * 100 - 1))
def test_amount_round_trip_dot_decimals(cents):
    written = f"{cents // 100}.{cents % 100:02d}"
    assert lv.amount(written, decimal_comma=False) == Decimal(cents) / 100
    assert lv.amount(float(written), decimal_comma=False) == Decimal(cents) / 100


# --- rates -------------------------------------------------------------------------------------------------------

def test_rates_file():
    rows, problems = read_all((LISTS / "rates.csv").read_bytes())
    assert [r.cofinancing_rate for r in rows] == [Decimal("0.9")] * 5 + [Decimal("0.4")] + [None] * 4
    assert [(p.row_number, p.value) for p in problems] == [(8, "150"), (9, "-5"), (10, "hälften")]


@pytest.mark.parametrize("written, expected", [("90 %", "0.9"), ("90%", "0.9"), ("0,9", "0.9"), ("0.9", "0.9"),
                                               ("90.0", "0.9"), ("40", "0.4"), ("100", "1"), ("1", "1"),
                                               ("1 %", "0.01"), ("0", "0"), ("33,3 %", "0.333"), (0.9, "0.9"),
                                               (90, "0.9")])
def test_rate_forms(written, expected):
    assert lv.rate(written) == Decimal(expected)


@given(st.text())
def test_rate_never_raises_anything_but_value_problem(text):
    total(lv.rate, text)


@given(st.integers(min_value=0, max_value=1000))
def test_rate_round_trip(tenths_of_percent):
    share = Decimal(tenths_of_percent) / 1000
    percent = share * 100
    assert lv.rate(f"{percent} %") == share
    assert lv.rate(f"{percent}%".replace(".", ",")) == share
    assert lv.rate(str(share)) == share
    assert lv.rate(str(share).replace(".", ",")) == share
    if percent > 1:  # a bare number above 1 is a percentage
        assert lv.rate(str(percent)) == share


# --- dates -------------------------------------------------------------------------------------------------------

def test_dates_file():
    rows, problems = read_all((LISTS / "dates.csv").read_bytes())
    assert [(r.start_date, r.end_date) for r in rows] == [
        (date(2023, 9, 1), date(2023, 9, 1)), (date(2023, 9, 1), date(2023, 9, 1)),
        (date(2023, 9, 1), date(2026, 6, 30)), (None, None), (None, None), (None, None), (None, None), (None, None)]
    assert [(p.row_number, p.field) for p in problems] == [
        (5, "start_date"), (5, "end_date"), (6, "start_date"), (6, "end_date"), (7, "start_date"), (7, "end_date"),
        (8, "start_date"), (8, "end_date")]
    assert "end date 2025-12-31 is before start date 2026-01-01" in problems[-1].reason


@pytest.mark.parametrize("written", ["2023-09-01", "2023-09-01 00:00:00", "2023-09-01T00:00:00", "1 september 2023",
                                     "1 Sept. 2023", "01 sep 2023", "45170", "45170.0", 45170, 45170.0,
                                     datetime(2023, 9, 1), date(2023, 9, 1)])
def test_date_forms(written):
    assert lv.list_date(written) == date(2023, 9, 1)


def test_excel_serials_count_from_1899_12_30():
    assert lv.list_date("36526") == date(2000, 1, 1)
    with pytest.raises(nz.ValueProblem, match="outside"):
        lv.list_date("2023")  # a year alone is serial 2023, in 1905


@given(st.text())
def test_date_never_raises_anything_but_value_problem(text):
    total(lv.list_date, text)


@given(st.dates(min_value=EARLIEST_DATE, max_value=LATEST_DATE))
def test_date_round_trip(day):
    serial = (day - date(1899, 12, 30)).days
    for written in (day.isoformat(), f"{day.isoformat()} 00:00:00", f"{day.day} {SWEDISH_MONTHS[day.month - 1]} "
                    f"{day.year}", str(serial), datetime.combine(day, datetime.min.time())):
        assert lv.list_date(written) == day


@given(st.dates(min_value=date(1900, 3, 1), max_value=date(2999, 12, 31)))
def test_dates_outside_the_limits_are_refused(day):
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        with pytest.raises(nz.ValueProblem):
            lv.list_date(day.isoformat())
        with pytest.raises(nz.ValueProblem):
            lv.list_date(str((day - date(1899, 12, 30)).days))


def test_xlsx_datetime_cells_become_dates():
    reading = read_list((LISTS / "kohesio.xlsx").read_bytes())
    row = next(reading.chunks).rows[0]
    assert (row.start_date, row.end_date) == (date(2015, 9, 1), date(2018, 8, 31))
    assert lv.list_date(datetime(2023, 9, 1) + timedelta(hours=12)) == date(2023, 9, 1)


# --- the other fields --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("written, code", [("109.0", "109"), ("109", "109"), (109.0, "109"), (109, "109"),
                                           ("109 - Aktiv inkludering", "109"), ("  146  ", "146")])
def test_intervention_field_code(written, code):
    assert lv.intervention(written) == code


def test_intervention_field_in_a_file_and_a_bad_one():
    assert one("Category_Of_Intervention", "109.0", kohesio=True)[0].intervention_type == "109"
    row, problems = one("Interventionsområde", "okänd")
    assert row.intervention_type is None and [(p.field, p.value) for p in problems] == [("intervention_type", "okänd")]


def test_summaries_with_html_become_plain_text():
    assert lv.plain_text("<p>Ett &amp; två</p><p>Tre<br>fyra</p><ul><li>fem</li></ul>") == \
        "Ett & två\nTre\nfyra\n• fem"
    assert lv.plain_text("<script>alert(1)</script><p>Text</p>") == "Text"
    assert lv.plain_text("Rad ett\n\n  Rad  två ") == "Rad ett\nRad två"
    assert lv.plain_text("<p></p>") is None and lv.plain_text("-") is None
    row, _ = one("Sammanfattning engelsk", "<b>Bold</b> words")
    assert row.summary_en == "Bold words"


@pytest.mark.parametrize("written, number", [("802012-3456", "8020123456"), ("8020123456", "8020123456"),
                                             ("802012 3456", "8020123456"), ("SE802012345601", "8020123456"),
                                             ("16802012-3456", "8020123456"), (8020123456, "8020123456"),
                                             ("19701231-1234", "7012311234")])
def test_organisation_numbers_as_the_pages_write_them(written, number):
    assert lv.org_number(written) == number


def _read(fn, cell):
    try:
        return fn(cell)
    except nz.ValueProblem as exc:
        return f"problem: {exc}"


@given(st.from_regex(r"[0-9١]{6}-?[0-9٢]{4}", fullmatch=True)
       | st.text(alphabet="0123456789-  SE١٢\u00a0", max_size=16))
def test_the_plain_organisation_number_path_reads_as_the_general_one(written):
    """'212000-1124' is read by one regular expression; any text reads as the general reading reads it."""
    assert _read(lv.org_number, written) == _read(lv._org_number, written)


def test_a_bad_organisation_number_is_a_warning():
    row, problems = one("Projektägare organisationsnummer", "12-34")
    assert row.beneficiary_org_number is None
    assert [(p.row_number, p.field, p.value) for p in problems] == [(2, "beneficiary_org_number", "12-34")]


@pytest.mark.parametrize("cci, period", [("2021SE05SFPR001", "2021-2027"), ("2014SE05M9OP001", "2014-2020"),
                                         ("2021SE05SFPR", "2021-2027"), ("2007SE052PO001", "2007-2013")])
def test_programme_period_from_the_cci(cci, period):
    assert lv.period_of_cci(lv.cci(cci)) == period
    assert one("Program CCI", cci)[0].programme_period == period


def test_programme_period_from_kohesio_and_its_conflict_with_the_cci():
    assert one("Programming_Period", "2021-2027", kohesio=True)[0].programme_period == "2021-2027"
    assert one("Programming_Period", "2014 – 2020", kohesio=True)[0].programme_period == "2014-2020"
    rows, problems = read_all(b"Operation_Unique_Identifier,Programme_Code,Programming_Period\n"
                              b"Q1,2021SE05SFPR001,2014-2020\n")
    assert rows[0].programme_period == "2021-2027"
    assert [p.field for p in problems] == ["programme_period"]


def test_programme_period_from_the_case_number_when_nothing_else_says():
    assert one("Namn", "x")[0].programme_period == "2021-2027"


@pytest.mark.parametrize("written, code", [("A", "A"), ("b", "B"), ("Programområde 2", "2"),
                                           ("2.1 Öka övergångarna till arbete", "2"),
                                           ("B - Öka möjligheten till arbete", "B"), ("Priority C", "C"),
                                           ("C: Minska risken för ekonomisk utsatthet", "C")])
def test_programme_area_code(written, code):
    assert lv.programme_area(written) == code


def test_a_programme_area_of_another_period_is_a_warning():
    rows, problems = read_all("Diarienummer;Programområde;Program CCI\n23-041-S05;2;2021SE05SFPR001\n"
                              "23-041-S06;Arbete;2021SE05SFPR001\n".encode())
    assert [r.programme_area_code for r in rows] == [None, None]
    assert [(p.row_number, p.field, p.value) for p in problems] == [
        (2, "programme_area_code", "2"), (3, "programme_area_code", "Arbete")]


def test_specific_objective():
    assert one("Specifikt mål", "A2A")[0].specific_objective == "A2A"
    assert one("Specifikt mål", "2.2 Öka övergångarna")[0].specific_objective == "2.2"
    row, problems = one("Specifikt mål", "ingen aning")
    assert row.specific_objective is None and problems[0].field == "specific_objective"


def test_currency_sek_for_the_list_and_kohesios_own():
    assert one("Namn", "x")[0].currency == "SEK"
    assert one("Total_Eligible_Expenditure_Currency", "EUR", kohesio=True)[0].currency == "EUR"
    assert one("Total_Eligible_Expenditure_Currency", "sek", kohesio=True)[0].currency == "SEK"
    row, problems = one("Total_Eligible_Expenditure_Currency", "kronor och ören", kohesio=True)
    assert row.currency is None and problems[0].field == "currency"


def test_kohesio_fund_and_country_fall_back_to_their_second_column():
    rows, _ = read_all(b"Operation_Unique_Identifier,Fund_Name,CountryCode\nQ1,European Social Fund Plus,SE\n")
    assert (rows[0].fund, rows[0].country) == ("European Social Fund Plus", "SE")


def test_free_text_is_trimmed_and_placeholders_are_none():
    assert one("Stödmottagare", "  Umeå   kommun ")[0].beneficiary == "Umeå kommun"
    assert one("Stödmottagare", "saknas")[0].beneficiary is None


# --- the whole reader ----------------------------------------------------------------------------------------

HEADINGS = ("Diarienummer / Operation ID;Total projektbudget / Total budget SEK;Startdatum / Start date;"
            "Unionens medfinansieringsgrad / Union co-financing rate;Sammanfattning / Summary;"
            "Programområde / Priority")


@settings(max_examples=60, deadline=None)
@given(st.text())
def test_any_text_under_the_headings_gives_rows_or_problems_never_an_exception(text):
    rows, problems = read_all(f"{HEADINGS}\n{text}".encode())
    assert all(p.row_number and p.row_number >= 2 for p in problems)
    assert all(r.external_id for r in rows)


@settings(max_examples=60, deadline=None)
@given(st.binary())
def test_any_bytes_are_a_list_or_refused_with_not_a_list(body):
    try:
        read_all(body)
    except NotAList as refused:
        assert "\n" not in str(refused)
