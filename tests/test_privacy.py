"""Personal data has one definition (records/project.py's `personal=True`) and `--without-contacts` withholds it
everywhere it could travel: every table of the published file, every export (CSV, Excel CSV, Parquet, XLSX), the
HTML report, the run report and its Prefect artifact, the search index. The pages hold contacts the normalizers
cannot read (an address with `(at)`, `070-ABC`, a name in the phone field and in a number field) and a contact on
a line no label explains. All names and addresses are invented."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from cli import cli
from load.redact import personal_field_sql, shapes_sql
from records.personal import WITHHELD, WITHHELD_PROBLEM, is_personal_field, redact_text
from records.project import PERSONAL, PROJECT_COLUMNS
from service import run as service
from service.run import RunSettings

HEAD = """Programområde
2.2 Öka övergångarna till arbete
Region
Östra Mellansverige
Projektägare
{owner}
Projektnummer
{case}
"""
TAIL = """Projektperiod
2018-09-01-2021-08-31
Total projektbudget
1 000 000 kr
Beviljat ESF-stöd
500 000 kr
"""
PAGES = {
    # an address and a phone the normalizers cannot read
    "unreadable.txt": "Brohuset Testköping\n\n" + HEAD.format(owner="Stiftelsen Brohuset", case="2018/00901") + TAIL
    + "Kontaktperson\nTuva Låtsasson\nE-post\ntuva.latsasson(at)exempel.org\nTelefonnummer\n070-ABC\n\n"
      "Sammanfattning\n\nProjektet ger unga vuxna i Testköping stöd att gå vidare till arbete.\n",
    # the contact's name in the phone field and in a number field
    "wrong-field.txt": "Vägvisaren Låtsasby\n\n" + HEAD.format(owner="Låtsasby kommun", case="2018/00902")
    + "Planerat antal deltagare\nGreta Fejksdotter\n" + TAIL
    + "Kontaktperson\nGreta Fejksdotter\nE-post\ngreta.fejksdotter@exempel.org\nTelefonnummer\nGreta Fejksdotter\n\n"
      "Sammanfattning\n\nVägvisaren ger nyanlända kvinnor i Låtsasby vägledning mot arbete.\n",
    # a contact on a line that no label explains
    "stray-line.txt": "Nya steg Hittepå\n\n" + HEAD.format(owner="Hittepå kommun", case="2018/00903")
    + "Mejla oss på olle.pahittad(at)exempel.org eller ring 070-123 45 67\n" + TAIL
    + "Kontaktperson\nOlle Påhittad\n\nSammanfattning\n\nNya steg ger unga i Hittepå en väg till arbete.\n",
}
# What must never be found once withheld (compared lower-cased): names, addresses, phones, as written and as read.
INVENTED = ("tuva låtsasson", "låtsasson", "latsasson", "070-abc", "greta fejksdotter", "fejksdotter",
            "olle.pahittad", "olle påhittad", "070-123 45 67", "46701234567")


def leaks(text: str) -> list[str]:
    low = text.lower()
    return [v for v in INVENTED if v in low]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """The pages published twice: with contacts, and without (`--without-contacts`)."""
    root = tmp_path_factory.mktemp("privacy")
    pages = root / "pages"
    pages.mkdir()
    for name, text in PAGES.items():
        (pages / name).write_text(text, encoding="utf-8")
    out = {}
    for name, without in (("full", False), ("private", True)):
        db = root / name / "esf.duckdb"
        db.parent.mkdir()
        report = service.refresh(RunSettings(db=str(db), sources=(str(pages),), without_contacts=without))
        out[name] = (db, report)
    return out


def every_text(db: Path) -> dict[str, str]:
    """Every table of a DuckDB file (the search index's too), its rows as one text."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
                             "current_database()").fetchall()
        return {f"{s}.{t}": "\n".join(map(str, con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()))
                for s, t in tables}
    finally:
        con.close()


def test_personal_columns_are_marked_where_they_are_declared():
    assert PERSONAL == ("contact_name", "contact_email", "contact_phone")
    assert [c.name for c in PROJECT_COLUMNS if c.personal] == list(PERSONAL)


def test_the_full_file_holds_the_unreadable_contacts_in_its_problem_texts(runs):
    """Without the flag the values are there (so the greps below can find them): in `warnings` and friends."""
    texts = every_text(runs["full"][0])
    assert "070-abc" in leaks(texts["main.warnings"]) and "olle.pahittad" in leaks(texts["main.warnings"])
    assert "fejksdotter" in leaks(texts["main.project_field_problems"])


def test_no_table_of_the_contact_free_file_holds_a_contact(runs):
    found = {table: leaks(text) for table, text in every_text(runs["private"][0]).items() if leaks(text)}
    assert found == {}


