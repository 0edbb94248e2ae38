"""ESF regions as analysts name them: a region by name, variant or NUTS code, the regions north to south, and what
a county or municipality given in place of a region belongs to (from data/reference/)."""
from __future__ import annotations

from dataclasses import dataclass

import duckdb

from transform.reference import fold, municipalities, region_by_code, regions


@dataclass(frozen=True)
class Place:
    """A --region value resolved: the region's name and code, or `unknown`, one line saying why and what is valid."""
    name: str | None
    code: str | None
    unknown: str | None = None


def region_names() -> list[str]:
    """The ESF regions as data/reference/regions.csv lists them: north to south, then national."""
    return list(dict.fromkeys(r.name for r in regions().values()))


def resolve_region(con: duckdb.DuckDBPyConnection, text: str) -> Place:
    """The region `text` names (a name, a variant such as `Småland & Öarna`, or a NUTS code such as `se23`), a
    region the database holds by that name, or an `unknown` line naming what `text` is if the reference knows it."""
    known = regions().get(fold(text)) or region_by_code().get(text.strip().upper())
    if known is not None:
        return Place(known.name, known.code)
    in_data = con.execute("SELECT DISTINCT region, region_code FROM projects WHERE lower(region) = lower(?) "
                          "OR upper(region_code) = upper(?) LIMIT 1", [text.strip(), text.strip()]).fetchone()
    if in_data is not None:
        return Place(*in_data)
    valid = ", ".join(region_names())
    return Place(None, None, f"nothing found: {text!r} is not an ESF region{_what_it_is(text)}; "
                             f"the regions are {valid} (or a NUTS code such as SE23)")


def _what_it_is(text: str) -> str:
    """', a county of the region X (SE..)' where `text` is a county or municipality the reference knows, else ''."""
    key = fold(text)
    for municipality in municipalities().values():
        county = municipality.county
        bare = county.removesuffix(" län")
        if key in {fold(county), fold(bare), fold(bare.removesuffix("s"))}:
            return f": {county} is a county in the ESF region {_region(municipality.region_code)}"
    known = municipalities().get(key)
    if known is not None:
        return (f": {known.name} is a municipality in {known.county}, ESF region "
                f"{_region(known.region_code)}")
    return ""


def _region(code: str) -> str:
    region = region_by_code().get(code)
    return f"{region.name} ({code})" if region else code
