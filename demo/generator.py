"""Any number of varied, realistic synthetic project pages in the site's three templates, deterministic by seed.

Page i is the same whatever n is; `version` changes a deterministic share of pages (new end date and
budget), as the real site does when a project is extended.
"""
from __future__ import annotations

import hashlib
import html
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from transform import reference

CANONICAL_ORIGIN = "https://www.esf.se"  # where pages name themselves; the demo site passes its own origin
TEMPLATES = ("A", "B", "C", "C+")  # C+ is an ESF+ page on template C
REGION_SLUGS = {"Övre Norrland": "Ovre-Norrland", "Mellersta Norrland": "Mellersta-Norrland",
                "Norra Mellansverige": "Norra-Mellansverige", "Östra Mellansverige": "Ostra-Mellansverige",
                "Stockholm": "Stockholm", "Västsverige": "Vastsverige", "Småland och Öarna": "Smaland-och-Oarna",
                "Sydsverige": "Sydsverige", "Nationellt": "Nationellt"}
PREFIXES = ["Steg", "Väg", "Bro", "Kompetens", "Framtids", "Jobb", "Lots", "Nav", "Start", "Kraft", "Språk",
            "Yrkes", "Arbets", "Lärande", "Nätverks", "Validerings", "Hälso", "Inkluderings"]
SUFFIXES = ["bron", "vägen", "steget", "lyftet", "porten", "nyckeln", "spåret", "kedjan", "labbet", "navet",
            "kompassen", "fabriken", "verkstaden", "resan", "dörren"]
OWNER_KINDS = ["{m} kommun", "Region {c}", "Samordningsförbundet {m}", "{m}s folkhögskola",
               "Föreningen Framtid i {m}", "Arbetsmarknadsförvaltningen, {m} stad", "Stiftelsen Kunskap {m}"]
PARTNERS = ["Arbetsförmedlingen {m}", "Försäkringskassan {m}", "Socialförvaltningen, {m} kommun",
            "Vuxenutbildningen i {m}", "Företagarna {m}", "Studieförbundet Vuxenskolan {m}", "Almi {c}",
            "Coompanion {c}", "Länsstyrelsen i {c}", "Högskolan i {m}"]
SUBJECTS = ["Projektet", "Deltagarna", "Verksamheten", "Samverkansparterna", "Arbetsgivarna i regionen",
            "Projektgruppen", "Kommunerna", "Handledarna", "Styrgruppen", "De medverkande organisationerna"]
VERBS = ["utvecklar", "prövar", "stärker", "sprider", "följer upp", "bygger vidare på", "samordnar",
         "dokumenterar", "förankrar", "anpassar"]
OBJECTS = ["nya arbetssätt för vägledning", "insatser för personer långt från arbetsmarknaden",
           "kompetensutveckling för anställda i små företag", "en gemensam modell för kartläggning",
           "praktikplatser hos lokala arbetsgivare", "stöd i svenska språket", "metoder för validering",
           "kontakter mellan skola och arbetsliv", "hälsofrämjande aktiviteter", "digitala kunskaper",
           "samverkan mellan myndigheter", "jämställda rekryteringar", "tillgängliga lokaler och material"]
ENDINGS = ["under hela projekttiden.", "i nära dialog med målgruppen.", "så att resultaten lever kvar.",
           "utifrån varje deltagares behov.", "tillsammans med regionens aktörer.", "och redovisar det löpande."]
SECTIONS = ["Sammanfattning", "Bakgrund", "Syfte", "Målsättning",
            "Tillgänglighet för personer med funktionsnedsättning", "Jämställdhetsintegrering"]


@dataclass(frozen=True)
class SyntheticPage:
    index: int
    template: str          # 'A', 'B', 'C' or 'C+'
    path: str              # URL path on the site, with query for template C
    title: str
    case_number: str | None
    region: str
    owner: str
    grant: int | None
    budget: int | None
    start: date | None
    end: date | None
    html: str

    @property
    def listing_entry(self) -> str:
        """What a listing page shows for the project: changes when the page's figures change."""
        return f"{self.title} | {self.owner} | {self.start} – {self.end} | {self.budget or ''}"

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.html.encode()).hexdigest()[:20] + '"'


