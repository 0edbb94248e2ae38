"""Golden rows of the official lists' fixtures, written out in full, and their agreement with the bundled sample
pages as the page parser reads them (the facts the loader's matching rests on)."""
from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from records.lists import ListRow
from transform import parse_page
from transform.lists import read_list

LISTS = Path(__file__).resolve().parent / "fixtures" / "lists"
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def rows_of(name: str) -> list[ListRow]:
    """The rows of a fixture, which reads without a problem."""
    rows = []
    for chunk in read_list((LISTS / name).read_bytes()).chunks:
        assert chunk.problems == []
        rows += chunk.rows
    return rows


def by_case(rows: list[ListRow]) -> dict[str, ListRow]:
    return {r.case_number: r for r in rows if r.case_number}


def golden(row: ListRow, expected: ListRow) -> None:
    assert len(row.sha256) == 64
    assert dataclasses.replace(row, sha256="") == expected


def test_golden_operations_2015_00738():
    rows = rows_of("operations.csv")
    golden(by_case(rows)["2015/00738"], ListRow(
        kind="operations", row_number=7, external_id="2015/00738", case_number="2015/00738",
        name="Vägen framåt Exempeldalen", name_en=None, beneficiary="Samordningsförbundet Exempeldalen",
        beneficiary_org_number="2220000738", beneficiary_city="KÖPING", country="Sverige", programme_area_code="2",
        specific_objective="2.1", intervention_type="102", total_budget=Decimal("11428791.00"),
        eu_grant=Decimal("7623638.00"), currency="SEK", cofinancing_rate=Decimal("0.67"),
        start_date=date(2015, 9, 1), end_date=date(2018, 8, 31),
        summary="Stöd till arbete för unga vuxna. Varje deltagare har en egen coach.", summary_en=None, fund="ESF",
        programme_cci="2014SE05M9OP001", programme_period="2014-2020", sha256="", duplicate_of=None))


def test_golden_operations_esf_plus_with_html_list():
    rows = rows_of("operations.csv")
    golden(by_case(rows)["24-118-S02"], ListRow(
        kind="operations", row_number=3, external_id="24-118-S02", case_number="24-118-S02", name="Vägval Umeå",
        name_en=None, beneficiary="UMEÅ KOMMUN", beneficiary_org_number="2120009901", beneficiary_city="UMEÅ",
        country="Sverige", programme_area_code="C", specific_objective="C1", intervention_type="163",
        total_budget=Decimal("8640500.00"), eu_grant=Decimal("5184300.00"), currency="SEK",
        cofinancing_rate=Decimal("0.6"), start_date=date(2024, 9, 1), end_date=date(2027, 8, 31),
        summary="Familjeteam för hushåll med långvarigt ekonomiskt bistånd.\n• Familjesamtal\n• Vägledning",
        summary_en="Family teams for households on long-term social assistance.", fund="ESF+",
        programme_cci="2021SE05SFPR001", programme_period="2021-2027", sha256=""))


def test_golden_kohesio_2015_00738():
    rows = rows_of("kohesio.csv")
    golden(rows[0], ListRow(
        kind="kohesio", row_number=2, external_id="Q4039171", case_number="2015/00738",
        name="Vägen framåt Exempeldalen", name_en="The way forward in Exempeldalen",
        beneficiary="Samordningsförbundet Exempeldalen", beneficiary_org_number="2220000738", beneficiary_city=None,
        country="Sweden", programme_area_code=None, specific_objective=None, intervention_type="102",
        total_budget=Decimal("11428791.00"), eu_grant=Decimal("7657289.97"), currency="SEK",
        cofinancing_rate=Decimal("0.67"), start_date=date(2015, 9, 1), end_date=date(2018, 8, 31),
        summary="Stöd till arbete för unga vuxna.", summary_en="Support into work for young adults.", fund="ESF",
        programme_cci="2014SE05M9OP001", programme_period="2014-2020", sha256=""))


def test_golden_kohesio_row_for_the_fallback_match():
    rows = rows_of("kohesio.csv")
    golden(rows[5], ListRow(
        kind="kohesio", row_number=7, external_id="Q9900701", case_number=None, name="Nya spår Höglandet",
        name_en="New tracks in Höglandet", beneficiary="Arbetsmarknadsförbundet Höglandsporten",
        beneficiary_org_number="2220004478", beneficiary_city=None, country="Sweden", programme_area_code=None,
        specific_objective=None, intervention_type="134", total_budget=Decimal("5310000.00"),
        eu_grant=Decimal("2124000.00"), currency="SEK", cofinancing_rate=Decimal("0.4"),
        start_date=date(2025, 3, 1), end_date=date(2028, 2, 29), summary="Korta yrkesutbildningar på Höglandet.",
        summary_en="Short vocational courses in Höglandet.", fund="ESF+", programme_cci="2021SE05SFPR001",
        programme_period="2021-2027", sha256=""))


@pytest.mark.parametrize("page", ["c-23-041-s05-yrkesnyckeln.txt", "c-24-118-s02-vagval-umea.txt",
                                  "c-25-007-s01-nya-spar-hoglandet.html", "c-2019-00512-kustporten.txt",
                                  "c-2020-00733-sprakbron.html"])
def test_list_rows_carry_the_sample_pages_facts_as_the_page_parser_reads_them(page):
    project = parse_page((SAMPLES / page).read_bytes(), page).project
    rows = rows_of("operations.csv")
    row = by_case(rows)[project["case_number"]]
    assert (row.start_date, row.end_date, row.programme_period) == (
        project["start_date"], project["end_date"], project["programme_period"])
    assert row.programme_area_code == project["programme_area_code"]
    assert row.cofinancing_rate == Decimal(str(project["cofinancing_rate"]))
    if project["owner_org_number"]:
        assert row.beneficiary_org_number == project["owner_org_number"]
    kohesio = rows_of("kohesio.csv")
    twin = by_case(kohesio).get(project["case_number"]) or next(
        r for r in kohesio if r.beneficiary_org_number == project["owner_org_number"] and r.name == project["title"]
        and r.start_date == project["start_date"])
    assert twin.start_date == project["start_date"]


def test_the_2015_00738_pair_differs_only_in_the_grant():
    operations = rows_of("operations.csv")
    kohesio = rows_of("kohesio.csv")
    listed, known = by_case(operations)["2015/00738"], by_case(kohesio)["2015/00738"]
    assert (listed.total_budget, known.total_budget) == (Decimal("11428791"), Decimal("11428791"))
    assert (listed.eu_grant, known.eu_grant) == (Decimal("7623638"), Decimal("7657289.97"))
    assert (listed.start_date, listed.end_date) == (known.start_date, known.end_date)


def test_the_eur_row_keeps_its_currency_and_a_row_without_page_is_there():
    kohesio = rows_of("kohesio.csv")
    operations = rows_of("operations.csv")
    assert (by_case(kohesio)["2019/00512"].currency, by_case(kohesio)["2019/00512"].total_budget) == (
        "EUR", Decimal("952340.60"))
    assert all(r.currency == "SEK" for r in operations)
    assert "23-077-S03" in by_case(operations)
    assert not list(SAMPLES.glob("c-23-077-s03*"))


