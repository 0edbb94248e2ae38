"""Parsing pages with long partner lists: seconds and rows/s per page size (median of --runs runs).

    python bench/bench_long_lists.py [--sizes 1000 10000 100000] [--runs 3]

A real page lists a handful of partners; these pages show that the cost grows linearly with the list.
Each size is timed as a text dump and as HTML (<ul><li>), through parse_page, then through schemas.validate.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench import machine  # noqa: E402
from schemas.validate import validate  # noqa: E402
from transform import parse_page  # noqa: E402

FIELDS = [
    ("Programområde", "2.1 Öka övergångarna till arbete"), ("Region", "Västsverige"),
    ("Projektägare", "Bänkeby kommun"), ("Projektnummer", "2017/00345"),
    ("Projektperiod", "2017-03-01-2019-02-28"), ("Total projektbudget", "6 400 000 kr"),
    ("Beviljat ESF-stöd", "3 200 000 kr"),
]


def partner(i: int) -> str:
    return f"Samverkansförening nr {i} i Bänkeby"


def text_page(rows: int) -> bytes:
    lines = ["Listprojektet Långa raden", ""]
    lines += [line for label, value in FIELDS for line in (label, value)]
    lines += ["", "Sammanfattning", "Ett påhittat projekt med väldigt många parter.", "", "Samarbetspartners"]
    lines += [f"• {partner(i)}" for i in range(rows)]
    return "\n".join(lines).encode()


def html_page(rows: int) -> bytes:
    fields = "".join(f"<h4>{label}</h4><p>{value}</p>" for label, value in FIELDS)
    items = "".join(f"<li>{partner(i)}</li>" for i in range(rows))
    return (f"<html><body><main><h1>Listprojektet Långa raden</h1>{fields}<h2>Sammanfattning</h2>"
            f"<p>Ett påhittat projekt med väldigt många parter.</p><h2>Samarbetspartners</h2><ul>{items}</ul>"
            f"</main></body></html>").encode()


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(machine())
    print(f"median of {args.runs} runs\n")
    print("| page | partner rows | parse_page s | rows/s | validate s |")
    print("|---|---|---|---|---|")
    for kind, make in (("text", text_page), ("HTML", html_page)):
        for rows in args.sizes:
            body = make(rows)
            seconds, page = timed(lambda: parse_page(body, f"bench-{rows}"), args.runs)
            partners = sum(1 for o in page.organisations if o["role"] == "partner")
            assert partners == rows, (partners, rows)
            checked, _ = timed(lambda: validate([page]), args.runs)
            print(f"| {kind} ({len(body) / 1024:,.0f} KB) | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} | "
                  f"{checked:.2f} |", flush=True)


if __name__ == "__main__":
    main()
