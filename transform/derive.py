"""Derivations as named rules: each fills a column the page does not write from one it does, and says which.

A derived value that contradicts a written one is a warning and the written one wins. The source a rule
names goes to the `*_source` column, so an analyst can filter written from derived values.
"""
from __future__ import annotations

from typing import NamedTuple

from records.project import Problem
from transform import normalize as nz
from transform import reference

TEMPLATE_PERIOD = {"A": "2007-2013", "B": "2014-2020"}
# When several rules give a programme period, the source named is the first of these that spoke.
PERIOD_SOURCES = ("case_number", "template", "fund", "programme_area")


class Derived(NamedTuple):
    value: str | None
    source: str | None


def area_from_objective(objective: str | None, bare_area: str | None) -> str | None:
    """Rule `area_from_objective`: '2.2' → '2'; 'A2A' → 'A'; a bare area number written as the objective → itself."""
    if bare_area:
        return bare_area
    return objective[0] if objective else None


def programme_area(written: str | None, objective: str | None, bare_area: str | None,
                   problems: list[Problem]) -> Derived:
    """The written programme area, else the one its objective implies; a contradiction warns, the written wins."""
    derived = area_from_objective(objective, bare_area)
    if written:
        if derived and derived != written:
            problems.append(Problem("programme_area_code", f"specific objective implies programme area {derived}, "
                                    f"the page writes {written}; the written area is kept", objective or bare_area,
                                    "warning", kind="conflict"))
        return Derived(written, "page")
    if derived:
        return Derived(derived, "objective")
    return Derived(None, None)


def programme_period(template: str, case_number: str | None, area_code: str | None, fund: str | None,
                     problems: list[Problem]) -> Derived:
    """Rules `period_from_case_number`, `period_from_template`, `period_from_fund`, `period_from_area`
    (letters are 2021-2027). The dates never decide. When the rules disagree the period is NULL, with a warning."""
    votes: dict[str, str] = {}
    if case_number and (by_case := nz.case_number_period(case_number)):
        votes["case_number"] = by_case
    if template in TEMPLATE_PERIOD:
        votes["template"] = TEMPLATE_PERIOD[template]
    if fund and fund.strip().upper() == "ESF+":
        votes["fund"] = "2021-2027"
    if area_code:
        votes["programme_area"] = "2021-2027" if area_code.isalpha() else (
            votes.get("template") or votes.get("case_number") or "2014-2020")
    periods = set(votes.values())
    if len(periods) > 1:
        said = ", ".join(f"{k.replace('_', ' ')} says {p}" for k, p in votes.items())
        problems.append(Problem("programme_period", f"programme period unclear: {said}", None, "warning",
                                kind="unreadable"))  # no rule wins: the period is NULL, counted as missing
        return Derived(None, None)
    if not periods:
        return Derived(None, None)
    return Derived(periods.pop(), next(s for s in PERIOD_SOURCES if s in votes))


def region(written: reference.Region | None, nuts: str | None, raw_nuts: str | None,
           problems: list[Problem]) -> tuple[reference.Region | None, str | None]:
    """The written region, else rule `region_from_nuts`; a NUTS code that disagrees warns, the written region wins."""
    if written:
        if nuts and written.code != nuts:
            problems.append(Problem("region_code", f"NUTS-2 code {raw_nuts!r} does not match region "
                                    f"{written.name!r}; the written region is kept", raw_nuts, "warning",
                                    kind="conflict"))
        return written, "page"
    from_code = reference.region_by_code().get(nuts) if nuts else None
    return (from_code, "nuts_code") if from_code else (None, None)