def test_problems_keep_their_rows_and_lose_only_the_personal_text(runs):
    def rows(db: Path) -> list[tuple]:
        con = duckdb.connect(str(db), read_only=True)
        try:
            return con.execute("SELECT source_key, field, reason, value FROM warnings ORDER BY ALL").fetchall()
        finally:
            con.close()
    full, private = rows(runs["full"][0]), rows(runs["private"][0])
    assert len(full) == len(private)
    about_contacts = [r for r in private if r[1] in PERSONAL]
    assert about_contacts and all(r[2] == WITHHELD_PROBLEM and r[3] is None for r in about_contacts)
    participants = [r for r in private if r[1] == "planned_participants" and "wrong-field" in r[0]]
    assert [(r[2], r[3]) for r in participants] == [(f"not a whole number: '{WITHHELD}'", WITHHELD)]
    stray = [r for r in private if "stray-line" in r[0] and r[2].startswith("unknown label")]
    assert [r[1] for r in stray] == [f"Mejla oss på {WITHHELD} eller ring {WITHHELD}"]


@pytest.mark.parametrize("fmt", [("csv",), ("csv", "--excel"), ("csv", "--safe-csv"), ("parquet",), ("xlsx",)])
def test_exports_without_contacts_hold_none(runs, tmp_path, fmt):
    """From the file with contacts, `export --without-contacts`; from the contact-free file, a plain export."""
    for db, extra in ((runs["full"][0], ["--without-contacts"]), (runs["private"][0], [])):
        out = tmp_path / db.parent.name
        result = CliRunner().invoke(cli, ["export", "--db", str(db), "--out", str(out), "--format", *fmt, *extra])
        assert result.exit_code == 0, result.output
        files = [p for p in out.rglob("*") if p.is_file()]
        assert any(p.stem == "warnings" or p.parent.name == "warnings" for p in files)
        found = {str(p.relative_to(out)): leaks(_file_text(p)) for p in files if leaks(_file_text(p))}
        assert found == {}


def test_an_export_with_contacts_holds_them(runs, tmp_path):
    """The export greps above can fail: a plain export of the full file has the contacts."""
    out = tmp_path / "with"
    assert CliRunner().invoke(cli, ["export", "--db", str(runs["full"][0]), "--out", str(out), "--format",
                                    "xlsx"]).exit_code == 0
    assert "tuva låtsasson" in leaks(_file_text(out / "projects.xlsx"))
    assert "070-abc" in leaks(_file_text(out / "warnings.xlsx"))


def _file_text(path: Path) -> str:
    if path.suffix == ".parquet":
        con = duckdb.connect()
        try:
            return "\n".join(map(str, con.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()))
        finally:
            con.close()
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook
        book = load_workbook(path, read_only=True)
        return "\n".join(str(row) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))
    return path.read_text(encoding="utf-8-sig")


def test_the_html_report_holds_no_contact(runs, tmp_path):
    from analyst.report import write
    out = write(runs["private"][0], tmp_path / "report.html")
    assert leaks(out.read_text(encoding="utf-8")) == []


def test_the_run_report_holds_no_contact_in_text_or_markdown(runs):
    from analyst.run_report import run_report
    full, private = runs["full"][1], runs["private"][1]
    assert "olle.pahittad" in leaks(run_report(full))  # the unknown line is a label never seen before
    assert leaks(run_report(private)) == [] and leaks(run_report(private, markdown=True)) == []
    assert private.quality.new_labels  # still reported, without the contact
    assert private.counts.as_dict() == full.counts.as_dict()


def test_the_search_index_holds_no_contact_text(runs):
    texts = every_text(runs["private"][0])
    index = {t: text for t, text in texts.items() if t.startswith("fts_main_") or t == "main.search_documents"}
    assert index and {t: leaks(text) for t, text in index.items() if leaks(text)} == {}
    con = duckdb.connect(str(runs["private"][0]), read_only=True)
    try:
        terms = {t for (t,) in con.execute("SELECT term FROM fts_main_search_documents.dict").fetchall()}
    finally:
        con.close()
    assert "testköping" in terms or "testköp" in terms  # the page's own words are indexed
    assert not terms & {"tuva", "greta", "olle", "fejksdott", "fejksdotter", "låtsasson"}


