"""`esf report` at scale: time to build the HTML page from a synthetic warehouse of 100,000 projects.

    python bench/bench_report.py [--projects 100000] [--runs 3]

The warehouse is bench_queries.py's (real schema, views and summary tables, 30 nightly runs of history).
Timed: `report.html.write` (every figure's query for all periods and each period, the run tables, the page
with Plotly's JavaScript), median of --runs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench import machine  # noqa: E402
from bench.bench_queries import FILL  # noqa: E402
from load.summaries import refresh_summaries  # noqa: E402
from load.migrate import migrate  # noqa: E402
from analyst.report import write  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--projects", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="esf-r-"))
    db = folder / "r.duckdb"
    con = duckdb.connect(str(db))
    migrate(con)
    con.execute(FILL.replace("range(?)", f"range({a.projects})"))
    refresh_summaries(con, 30)
    con.execute("CHECKPOINT")
    con.close()
    times = []
    for _ in range(a.runs):
        t = time.perf_counter()
        out = write(db, folder / "report.html")
        times.append(time.perf_counter() - t)
    print(f"{a.projects:,} projects. {machine()}\n")
    print(f"esf report: median {statistics.median(times):.2f} s of {', '.join(f'{x:.2f}' for x in times)} s; "
          f"page {out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
