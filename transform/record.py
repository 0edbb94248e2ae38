"""Labelled raw values → one normalized project record with its organisations, municipalities and sections."""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Callable

from transform import normalize as nz
from transform import reference
from transform.limits import MAX_SECTION_CHARS
from transform.lines import PageText
from transform.parser import COLON, GLUED, PageFields
from transform.reference import fold

TEMPLATE_PERIOD = {"A": "2007-2013", "B": "2014-2020"}
TRUNCATED_AT = 30  # the site cuts organisation names in lists at 30 characters
LABEL_OF = {  # the label to name in a problem, for fields whose key is not self-explanatory
    "esf_grant": "Beviljat ESF-stöd", "total_budget": "Total projektbudget", "period": "Projektperiod",
}


@dataclass
class Problem:
    field: str | None
    reason: str
    value: str | None = None
    severity: str = "error"  # 'error' rejects the page; 'warning' is recorded and the page loads
    stage: str = "parse"


@dataclass
class ParsedPage:
    source_key: str
    template: str | None
    project: dict[str, Any] | None
    organisations: list[dict[str, Any]] = field(default_factory=list)
    municipalities: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.project is not None and not any(p.severity == "error" for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        """The shape `esf parse --format json` prints: project columns at the top level."""
        out = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in (self.project or {}).items()}
        out["template"] = self.template
        out["organisations"] = self.organisations
        out["municipalities"] = self.municipalities
        out["sections"] = self.sections
        out["problems"] = [asdict(p) for p in self.problems]
        return out


def detect_template(fields: PageFields) -> str:
    if fields.layout == COLON:
        return "C"
    if fields.layout == GLUED or "phase" in fields.values:
        return "A"
    area = fields.values.get("programme_area") or ""
    return "A" if area.lower().startswith("programområde") else "B"