@pytest.mark.prefect
def test_the_prefect_artifact_holds_no_contact(prefect_api, runs, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from flows import pipeline
    pages = runs["full"][0].parent.parent / "pages"
    report = pipeline.refresh(sources=[str(pages)], db=str(tmp_path / "esf.duckdb"), without_contacts=True)
    with get_client(sync_client=True) as client:
        key = ArtifactFilterKey(any_=["esf-run-report"])
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=key))
    mine = [a for a in artifacts if f"Run {report.run_id}:" in (a.description or "")]
    assert mine and all(leaks(str(a.data)) == [] for a in mine)
    assert any("labels never seen before" in str(a.data) for a in mine)


@pytest.mark.parametrize("field, personal", [
    ("contact_email", True), ("projects.contact_phone", True), ("projects.esf_grant_sek,projects.contact_name", True),
    ("contact_emails", False), ("owner", False), (None, False)])
def test_a_problem_about_a_personal_field_is_known_in_python_and_sql(field, personal):
    assert is_personal_field(field) is personal
    assert duckdb.connect().execute(f"SELECT {personal_field_sql('$f')}", {"f": field}).fetchone()[0] is personal


@pytest.mark.parametrize("text, withheld", [
    ("not an e-mail address: 'maja.pahittad(at)exempel.org'", "not an e-mail address: '[personal data withheld]'"),
    ("skriv till Maja.Pahittad@Exempel.org idag", "skriv till [personal data withheld] idag"),
    ("x [at] exempel [dot] org", WITHHELD),
    ("ring 070-123 45 67", f"ring {WITHHELD}"),
    ("Telefon:+46 70 123 45 67", f"Telefon:{WITHHELD}"),
    ("end date 2019-01-01 - 2020-12-31", "end date 2019-01-01 - 2020-12-31"),  # dates are not phones
    ("not an amount: '12 345 678 kr'", "not an amount: '12 345 678 kr'"),
    ("case 2015/00265 and 22-039-S04", "case 2015/00265 and 22-039-S04"),
])
def test_address_and_phone_shapes_are_withheld_alike_in_python_and_sql(text, withheld):
    assert redact_text(text) == withheld
    assert duckdb.connect().execute(f"SELECT {shapes_sql('$t')}", {"t": text}).fetchone()[0] == withheld


def test_a_page_s_own_values_are_withheld_wherever_quoted():
    assert redact_text("not a whole number: 'Greta Fejksdotter'", ["Greta Fejksdotter", "gr"]) == \
        f"not a whole number: '{WITHHELD}'"  # a value under three characters is not looked for


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_the_data_dictionary_s_example_rows_hold_no_contact(runs, tmp_path, fmt):
    """Even from the file with contacts: the first warning is the unknown line with an address and a phone."""
    out = tmp_path / f"dictionary.{fmt}"
    result = CliRunner().invoke(cli, ["describe", "--db", str(runs["full"][0]), "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "Mejla oss på" in text and leaks(text) == []


def test_real_pages_published_without_contacts_hold_none_of_theirs(real_samples, tmp_path):
    """The real pages: every contact the full file holds (as read, or as a problem quoted it) is in no table of the
    contact-free file, and no other problem text changed (no address or phone shape matched where none was)."""
    dbs = {}
    for name, without in (("full", False), ("private", True)):
        dbs[name] = tmp_path / name / "esf.duckdb"
        service.refresh(RunSettings(db=str(dbs[name]), sources=(str(real_samples),), without_contacts=without))
    con = duckdb.connect(str(dbs["full"]), read_only=True)
    try:
        contacts = {v.lower() for c in PERSONAL for (v,) in con.execute(f"SELECT {c} FROM projects "
                                                                        f"WHERE {c} IS NOT NULL").fetchall()}
        others = con.execute("SELECT source_key, field, reason, value FROM warnings ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert contacts
    texts = every_text(dbs["private"])
    assert {t: [v for v in contacts if v in text.lower()] for t, text in texts.items()
            if any(v in text.lower() for v in contacts)} == {}
    con = duckdb.connect(str(dbs["private"]), read_only=True)
    try:
        kept = con.execute("SELECT source_key, field, reason, value FROM warnings ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert [r for r in kept if not is_personal_field(r[1])] == [r for r in others if not is_personal_field(r[1])]


def test_reprocess_without_contacts_publishes_none(runs, tmp_path):
    """`esf reprocess --without-contacts` over a warehouse loaded with contacts: the published file holds none."""
    import shutil
    folder = tmp_path / "copy"
    shutil.copytree(runs["full"][0].parent, folder)
    report = service.reprocess(RunSettings(db=str(folder / "esf.duckdb"), without_contacts=True))
    assert report.status == "succeeded"
    assert {t: leaks(text) for t, text in every_text(folder / "esf.duckdb").items() if leaks(text)} == {}
    assert leaks(every_text(folder / "esf.work.duckdb")["main.warnings"])  # the run's own file keeps them
