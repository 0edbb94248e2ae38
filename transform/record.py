"""Labelled raw values → one normalized project record with its organisations, municipalities and sections.

Only a page that cannot be a project is rejected (no project fields, or neither case number nor title).
Any other field that is missing or cannot be read is NULL with a warning naming it, and the project loads.
"""
from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any, Callable

from records.project import ParsedPage, Problem, empty_record
from transform import derive
from transform import normalize as nz
from transform import reference
from transform.limits import MAX_SECTION_CHARS
from transform.label_checks import label_problems
from transform.lines import PageText
from transform.parser import COLON, GLUED, PageFields
from transform.reference import fold

KEY_BASIS = ("title", "start_date", "region_code")  # a project without case number or URL is keyed by these
TRUNCATED_AT = 30  # the site cuts organisation names in lists at 30 characters
FIELD_OF = {  # the column a labelled value fills, where its key is not the column's name
    "esf_grant": "esf_grant_sek", "total_budget": "total_budget_sek", "programme_area": "programme_area_code",
    "nuts_code": "region_code", "name": "title",
}
COLUMNS_OF = {"period": ("start_date", "end_date")}  # a problem on one field that empties several columns
QUALITY_KINDS = ("missing", "absent", "unreadable", "lenient", "derived", "conflict")
UNKNOWN_LABEL = "unknown label or stray line in the field block"
MAX_RAW_VALUE = 200  # an unknown label's line(s) as written, kept in its warning up to this length
def detect_template(fields: PageFields) -> str:
    if fields.layout == COLON:
        return "C"
    if fields.layout == GLUED or "phase" in fields.values:
        return "A"
    area = fields.values.get("programme_area") or ""
    return "A" if area.lower().startswith("programområde") else "B"


