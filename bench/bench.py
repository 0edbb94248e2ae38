"""Benchmarks of the whole pipeline on the synthetic generator's pages. Prints figures; asserts nothing.

    python bench/bench.py [--pages 10000] [--runs 3] [--naive-pages 1000] [--list-rows 200000] [--out bench/RESULTS.md]

Every figure is the median of --runs runs of the real `esf` command in a subprocess, Prefect's start-up
(its temporary API) included, from an empty warehouse unless said otherwise; the nights under `esf serve`
come from bench_serve.py (flow runs of one long-lived `esf serve`, as the nightly refresh runs).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import machine  # noqa: E402
from demo.generator import page, pages  # noqa: E402
from demo.site import DemoSite  # noqa: E402
from flows.server import local_server, prefect_home_for  # noqa: E402


CPU: list[float] = []  # CPU seconds (user + system) of each `esf` run and its children, in order


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str], env: dict | None = None) -> tuple[float, float]:
    """(seconds, peak RSS in MB of the command and its children) for one `esf` invocation; its CPU seconds
    go to CPU (steadier than wall time on a shared machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cpu = _cpu()
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING", **(env or {})})
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 3):
        raise SystemExit(f"esf {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    CPU.append(_cpu() - cpu)
    return seconds, peak


def cpu_of(runs: int) -> str:
    """The median CPU seconds of the last `runs` runs, for the table."""
    return f"{statistics.median(CPU[-runs:]):.1f} CPU s"


def mb(path: Path) -> float:
    return path.stat().st_size / 2 ** 20 if path.exists() else 0.0


def write_pages(folder: Path, n: int, version: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for p in pages(n, version=version):
        target = folder / f"p{p.index:06d}.html"
        if version == 0 or p.html != page(p.index).html:
            target.write_text(p.html, encoding="utf-8")


def median_run(make_args, runs: int, prepare=None) -> tuple[float, float]:
    times, peaks = [], []
    for _ in range(runs):
        if prepare:
            prepare()
        seconds, peak = run(make_args())
        times.append(seconds)
        peaks.append(peak)
    return statistics.median(times), max(peaks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--naive-pages", type=int, default=1000)
    ap.add_argument("--list-rows", type=int, default=200_000, help="rows of the official list ingested")
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    a = ap.parse_args()
    n, lines = a.pages, []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    work = Path(tempfile.mkdtemp(prefix="esf-bench-"))

    def serve_rows(kind: str, full_cli: float) -> None:
        """Nights as the nightly refresh runs them: flow runs of one long-lived `esf serve` (bench_serve.py)."""
        from bench.bench_serve import bench as bench_serve  # it uses write_pages from here
        night1, later = bench_serve(kind, n, 3, work / f"serve-{kind}", say=lambda line: None)
        night = statistics.median(later)
        say(f"| a ~1 % night under `esf serve` ({kind}; the flow run forked warm, timed from Pending to its end; "
            f"median of {len(later)}) | {night:.2f} s: **{night / full_cli:.1%} of the full build** above; "
            f"{night / night1:.1%} of night 1 under the same `esf serve` ({night1:.1f} s) | ≤ 10 % |")

    try:
        folder, db = work / "pages", work / "esf.duckdb"
        t = time.perf_counter()
        write_pages(folder, n)
        size = sum(f.stat().st_size for f in folder.iterdir()) / n / 1024
        say(f"# Benchmark results\n\n{date.today().isoformat()}, `python bench/bench.py --pages {n} --runs {a.runs}`"
            f"\n\nMachine: {machine()}\n\nCorpus: {n:,} synthetic HTML pages (median {size:.0f} KB), generated in "
            f"{time.perf_counter() - t:.1f} s. Figures are medians of {a.runs} runs of the `esf` command, "
            f"Prefect's start-up included.\n")

        def fresh() -> None:
            for f in work.glob("esf*.duckdb*"):
                f.unlink()

        say("| measurement | result | target |\n|---|---|---|")
        full, peak = median_run(lambda: ["run", "--source", str(folder), "--db", str(db), "--no-summary"], a.runs, fresh)
        say(f"| full build from a folder | {full:.1f} s, **{n / full:.0f} pages/s**, peak {peak:.0f} MB, {cpu_of(a.runs)} | ≥ 250 pages/s, ≤ 1 GB |")
        raw = db.with_name(f"{db.stem}.raw{db.suffix}")
        say(f"| published file `esf.duckdb` after the full build | **{mb(db):.0f} MB** (raw store `esf.raw.duckdb` "
            f"{mb(raw):.0f} MB, not published; pages {sum(f.stat().st_size for f in folder.iterdir()) / 2 ** 20:.0f} MB)"
            f" | ≤ 15 % of the 450 MB with bodies inside |")
        repro, rpeak = median_run(lambda: ["reprocess", "--db", str(db)], a.runs)
        say(f"| reprocess (default: thread runner, parsing in {os.cpu_count()} worker processes) | {repro:.1f} s, **{n / repro:.0f} pages/s**, peak {rpeak:.0f} MB, {cpu_of(a.runs)} | ≥ 300 pages/s |")
        reproc, _ = median_run(lambda: ["reprocess", "--db", str(db), "--runner", "processes"], 1)
        say(f"| reprocess with Prefect's ProcessPoolTaskRunner (`--runner processes`; 1 run) | {reproc:.1f} s, **{n / reproc:.0f} pages/s** | ≥ 300 pages/s |")
        write_pages(folder, n, version=1)
        changed = sum(1 for i in range(n) if page(i, version=1).html != page(i).html)
        inc, _ = run(["run", "--source", str(folder), "--db", str(db), "--no-summary"])
        say(f"| nightly refresh from the folder, {changed} pages ({changed / n:.1%}) changed, `esf run` | "
            f"{inc:.1f} s, **{inc / full:.0%} of the full build**, {cpu_of(1)} | ≤ 10 % |")
        with local_server(prefect_home_for(db)) as api:
            write_pages(folder, n, version=2)
            served, _ = run(["run", "--source", str(folder), "--db", str(db), "--no-summary"], {"PREFECT_API_URL": api})
        say(f"| the same, `esf run` in a new process against a running Prefect server | {served:.1f} s, "
            f"**{served / full:.0%} of the full build**, {cpu_of(1)} | |")
        serve_rows("folder", full)

        with DemoSite(n) as site:
            url = site.url + "/resultat/projektbanken/"
            http, hpeak = median_run(lambda: ["run", "--source", url, "--db", str(db), "--delay", "0",
                                              "--no-summary"], a.runs, fresh)
            first_requests = len(site.requests) // a.runs
            say(f"| full build over HTTP from the local site, no delay | {http:.1f} s, **{n / http:.0f} pages/s**, "
                f"peak {hpeak:.0f} MB, {first_requests:,} requests, {cpu_of(a.runs)} | ≥ 100 pages/s |")
            site.set_version(1)
            site.clear_log()
            inc_http, _ = run(["run", "--source", url, "--db", str(db), "--delay", "0", "--no-summary"])
            say(f"| nightly refresh over HTTP, ~1 % changed, `esf run` | {inc_http:.1f} s, **{inc_http / http:.0%} of the "
                f"full build**, {len(site.requests):,} requests ({len(site.requests) / first_requests:.1%} of the first), "
                f"{cpu_of(1)} | ≤ 10 % |")
            with local_server(prefect_home_for(db)) as api:
                site.set_version(2)
                site.clear_log()
                served_http, _ = run(["run", "--source", url, "--db", str(db), "--delay", "0", "--no-summary"],
                                     {"PREFECT_API_URL": api})
            say(f"| the same, `esf run` in a new process against a running Prefect server | {served_http:.1f} s, "
                f"**{served_http / http:.0%} of the full build**, {len(site.requests):,} requests, {cpu_of(1)} | |")
        serve_rows("http", http)

        from bench.bench_lists import ingest_line
        lists_folder = work / "lists"
        lists_folder.mkdir()
        say(ingest_line(a.list_rows, lists_folder))

        naive_folder = work / "naive"
        naive_folder.mkdir()
        for f in sorted(folder.iterdir())[:a.naive_pages]:
            shutil.copy(f, naive_folder / f.name)
        started = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "bench" / "naive.py"), str(naive_folder), str(work / "naive.duckdb")],
                       cwd=ROOT, check=True, capture_output=True, env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"})
        naive = time.perf_counter() - started
        naive_rate = a.naive_pages / naive
        say(f"| naive build (a Prefect task per page, row-by-row inserts), {a.naive_pages:,} pages | {naive:.1f} s, "
            f"{naive_rate:.0f} pages/s: **{(n / full) / naive_rate:.1f}× slower** than the full build | ≥ 5× slower |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    Path(a.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwritten to {a.out}")


if __name__ == "__main__":
    main()
