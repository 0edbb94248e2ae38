"""Reference data and the label vocabulary, read once from the CSV files in data/reference/."""
from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

from records.data import BUNDLED_DATA, data_dir

__all__ = ["BUNDLED_DATA", "data_dir"]


def _rows(name: str) -> list[dict[str, str]]:
    with open(data_dir() / "reference" / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


_FOLD_SEPARATORS = re.compile(r"[-–—_/]")


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """A matching key: NFC, case-folded, '&' as 'och', hyphens and runs of spaces as one space."""
    text = unicodedata.normalize("NFC", text).casefold().replace("&", " och ")
    return " ".join(_FOLD_SEPARATORS.sub(" ", text).split())


@dataclass(frozen=True)
class Labels:
    fields: dict[str, str]      # label text (folded) → field key
    sections: dict[str, str]    # heading (folded) → section key
    lists: dict[str, str]       # heading (folded) → role / 'municipality'
    noise: frozenset[str]       # site chrome lines (folded)
    by_length: tuple[tuple[str, str], ...]  # (label as written, field), longest first
    glued: re.Pattern[str]           # any label as written at the start of a line, longest first
    longest: int                # no line longer than this (plus a colon) is a label or heading
    language: dict[str, frozenset[str]]  # label, heading or chrome line (folded) → the languages it is written in


@cache
def labels() -> Labels:
    fields: dict[str, str] = {}
    sections: dict[str, str] = {}
    lists: dict[str, str] = {}
    noise: set[str] = set()
    written: list[tuple[str, str]] = []
    language: dict[str, frozenset[str]] = {}
    for row in _rows("labels.csv"):
        key, label = row["key"], row["label"].strip()
        language[fold(label)] = language.get(fold(label), frozenset()) | frozenset(row["language"].split("|"))
        target = {"field": fields, "section": sections, "list": lists}.get(row["kind"])
        if target is None:
            noise.add(fold(label))
            continue
        target[fold(label)] = key
        if row["kind"] == "field":
            written.append((label, key))
    written.sort(key=lambda lk: -len(lk[0]))
    glued = re.compile("|".join(re.escape(label) for label, _ in written))
    longest = max(len(k) for k in [*fields, *sections, *lists, *noise]) + 1
    return Labels(fields, sections, lists, frozenset(noise), tuple(written), glued, longest, language)


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    county_code: str
    county: str
    region_code: str


@dataclass(frozen=True)
class Region:
    name: str
    code: str


@cache
def regions() -> dict[str, Region]:
    """Every written form of a region (folded) → Region."""
    out: dict[str, Region] = {}
    for row in _rows("regions.csv"):
        region = Region(row["region"], row["region_code"])
        for variant in [row["region"], *filter(None, row["variants"].split("|"))]:
            out[fold(variant)] = region
    return out


@cache
def region_by_code() -> dict[str, Region]:
    return {r.code: r for r in regions().values()}


@cache
def county_regions() -> dict[str, str]:
    """County code → NUTS 2 region code."""
    out = {}
    for row in _rows("regions.csv"):
        for county in filter(None, row["counties"].split("|")):
            out[county] = row["region_code"]
    return out


@cache
def nuts_codes() -> dict[str, str]:
    """A NUTS code as pages write it → the project's region_code."""
    return {row["nuts_code"].upper(): row["region_code"] for row in _rows("nuts_codes.csv")}


@cache
def municipalities() -> dict[str, Municipality]:
    """Folded official name → Municipality, plus the aliases of municipality_aliases.csv."""
    counties = county_regions()
    by_name = {}
    for row in _rows("municipalities.csv"):
        m = Municipality(row["code"], row["name"], row["county_code"], row["county"],
                         counties[row["county_code"]])
        by_name[fold(m.name)] = m
    for row in _rows("municipality_aliases.csv"):
        by_name[fold(row["written"])] = by_name[fold(row["official"])]
    return by_name


@cache
def programme_areas() -> dict[tuple[str, str], str | None]:
    """(programme_period, area code) → area name, or None where no name is on record."""
    return {(r["programme_period"], r["programme_area_code"]): (r["programme_area_name"] or None)
            for r in _rows("programme_areas.csv")}


@cache
def national_organisations() -> tuple[str, ...]:
    """Organisations whose local offices group under the national name, longest first."""
    return tuple(sorted((r["name"] for r in _rows("national_organisations.csv")), key=len, reverse=True))


@cache
def expected_fields() -> dict[tuple[str, str], dict[str, str]]:
    """(template, programme period or '*') → {field: level} of the fields such pages write. Level `expected`
    (nearly every page writes it): missing is a warning; `optional` (often left out): missing is a note."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for r in _rows("expected_fields.csv"):
        out.setdefault((r["template"], r["programme_period"]), {})[r["field"]] = r["level"]
    return out


@cache
def field_orders() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Template → the usual orders of its fields (one per programme period it serves), as field keys."""
    out: dict[tuple[str, str], list[str]] = {}
    for r in _rows("field_order.csv"):
        out.setdefault((r["template"], r["programme_period"]), []).append(r["field"])
    orders: dict[str, tuple[tuple[str, ...], ...]] = {}
    for (template, _), keys in out.items():
        orders[template] = orders.get(template, ()) + (tuple(keys),)
    return orders