class _Reader:
    """Runs normalizers; a value that cannot be read is NULL plus a warning naming its column and the raw value."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems

    def __call__(self, key: str, raw: str | None, fn: Callable[[str | None], Any]) -> Any:
        try:
            return fn(raw)
        except nz.ValueProblem as exc:
            self.problems.append(Problem(FIELD_OF.get(key, key), str(exc), raw, "warning", kind="unreadable"))
            return None

    def lenient(self, key: str, raw: str | None, fn: Callable[[str | None], tuple[Any, str | None]]) -> Any:
        """A reader that returns (value, note): the note, when there is one, is a warning that it was lenient."""
        value, note = self(key, raw, fn) or (None, None)
        if note:
            self.problems.append(Problem(FIELD_OF.get(key, key), note, raw, "warning", kind="lenient"))
        return value


def build_record(page: PageText, fields: PageFields, source_key: str, url: str | None,
                 sha256: str | None) -> ParsedPage:
    problems = [Problem(None, n.reason, n.value, "warning", n.stage) for n in page.notes]
    if fields.layout is None:
        problems.append(Problem(None, "not a project page: no project fields found"))
        return ParsedPage(source_key, None, None, problems=problems)
    template = detect_template(fields)
    v, read = fields.values, _Reader(problems)
    for label, written in fields.unknown_labels:
        raw = written if len(written) <= MAX_RAW_VALUE else written[:MAX_RAW_VALUE - 1] + "…"
        problems.append(Problem(label, UNKNOWN_LABEL, raw, "warning", kind="unknown_label"))
    problems += label_problems(fields, template, FIELD_OF)
    for key, value in fields.repeated:
        problems.append(Problem(key, "field given twice; the first value is kept", value, "warning"))
    if page.is_html and not page.complete:
        problems.append(Problem(None, "HTML document ends without </html>: the page may be cut off",
                                severity="warning"))

    title = nz.clean_text(v.get("name")) or nz.clean_text(fields.title)
    case_number = nz.clean_text(v.get("case_number")) or fields.heading_case_number
    if case_number and nz.case_number_period(case_number) is None:
        problems.append(Problem("case_number", f"not a case number: {nz.quoted(case_number)}", case_number,
                                "warning", kind="unreadable"))
        case_number = None
    written_area, area_objective, area_written = read("programme_area", v.get("programme_area"),
                                                      nz.parse_programme_area) or (None, None, None)
    objective, bare_area, note = read("specific_objective", v.get("specific_objective"),
                                      nz.read_objective) or (None, None, None)
    if note:
        problems.append(Problem("specific_objective", note, v.get("specific_objective"), "warning", kind="lenient"))
    objective = objective or area_objective
    area = derive.programme_area(written_area, objective, bare_area, problems)
    period = derive.programme_period(template, case_number, area.value, v.get("fund"), problems)
    area_code, area_source = area
    if area_code and period.value and (period.value, area_code) not in reference.programme_areas():
        problems.append(Problem("programme_area_code", f"no programme area {area_code} in {period.value}",
                                v.get("programme_area") or v.get("specific_objective"), "warning", kind="unreadable"))
        area_code = area_source = None
    start, end = read("period", v.get("period"), nz.parse_period) or (None, None)
    start = start or read("start_date", v.get("start_date"), nz.parse_date)
    end = end or read("end_date", v.get("end_date"), nz.parse_date)
    start, end = _check_order(start, end, v, problems)
    grant = read.lenient("esf_grant", v.get("esf_grant"), nz.parse_amount)
    budget = read.lenient("total_budget", v.get("total_budget"), nz.parse_amount)
    region, region_source = derive.region(read("region", v.get("region"), nz.normalize_region),
                                          read("nuts_code", v.get("nuts_code"), nz.normalize_nuts),
                                          v.get("nuts_code"), problems)
    owner = nz.clean_text(v.get("owner"))

    project = empty_record()
    project.update({
        "title": title,
        "case_number": case_number,
        "call_number": nz.clean_text(v.get("call_number")),
        "programme_period": period.value,
        "programme_period_source": period.source,
        "programme_area_code": area_code,
        "programme_area_source": area_source,
        "programme_area_name": (reference.programme_areas().get((period.value, area_code))
                                if period.value and area_code else None)
                               or (area_written if area_code and not objective else None),
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
        "intervention_type": nz.clean_text(v.get("intervention_type")),
        "start_date": start,
        "end_date": end,
        "region": region.name if region else None,
        "region_code": region.code if region else None,
        "region_source": region_source,
        "planned_participants": read.lenient("planned_participants", v.get("planned_participants"),
                                             nz.read_participants),
        # a fetched page's key is already its trusted canonical URL (extract.discover.page_key);
        # a saved file can only name its own
        "source_url": source_key if url else page.canonical_url,
        "source_key": source_key,
        "template": template,
        "sha256": sha256,
    })
    _missing(project, v, problems)
    if project["title"] is None and project["case_number"] is None:
        problems.append(Problem(None, "no identity: neither a case number nor a title on the page"))
        return ParsedPage(source_key, template, None, problems=problems)
    project["project_id"] = project_key(project)
    project["missing_fields"] = len(missing_columns(problems))
    orgs = _organisations(project, fields)
    municipalities = _municipalities(project, fields.lists.get("municipality", []), problems)
    sections = [{"project_id": project["project_id"], "section": key, "heading": heading,
                 "text": _section_text(key, text, problems)}
                for key, heading, text in _merge_sections(fields.sections)]
    for row in orgs + municipalities:
        row["project_id"] = project["project_id"]
    return ParsedPage(source_key, template, project, orgs, municipalities, sections, problems)


def _check_order(start: date | None, end: date | None, v: dict[str, str | None],
                 problems: list[Problem]) -> tuple[date | None, date | None]:
    """An end date before the start date: both NULL, with a warning on the field that gave them."""
    if start is None or end is None or end >= start:
        return start, end
    if v.get("period") is not None:
        key, raw = "period", v["period"]
    else:
        key, raw = "end_date", f"{v.get('start_date')} / {v.get('end_date')}"
    problems.append(Problem(key, f"end date {end} is before start date {start}", raw, "warning", kind="unreadable"))
    if key == "end_date":
        problems.append(Problem("start_date", f"end date {end} is before start date {start}", raw, "warning",
                                kind="unreadable"))
    return None, None


def problem_columns(problem: Problem) -> tuple[str, ...]:
    """The project columns a problem is about (none for a page-level problem or a list item)."""
    if problem.field is None:
        return ()
    return COLUMNS_OF.get(problem.field, (problem.field,))


def missing_columns(problems: list[Problem]) -> set[str]:
    """The columns that are NULL because the page lacks them or they could not be read."""
    return {c for p in problems if p.kind in ("missing", "unreadable") for c in problem_columns(p)}


def _missing(project: dict[str, Any], values: dict[str, str | None], problems: list[Problem]) -> None:
    """A field its template (and period) writes (`data/reference/expected_fields.csv`) and this page does not:
    a warning where nearly every page writes it (level `expected`), a note where pages often leave it out
    (`optional`: in project_quality as `absent`, not counted in missing_fields, not in the warnings table).
    A field with a column is missing when the column is NULL; a label key (such as
    `programme_area` where the objective can give the area) when the page does not write it, or writes `saknas`."""
    expected = reference.expected_fields()
    wanted = {**expected.get((project["template"], "*"), {}),
              **expected.get((project["template"], project["programme_period"] or ""), {})}
    explained = {c for p in problems if p.kind in QUALITY_KINDS for c in problem_columns(p)}
    for name, level in sorted(wanted.items()):
        absent = project[name] is None if name in project else nz.clean_text(values.get(name)) is None
        if not absent or name in explained:
            continue
        if level == "expected":
            problems.append(Problem(name, "missing on the page", None, "warning", kind="missing"))
        else:
            problems.append(Problem(name, "not on the page (a field its pages often leave out)", None, "note",
                                    kind="absent"))


def project_key(project: dict[str, Any]) -> str:
    """The ESF case number, else a key from the canonical URL, else from title + start date + region code.

    The last rests on the title and on fields the issue's property keeps unchanged (dates, region), never on a
    secondary field: an owner that becomes `saknas` must not make another project of it (migration 012 moved
    keys made by the earlier rule, title + owner + start date)."""
    if project["case_number"]:
        return str(project["case_number"])
    if project["source_url"] and project["source_url"].startswith("http"):
        url = re.sub(r"[?#].*$", "", project["source_url"].strip().lower()).rstrip("/")
        if "dnr=" in project["source_url"]:
            url = project["source_url"].strip()
        return "u-" + hashlib.sha256(url.encode()).hexdigest()[:16]
    basis = "|".join(fold(str(project[k] or "")) for k in KEY_BASIS)
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
