"""Where a 1 %-changed nightly refresh from a folder spends its time, in-process and without Prefect:
a full build, then the nightly under cProfile. Prints the phases and the top functions; asserts nothing.

    python bench/profile_nightly.py [--pages 10000] [--top 25]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench import write_pages  # noqa: E402
from bench.machine import machine  # noqa: E402
from service.run import RunSettings, refresh  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="esf-profile-"))
    try:
        folder, db = work / "pages", work / "esf.duckdb"
        write_pages(folder, a.pages)
        settings = RunSettings(db=str(db), sources=(str(folder),), parse_workers=2)
        started = time.perf_counter()
        refresh(settings)
        full = time.perf_counter() - started
        write_pages(folder, a.pages, version=1)
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        report = refresh(settings)
        profile.disable()
        nightly = time.perf_counter() - started
        print(f"{machine()}\n{a.pages:,} pages; in-process, no Prefect: full build {full:.1f} s, nightly "
              f"{nightly:.2f} s = {nightly / full:.1%} (read {report.counts.fetched}, "
              f"skipped {report.counts.skipped}); published {db.stat().st_size / 2 ** 20:.0f} MB")
        print("durations:", {k: round(v, 2) for k, v in report.durations.items()})
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(a.top)
        print(out.getvalue())
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