class _Reader:
    """Runs normalizers, turning their ValueProblems into Problems that name the field."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems

    def __call__(self, key: str, raw: str | None, fn: Callable[[str | None], Any]) -> Any:
        try:
            return fn(raw)
        except nz.ValueProblem as exc:
            self.problems.append(Problem(LABEL_OF.get(key, key), str(exc), raw))
            return None


def build_record(page: PageText, fields: PageFields, source_key: str, url: str | None,
                 sha256: str | None) -> ParsedPage:
    problems = [Problem(None, n.reason, n.value, n.severity, n.stage) for n in page.notes]
    if fields.layout is None:
        problems.append(Problem(None, "not a project page: no project fields found"))
        return ParsedPage(source_key, None, None, problems=problems)
    template = detect_template(fields)
    v, read = fields.values, _Reader(problems)
    for label in fields.unknown_labels:
        problems.append(Problem(label, "unknown label or stray line in the field block", severity="warning"))
    for key, value in fields.repeated:
        problems.append(Problem(key, "field given twice; the first value is kept", value, "warning"))
    if page.is_html and not page.complete:
        problems.append(Problem(None, "HTML document ends without </html>: the page was cut off"))

    title = nz.clean_text(v.get("name")) or nz.clean_text(fields.title)
    case_number = nz.clean_text(v.get("case_number")) or fields.heading_case_number
    if case_number and nz.case_number_period(case_number) is None:
        problems.append(Problem("case_number", f"not a case number: {nz.quoted(case_number)}", case_number))
    area_code, objective, area_written = read("programme_area", v.get("programme_area"), nz.parse_programme_area)
    objective = read("specific_objective", v.get("specific_objective"), nz.normalize_objective) or objective
    period = _programme_period(template, case_number, area_code, v.get("fund"), problems)
    start, end = read("period", v.get("period"), nz.parse_period) or (None, None)
    start = start or read("start_date", v.get("start_date"), nz.parse_date)
    end = end or read("end_date", v.get("end_date"), nz.parse_date)
    _check_order(start, end, v, problems)
    grant, grant_note = read("esf_grant", v.get("esf_grant"), nz.parse_amount) or (None, None)
    budget, budget_note = read("total_budget", v.get("total_budget"), nz.parse_amount) or (None, None)
    for key, note in (("esf_grant", grant_note), ("total_budget", budget_note)):
        if note:
            problems.append(Problem(LABEL_OF[key], note, v.get(key), "warning"))
    region = read("region", v.get("region"), nz.normalize_region)
    nuts = read("nuts_code", v.get("nuts_code"), nz.normalize_nuts)
    if region and nuts and region.code != nuts:
        problems.append(Problem("nuts_code", f"NUTS-2 code {v.get('nuts_code')!r} does not match region "
                                             f"{region.name!r}", v.get("nuts_code")))
    if region is None and nuts:
        region = reference.region_by_code().get(nuts)
    owner = nz.clean_text(v.get("owner"))

    project = {
        "project_id": None,
        "title": title,
        "case_number": case_number,
        "call_number": nz.clean_text(v.get("call_number")),
        "programme_period": period,
        "programme_area_code": area_code,
        "programme_area_name": (reference.programme_areas().get((period, area_code)) if period else None)
                               or (area_written if not objective else None),
        "specific_objective": objective,
        "phase": nz.clean_text(v.get("phase")),
        "owner": owner,
        "owner_org": nz.canonical_organisation(owner),
        "owner_org_number": nz.clean_text(v.get("owner_org_number")),
        "contact_name": nz.clean_text(v.get("contact_name")),
        "contact_email": read("contact_email", v.get("contact_email"), nz.normalize_email),
        "contact_phone": read("contact_phone", v.get("contact_phone"), nz.normalize_phone),
        "esf_grant_sek": grant,
        "total_budget_sek": budget,
        "cofinancing_rate": read("cofinancing_rate", v.get("cofinancing_rate"), nz.parse_rate),
        "start_date": start,
        "end_date": end,
        "region": region.name if region else None,
        "region_code": region.code if region else None,
        "planned_participants": read("planned_participants", v.get("planned_participants"), nz.parse_participants),
        # a fetched page's key is already its trusted canonical URL (extract.discover.page_key);
        # a saved file can only name its own
        "source_url": source_key if url else page.canonical_url,
        "source_key": source_key,
        "template": template,
        "sha256": sha256,
    }
    _require(project, v, problems)
    project["project_id"] = project_key(project)
    orgs = _organisations(project, fields)
    municipalities = _municipalities(project, fields.lists.get("municipality", []), problems)
    sections = [{"project_id": project["project_id"], "section": key, "heading": heading,
                 "text": _section_text(key, text, problems)}
                for key, heading, text in _merge_sections(fields.sections)]
    for row in orgs + municipalities:
        row["project_id"] = project["project_id"]
    return ParsedPage(source_key, template, project, orgs, municipalities, sections, problems)


def _check_order(start: date | None, end: date | None, v: dict[str, str | None], problems: list[Problem]) -> None:
    """An end date before the start date is a problem on the field that gave them."""
    if start is None or end is None or end >= start:
        return
    if v.get("period") is not None:
        key, raw = LABEL_OF["period"], v["period"]
    else:
        key, raw = "end_date", f"{v.get('start_date')} / {v.get('end_date')}"
    problems.append(Problem(key, f"end date {end} is before start date {start}", raw))


def _programme_period(template: str, case_number: str | None, area_code: str | None,
                      fund: str | None, problems: list[Problem]) -> str | None:
    """From the template, the case number's format and the area's format — never from the dates."""
    votes: dict[str, str] = {}
    if template in TEMPLATE_PERIOD:
        votes["template"] = TEMPLATE_PERIOD[template]
    if case_number and nz.case_number_period(case_number):
        votes["case number"] = nz.case_number_period(case_number)
    if area_code:
        votes["programme area"] = "2021-2027" if area_code.isalpha() else (
            votes.get("template") or votes.get("case number") or "2014-2020")
    if fund and fund.strip().upper() == "ESF+":
        votes["fund"] = "2021-2027"
    periods = set(votes.values())
    if len(periods) > 1:
        said = ", ".join(f"{k} says {p}" for k, p in votes.items())
        problems.append(Problem("programme_period", f"programme period unclear: {said}"))
        return None
    return periods.pop() if periods else None


# For each required column: the problem fields that already explain why it is empty.
EXPLAINED_BY = {
    "title": set(), "region": {"region", "nuts_code"}, "programme_area_code": {"programme_area"},
    "programme_period": {"programme_period", "case_number"},
    "esf_grant_sek": {LABEL_OF["esf_grant"]}, "total_budget_sek": {LABEL_OF["total_budget"]},
    "start_date": {LABEL_OF["period"], "start_date"}, "end_date": {LABEL_OF["period"], "end_date"},
}


def _require(project: dict[str, Any], v: dict[str, str | None], problems: list[Problem]) -> None:
    failed = {p.field for p in problems}
    required = ["title", "region", "programme_area_code", "programme_period"]
    if project["programme_period"] != "2021-2027":  # ESF+ pages show no amounts, and may lack dates
        required += ["esf_grant_sek", "total_budget_sek", "start_date", "end_date"]
    for column in required:
        if project[column] is None and not failed & EXPLAINED_BY[column]:
            problems.append(Problem(column, "missing on the page"))
    if project["owner"] is None:
        problems.append(Problem("owner", "owner missing on the page", v.get("owner"), "warning"))


def project_key(project: dict[str, Any]) -> str:
    """The ESF case number, else a key from the canonical URL, else from title + owner + start date."""
    if project["case_number"]:
        return project["case_number"]
    if project["source_url"] and project["source_url"].startswith("http"):
        url = re.sub(r"[?#].*$", "", project["source_url"].strip().lower()).rstrip("/")
        if "dnr=" in project["source_url"]:
            url = project["source_url"].strip()
        return "u-" + hashlib.sha256(url.encode()).hexdigest()[:16]
    basis = "|".join(fold(str(project[k] or "")) for k in ("title", "owner_org", "start_date"))
    return "k-" + hashlib.sha256(basis.encode()).hexdigest()[:16]


def _organisations(project: dict[str, Any], fields: PageFields) -> list[dict[str, Any]]:
    rows, seen = [], set()
    entries = [("owner", project["owner"])] if project["owner"] else []
    entries += [(role, name) for role in ("co_financier", "partner") for name in fields.lists.get(role, [])]
    for role, written in entries:
        name = nz.canonical_organisation(written)
        if name is None or (role, fold(name)) in seen:
            continue
        seen.add((role, fold(name)))
        truncated = role != "owner" and len(nz.clean_text(written) or "") == TRUNCATED_AT
        rows.append({"role": role, "name": name, "name_normalized": nz.organisation_group(name),
                     "truncated": truncated})
    return rows


def _municipalities(project: dict[str, Any], written: list[str], problems: list[Problem]) -> list[dict[str, Any]]:
    rows = []
    for name in written:
        m = nz.match_municipality(name)
        if m is None:
            problems.append(Problem("municipality", "not a municipality on the official list", name, "warning"))
        elif project["region_code"] not in (None, "SE", m.region_code):
            problems.append(Problem("municipality", f"{m.name} lies outside the project's region "
                                                    f"{project['region']}", name, "warning"))
        rows.append({"name_as_written": name, "municipality_code": m.code if m else None,
                     "municipality": m.name if m else None, "county": m.county if m else None,
                     "region_code": m.region_code if m else None})
    return rows


def _section_text(key: str, text: str, problems: list[Problem]) -> str:
    """The section's text, cut at MAX_SECTION_CHARS with a warning."""
    if len(text) <= MAX_SECTION_CHARS:
        return text
    problems.append(Problem(f"section:{key}", f"section of {len(text):,} characters cut to {MAX_SECTION_CHARS:,}",
                            text[:80], "warning"))
    return text[:MAX_SECTION_CHARS]


def _merge_sections(sections: list[tuple[str, str | None, str]]) -> list[tuple[str, str | None, str]]:
    """One row per section key; a heading that occurs twice has its texts joined."""
    merged: dict[str, tuple[str | None, list[str]]] = {}
    for key, heading, text in sections:
        merged.setdefault(key, (heading, []))[1].append(text)
    return [(k, h, "\n".join(texts)) for k, (h, texts) in merged.items()]