@cache
def _places() -> dict[str, list[tuple[str, str]]]:
    """Region name → [(municipality, county without 'län')]."""
    by_code = {r.code: r.name for r in reference.regions().values()}
    out: dict[str, list[tuple[str, str]]] = {}
    for m in sorted({m.code: m for m in reference.municipalities().values()}.values(), key=lambda m: m.code):
        county = m.county.removesuffix(" län").removesuffix("s")
        out.setdefault(by_code[m.region_code], []).append((m.name, county))
    return out


def _sentences(rng: random.Random, n: int) -> str:
    return " ".join(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(ENDINGS)}"
                    for _ in range(n))


def _amount(n: int, nbsp: bool = True) -> str:
    return f"{n:,}".replace(",", "\u00a0" if nbsp else " ")


def page(index: int, seed: int = 0, version: int = 0, changed_share: float = 0.01,
         origin: str = CANONICAL_ORIGIN) -> SyntheticPage:
    rng = random.Random(f"{seed}:{index}")
    template = TEMPLATES[index % len(TEMPLATES)]
    regions = list(REGION_SLUGS)
    region = regions[rng.randrange(len(regions))]
    places = _places()[region if region != "Nationellt" else rng.choice(regions[:-1])]
    municipality, county = rng.choice(places)
    title = f"{rng.choice(PREFIXES)}{rng.choice(SUFFIXES)} {municipality}"
    owner = rng.choice(OWNER_KINDS).format(m=municipality, c=county)
    first_year = {"A": 2008, "B": 2015, "C": 2016, "C+": 2023}[template]
    start = date(first_year + rng.randrange(4), rng.randrange(1, 13), 1)
    end = start + timedelta(days=365 * rng.randrange(1, 4) - 1)
    budget = rng.randrange(800, 40_000) * 1000 + rng.randrange(1000)
    grant = int(budget * rng.uniform(0.3, 0.9))
    changed = version > 0 and random.Random(f"{seed}:{index}:changed").random() < changed_share * version
    if changed:
        end += timedelta(days=180)
        budget += 250_000
        grant += 100_000
    case = {"A": None, "B": f"{start.year}/{index % 100000:05d}", "C": f"{start.year}/{index % 100000:05d}",
            "C+": f"{start.year % 100}-{index % 1000:03d}-S{index // 1000 % 100:02d}"}[template]
    slug = title.replace(" ", "-").translate(str.maketrans("åäöÅÄÖ", "aaoAAO")) + f"-{index}"
    path = {"A": f"/Projektbanken/Behallare-for-projekt/{REGION_SLUGS[region]}/{slug}/",
            "B": f"/sv/Resultat/Projektbanken-2014-2020/Alla-Projekt/{slug}/",
            "C": f"/resultat/projektbanken/projekt/?dnr={case}", "C+": f"/resultat/projektbanken/projekt/?dnr={case}"}[template]
    amounts: tuple[int | None, int | None] = (None, None) if template == "C+" else (grant, budget)  # ESF+ shows none
    partners = sorted({p.format(m=rng.choice(places)[0], c=county) for p in rng.sample(PARTNERS, 5)})
    munis = sorted({rng.choice(places)[0] for _ in range(rng.randrange(1, 6))})
    body = _render(rng, template, title, case, region, owner, *amounts, start, end, partners, munis)
    return SyntheticPage(index, template, path, title, case, region, owner, *amounts, start, end,
                         _document(title, origin + path, body))


def pages(n: int, seed: int = 0, version: int = 0, changed_share: float = 0.01):
    for i in range(n):
        yield page(i, seed, version, changed_share)


