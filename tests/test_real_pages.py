"""The five real pages in ../shared/samples: every header field, list and section (skipped where absent)."""
from __future__ import annotations

from datetime import date

import pytest

from transform import parse_page


def parse(real_samples, name):
    page = parse_page((real_samples / name).read_bytes(), name)
    assert page.ok, page.problems
    return page


EXPECTED = {
    "template-a-jobbpunkt-vast-orebro.txt": {
        "title": "Jobbpunkt Väst Örebro", "case_number": None, "call_number": None,
        "programme_period": "2007-2013", "programme_area_code": "2", "programme_area_name": "Ökat arbetskraftsutbud",
        "specific_objective": None, "phase": "Genomförande", "owner": "ÖrebroBostäder Huvudkontoret",
        "owner_org": "ÖrebroBostäder Huvudkontoret", "owner_org_number": None, "contact_name": "Elmar Jehle",
        "contact_email": "elmar.jehle@obo.se", "contact_phone": "+4619194414", "esf_grant_sek": 4719182,
        "total_budget_sek": 12352838, "cofinancing_rate": None, "start_date": date(2009, 1, 1),
        "end_date": date(2011, 12, 31), "region": "Östra Mellansverige", "region_code": "SE12",
        "planned_participants": None, "template": "A",
    },
    "template-a-kedjan.txt": {
        "title": "Kedjan", "case_number": None, "call_number": None, "programme_period": "2007-2013",
        "programme_area_code": "2", "programme_area_name": "Ökat arbetskraftsutbud", "specific_objective": None,
        "phase": "Genomförande", "owner": "Arbetslivsförvaltningen", "owner_org": "Arbetslivsförvaltningen",
        "owner_org_number": None, "contact_name": "Eva Andersson", "contact_email": "eva10.andersson@boras.se",
        "contact_phone": "+4633357962", "esf_grant_sek": 19385224, "total_budget_sek": 56258343,
        "cofinancing_rate": None, "start_date": date(2008, 9, 1), "end_date": date(2012, 12, 31),
        "region": "Västsverige", "region_code": "SE23", "planned_participants": None, "template": "A",
    },
    "template-b-boss.txt": {
        "title": "BOSS", "case_number": "2016/00158", "call_number": "2015/00984", "programme_period": "2014-2020",
        "programme_area_code": "1", "programme_area_name": "Kompetensförsörjning", "specific_objective": "1.1",
        "phase": None, "owner": "Kommunförbundet Skåne", "owner_org": "Kommunförbundet Skåne",
        "owner_org_number": None, "contact_name": "Dhara Söderström", "contact_email": "dhara.soderstrom@kfsk.se",
        "contact_phone": None, "esf_grant_sek": 7176284, "total_budget_sek": 9612018, "cofinancing_rate": None,
        "start_date": date(2016, 10, 1), "end_date": date(2018, 9, 30), "region": "Sydsverige",
        "region_code": "SE22", "planned_participants": 512, "template": "B",
    },
    "template-c-framtidslabbet.txt": {
        "title": "Framtidslabbet", "case_number": "2020/00681", "call_number": None, "programme_period": "2014-2020",
        "programme_area_code": "2", "programme_area_name": "Öka övergångarna till arbete", "specific_objective": "2.2",
        "phase": None, "owner": "Järfälla kommun, Ung vägledning/Kompetensförvaltningen",
        "owner_org": "Järfälla kommun, Ung vägledning/Kompetensförvaltningen", "owner_org_number": None,
        "contact_name": "Madeleine Mjöberg", "contact_email": "madeleine.mjoberg@jarfalla.se",
        "contact_phone": None, "esf_grant_sek": 6978420, "total_budget_sek": 14847638, "cofinancing_rate": 0.5,
        "start_date": date(2021, 1, 1), "end_date": date(2023, 2, 28), "region": "Stockholm",
        "region_code": "SE11", "planned_participants": 200, "template": "C",
    },
    "template-c-esfplus-social-vagledning.txt": {
        "title": "Social vägledning Ung Malmö", "case_number": "23-080-S01", "call_number": None,
        "programme_period": "2021-2027", "programme_area_code": "C",
        "programme_area_name": "Minska risken för ekonomisk utsatthet", "specific_objective": "C1", "phase": None,
        "owner": "MALMÖ KOMMUN", "owner_org": "Malmö kommun", "owner_org_number": "2120001124",
        "contact_name": None, "contact_email": None, "contact_phone": None, "esf_grant_sek": None,
        "total_budget_sek": None, "cofinancing_rate": 0.9, "start_date": date(2024, 4, 22),
        "end_date": date(2027, 3, 31), "region": "Nationellt", "region_code": "SE", "planned_participants": 160,
        "template": "C",
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_header_fields(real_samples, name):
    project = parse(real_samples, name).project
    assert {k: project[k] for k in EXPECTED[name]} == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_problems_at_all(real_samples, name):
    assert parse(real_samples, name).problems == []


def test_jobbpunkt_lists(real_samples):
    page = parse(real_samples, "template-a-jobbpunkt-vast-orebro.txt")
    by_role = {role: [o["name"] for o in page.organisations if o["role"] == role]
               for role in ("owner", "co_financier", "partner")}
    assert by_role == {
        "owner": ["ÖrebroBostäder Huvudkontoret"],
        "co_financier": ["Arbetsförmedlingen Örebro", "Socialförvaltningen, Försörjni",
                         "Vuxenutbildning och Arbetsmarknad, Jobbcentrum"],
        "partner": ["ABF Örebro län", "Almi Företagspartner i Örebro", "Arbetsförmedlingen Örebro", "Coompanion",
                    "HGF Region Västra Sverige", "JobbpunktVäst", "Rådgivning & Kompetensutveckling",
                    "Socialförvaltningen, Försörjni", "Startcentrum Örebro Region AB",
                    "Vuxenutbildning och Arbetsmarknad, Jobbcentrum", "Örebro Folkhögskola"],
    }
    truncated = {o["name"] for o in page.organisations if o["truncated"]}
    assert truncated == {"Socialförvaltningen, Försörjni"}
    assert {o["name_normalized"] for o in page.organisations if o["name"].startswith("Arbetsförmedlingen")} \
        == {"Arbetsförmedlingen"}
    assert page.municipalities == [{"project_id": page.project["project_id"], "name_as_written": "Örebro",
                                    "municipality_code": "1880", "municipality": "Örebro",
                                    "county": "Örebro län", "region_code": "SE12"}]


def test_kedjan_55_municipalities_all_in_vastsverige(real_samples):
    page = parse(real_samples, "template-a-kedjan.txt")
    munis = page.municipalities
    assert len(munis) == 55
    assert all(m["municipality_code"] for m in munis)
    assert {m["region_code"] for m in munis} == {"SE23"}
    by_written = {m["name_as_written"]: (m["municipality"], m["municipality_code"]) for m in munis}
    assert by_written["Marks"] == ("Mark", "1463")
    assert by_written["Lilla-Edet"] == ("Lilla Edet", "1462")
    assert by_written["Göteborg"] == ("Göteborg", "1480")
    roles = [o["role"] for o in page.organisations]
    assert roles.count("co_financier") == 4 and roles.count("partner") == 12


SECTIONS = {
    "template-a-jobbpunkt-vast-orebro.txt": {
        "summary": ("ÖrebroBostäder AB vill genomföra", "boende som idag står utanför arbetsmarknaden."),
        "background": ("Social exkludering och en känsla", "erbjuda små och billiga lokaler."),
        "purpose": ("Vårt syfte är att rikta oss", "deltagaråterkoppling till berörda myndigheter."),
        "goals": ("Våra kvalitativa mål för projektet är:", "från stadsdelen Vivalla."),
        "accessibility": ("Tillgängliga lokaler", "personliga samtal innan gruppstart."),
        "gender_equality": ("ÖBO kommer verka för en jämn fördelning", "starta eget alternativt kooperativa företag."),
    },
    "template-a-kedjan.txt": {
        "summary": ("Projektet Kedjan har som mål", "samverkansarbetet inom Kedjan."),
        "background": ("Nedan följer en sammanställning", "bil 10: beräkningsunderlag till budge."),
        "purpose": ("Övergripande mål i samklang", "betydelse för integrationen i samhället."),
        "goals": ("De mätbara projektmålet:", "blir självförsörjande efter projekttiden."),
        "accessibility": ("Projektet Kedjan innefattas", "del av utvärderingsprocessen."),
        "gender_equality": ("Planering av jämställdhetsarbetet inom Kedjan.", "verka för ökad jämställdhet."),
        "transnational": ("Ett internationellt perspektiv", "uppgick år 2007 till ca 700.000 kr."),
    },
    "template-b-boss.txt": {
        "summary": ("Det övergripande syftet med projektet", "integration på lika villkor."),
    },
    "template-c-framtidslabbet.txt": {
        "description": ("Framtidslabbet är ett projekt för ungdomar", "behovet av ekonomiskt bistånd."),
    },
    "template-c-esfplus-social-vagledning.txt": {
        "description": ("Enheten arbete och studier unga (EASU)", "positiv stegförflyttning närmre arbetsmarknaden."),
    },
}


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_sections_complete(real_samples, name):
    sections = {s["section"]: s["text"] for s in parse(real_samples, name).sections}
    assert list(sections) == list(SECTIONS[name])
    for key, (first, last) in SECTIONS[name].items():
        assert sections[key].startswith(first), key
        assert sections[key].endswith(last), key


def test_repeated_heading_stays_one_section(real_samples):
    sections = parse(real_samples, "template-a-jobbpunkt-vast-orebro.txt").sections
    purpose = next(s for s in sections if s["section"] == "purpose")
    assert not purpose["text"].startswith("Syfte")


def test_banners_are_not_titles(real_samples):
    assert parse(real_samples, "template-a-jobbpunkt-vast-orebro.txt").project["title"] == "Jobbpunkt Väst Örebro"
    assert parse(real_samples, "template-b-boss.txt").project["title"] == "BOSS"