def _render(rng, template, title, case, region, owner, grant, budget, start, end, partners, munis) -> str:
    e = html.escape
    region_written = {"Småland och Öarna": "Småland & Öarna", "Nationellt": "ESF Nationellt" if template.startswith("C")
                      else "Nationellt"}.get(region, region)
    area = rng.choice("12")
    if template == "A":
        fields = [("Programområde", f"Programområde {area} " + ("Kompetensförsörjning" if area == "1" else "Ökat arbetskraftsutbud")),
                  ("Projektfas", rng.choice(["Genomförande", "Förprojektering"])), ("Projektägare", owner),
                  ("Kontaktperson", "Testa Testsson"), ("E-post", "testa.testsson@exempel.se"),
                  ("Telefonnummer", f"0{rng.randrange(10, 99)}-{rng.randrange(100000, 999999)}"),
                  ("Beviljat ESF-stöd", f"{_amount(grant)} kr"), ("Total projektbudget", f"{_amount(budget)} kr"),
                  ("Projektperiod", f"{start} till {end}"), ("Region", region_written)]
        block = "".join(f'<div class="row"><span class="label">{e(k)}</span><span>{e(v)}</span></div>' for k, v in fields)
        heading = f"<h1>{e(title)}</h1>"
    elif template == "B":
        fields = [("Programområde", f"{area}.{rng.choice('123')} " + ("Kompetensförsörjning" if area == "1" else "Öka övergångarna till arbete")),
                  ("Region", region_written), ("Utlysning", f"{start.year - 1}/{rng.randrange(100, 999):05d}"),
                  ("Projektägare", owner), ("Projektnummer", case), ("Planerat antal deltagare", str(rng.randrange(20, 900))),
                  ("Projektperiod", f"{start}-{end}"), ("Total projektbudget", f"{_amount(budget)} kr"),
                  ("Beviljat ESF-stöd", f"{_amount(grant)} kr"), ("Kontaktperson", "Testa Testsson"),
                  ("E-post", "testa.testsson@exempel.se")]
        block = "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in fields) + "</dl>"
        heading = f"<h1>{e(title)}</h1>"
    else:
        plus = template == "C+"
        area_code = rng.choice("ABC") if plus else area
        fields = ([("Diarienummer", case), ("Namn", title), ("Startdatum", str(start)), ("Slutdatum", str(end)),
                   ("Berörd fond", "ESF+"), ("Projektägare", owner), ("Unionens medfinansieringsgrad", "50%"),
                   ("Programområde", area_code), ("Specifikt mål", f"{area_code}{rng.randrange(1, 3)}"),
                   ("Region", region_written), ("Antal deltagare", str(rng.randrange(20, 500)))] if plus else
                  [("Projektnummer", case), ("Projektägare", owner), ("Namn", title), ("Region", region_written),
                   ("Planerat antal deltagare", str(rng.randrange(20, 900))), ("Projektperiod", f"{start} - {end}"),
                   ("Total projektbudget", _amount(budget)), ("Beviljat ESF-stöd", _amount(grant)),
                   ("Kontaktperson", "Testa Testsson"), ("E-post", "testa.testsson@exempel.se"),
                   ("Stödmottagarens address", ""), ("Programområde", area_code),
                   ("Specifikt mål", f"{area_code}.{rng.choice('12')}"), ("Unionens medfinansieringsgrad", "50%")])
        block = "".join(f"<div><strong>{e(k)}:</strong></div><div>{e(v)}</div>" for k, v in fields)
        heading = f"<h1>{e(case)} - {e(title)}</h1>"
        text = "".join(f"<p>{_sentences(rng, 6)}</p>" for _ in range(rng.randrange(3, 7)))
        return f"{heading}{block}<div class='description'>{text}</div>"
    sections = "".join(f"<h2>{s}</h2>" + "".join(f"<p>{_sentences(rng, 5)}</p>" for _ in range(rng.randrange(2, 5)))
                       for s in (SECTIONS if template == "A" else SECTIONS[:1]))
    lists = ""
    if template == "A":
        lists = ("<h2>Medfinansiärer</h2><ul>" + "".join(f"<li>{e(p[:30])}</li>" for p in partners[:2]) + "</ul>"
                 "<h2>Samarbetspartners</h2><ul>" + "".join(f"<li>{e(p[:30])}</li>" for p in partners) + "</ul>"
                 "<h2>Kommun</h2><ul>" + "".join(f"<li>{e(m)}</li>" for m in munis) + "</ul>")
    return f"{heading}{block}<p><a href='#en'>In English</a></p>{sections}{lists}"


def _document(title: str, url: str, body: str) -> str:
    menu = "".join(f"<li><a href='/meny/{i}/'>Menyval {i}</a></li>" for i in range(400))
    footer = "".join(f"<p>Svenska ESF-rådet, kontor {i}, Box {100 + i}, 000 00 Ort. Telefon 0771-00 00 00.</p>"
                     for i in range(30))
    return (f"<!DOCTYPE html>\n<html lang='sv'><head><meta charset='utf-8'><title>{html.escape(title)} - ESF</title>"
            f"<link rel='canonical' href='{html.escape(url)}'>"
            f"<style>{'.x{margin:0}' * 1000}</style><script>window.dataLayer=[];{'var a=1;' * 300}</script></head>"
            f"<body><div class='cookie-banner'>Vi använder kakor. <button>OK</button></div>"
            f"<header><nav><ul>{menu}</ul></nav></header><main>{body}</main><footer>{footer}</footer></body></html>\n")
