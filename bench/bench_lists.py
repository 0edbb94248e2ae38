"""Reading an official list: rows/s and peak memory of transform.lists.read_list over a synthetic list of operations,
and the whole ingest of such a list into a warehouse through the run service.

    python bench/bench_lists.py [--rows 200000] [--runs 3] [--ingest-rows 200000]

generate(path, rows) writes a list of operations as ESF-rådet exports it (BOM, ';', CRLF, bilingual headings,
decimal commas, HTML summaries); time_read(path) reads it through every row (median of the runs) and measures the
peak memory one more run allocates beyond the file's own bytes (tracemalloc, which slows that run; it is not timed).
The issue's target is 20,000 rows/s for the whole ingest, so parsing alone should be well above it.
time_ingest(path) runs service.run.refresh on the list alone (store raw, read chunk by chunk, stage, merge with
history, link, fill, publish) in a fresh subprocess, from an empty warehouse: its wall time and its peak RSS; the
ingest line gives the median of --runs such runs and the machine's speed (bench/machine.py: this machine's speed
drifts, and the loop's time says how fast it was when the figures were taken).
"""
from __future__ import annotations

import argparse
import codecs
import json
import os
import resource
import shutil
import subprocess
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import machine, speed  # noqa: E402
from transform.lists import read_list  # noqa: E402

HEADINGS = ["Diarienummer / Operation ID", "Stödmottagare / Beneficiary",
            "Projektägare organisationsnummer / Beneficiary ID", "Projektägare ort / Beneficiary city",
            "Stödmottagarens land / Beneficiary country", "Namn på insatsen / Operation Name",
            "Programområde / Priority", "Specifikt mål / Specific objective concerned",
            "Interventionsområde / Intervention field", "Total projektbudget / Total budget SEK",
            "Unionens medfinansieringsgrad / Union co-financing rate", "EU-stöd i SEK / EU contribution SEK",
            "Sammanfattning / Summary", "Sammanfattning engelsk / Summary in english", "Startdatum / Start date",
            "Slutdatum / End date", "EU-fond / EU fund", "Program CCI / Program CCI"]
OWNERS = ["Bänkeby kommun", "Region Exempelland", "Samordningsförbundet Mellanbygden", "Stiftelsen Lärlingsvägen",
          "Föreningen Nya steg", "Arbetsmarknadsförbundet Norrdal", "UMEÅ KOMMUN", "Folkhögskolan i Åby"]
CITIES = ["STOCKHOLM", "GÖTEBORG", "MALMÖ", "UMEÅ", "VETLANDA", "KIRUNA", "VISBY", "FALUN"]
AREAS = [("A", "A1"), ("A", "A2A"), ("B", "B1"), ("C", "C1")]
INTERVENTIONS = ["134", "136", "138", "146", "150", "163"]


def row(i: int) -> list[str]:
    case = f"{21 + i % 7}-{(i // 7) % 1000:03d}-S{(i // 7000) % 100:02d}"
    total = 1_000_000 + (i * 7919) % 20_000_000
    grant = total * 2 // 5
    area, objective = AREAS[i % len(AREAS)]
    start_year, month = 2022 + i % 4, 1 + i % 12
    summary = (f"<p>Projektet {i} stärker deltagarnas väg till arbete genom <strong>vägledning</strong>, "
               f"praktik och kortare utbildningar i samverkan med arbetsgivare.</p><p>Det pågår i tre år och når "
               f"omkring {50 + i % 400} deltagare.</p>")
    return [case, OWNERS[i % len(OWNERS)], f"{212000 + i % 999:06d}-{i % 10000:04d}", CITIES[i % len(CITIES)],
            "Sverige", f"Insats nummer {i}", area, objective, INTERVENTIONS[i % len(INTERVENTIONS)],
            f"{total:,}".replace(",", "\u00a0") + ",00", "40 %", f"{grant:,}".replace(",", " ") + ",00",
            summary, f"Operation {i}: guidance, work practice and short courses.",
            f"{start_year}-{month:02d}-01", f"{start_year + 3}-{month:02d}-01", "ESF+", "2021SE05SFPR001"]


def generate(path: Path, rows: int) -> Path:
    """A list of operations of `rows` rows at `path`, written as the export writes it."""
    with open(path, "wb") as fh:
        fh.write(codecs.BOM_UTF8)
        fh.write((";".join(HEADINGS) + "\r\n").encode())
        batch = []
        for i in range(rows):
            batch.append(";".join(row(i)))
            if len(batch) == 10_000:
                fh.write(("\r\n".join(batch) + "\r\n").encode())
                batch = []
        if batch:
            fh.write(("\r\n".join(batch) + "\r\n").encode())
    return path


def read_all(body: bytes) -> tuple[int, int]:
    reading = read_list(body)
    rows = problems = 0
    for chunk in reading.chunks:
        rows += len(chunk)
        problems += len(chunk.problems)
    return rows, problems


def time_read(path: Path, runs: int = 3) -> dict[str, float]:
    """Median seconds and rows/s over `runs` full reads; peak memory of one traced read beyond the file's bytes."""
    body = path.read_bytes()
    times, cpu_times, rows, problems = [], [], 0, 0
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        rows, problems = read_all(body)
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
    tracemalloc.start()
    read_all(body)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    seconds = statistics.median(times)
    cpu_seconds = statistics.median(cpu_times)
    return {"rows": rows, "problems": problems, "seconds": seconds, "rows_per_s": rows / seconds,
            "cpu_seconds": cpu_seconds, "rows_per_cpu_s": rows / cpu_seconds,
            "file_mb": len(body) / 1e6, "peak_mb": peak / 1e6,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def ingest(path: Path, db: Path) -> dict[str, float]:
    """In this process: the list alone through the run service into an empty warehouse at `db`."""
    from service.run import RunSettings, refresh
    started = time.perf_counter()
    report = refresh(RunSettings(db=str(db), sources=(str(path),), parse_workers=os.cpu_count() or 1))
    seconds = time.perf_counter() - started
    (loaded,) = report.lists
    return {"rows": loaded.rows, "rejected": loaded.rejected, "warnings": loaded.warnings, "seconds": seconds,
            "load_seconds": report.durations.get("load", 0.0), "status": report.status,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def time_ingest(path: Path, folder: Path) -> dict[str, float]:
    """The whole ingest in a fresh subprocess (its own peak memory, no earlier run's): rows/s and peak RSS."""
    db = folder / "ingest" / "esf.duckdb"
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--ingest", str(path), "--db", str(db)],
                          cwd=ROOT, check=True, capture_output=True, text=True,
                          env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING"})
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["rows_per_s"] = result["rows"] / result["seconds"]
    result["file_mb"] = path.stat().st_size / 1e6
    return result


def ingest_line(rows: int, folder: Path, runs: int = 3) -> str:
    """One line for bench.py: the ingest of a generated list of `rows` rows, median of `runs` (each in a fresh
    process into an empty warehouse), with the machine's speed (bench/machine.py) before the runs."""
    path = generate(folder / "operations.csv", rows)
    loop = speed()
    results = []
    for _ in range(runs):
        shutil.rmtree(folder / "ingest", ignore_errors=True)
        results.append(time_ingest(path, folder))
    r = sorted(results, key=lambda x: x["seconds"])[len(results) // 2]
    low, high = min(x["seconds"] for x in results), max(x["seconds"] for x in results)
    return (f"| ingest of a {r['file_mb']:.0f} MB list of operations ({r['rows']:,} rows) through the run service "
            f"into an empty warehouse (store raw, read, stage, merge with history, link, publish) | "
            f"median of {runs}: {r['seconds']:.1f} s (range {low:.1f}–{high:.1f}), **{r['rows_per_s']:,.0f} rows/s**, "
            f"peak RSS {r['max_rss_mb']:.0f} MB (the file's bytes are held whole: {r['file_mb']:.0f} MB); machine "
            f"speed loop {loop:.2f} s (usual 0.17–0.20) | ≥ 20,000 rows/s, bounded memory |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ingest-rows", type=int, default=200_000, help="rows of the list ingested (0: none)")
    parser.add_argument("--ingest", type=Path, help=argparse.SUPPRESS)  # the subprocess of time_ingest
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ingest:
        print(json.dumps(ingest(args.ingest, args.db)))
        return
    with tempfile.TemporaryDirectory() as folder:
        if args.ingest_rows:
            print(ingest_line(args.ingest_rows, Path(folder), args.runs))
        path = generate(Path(folder) / "operations.csv", args.rows)
        result = time_read(path, args.runs)
    print(f"read_list over a {result['file_mb']:.1f} MB list of operations: {result['rows']:,} rows "
          f"({result['problems']:,} problems) in {result['seconds']:.2f} s (median of {args.runs}) = "
          f"{result['rows_per_s']:,.0f} rows/s; CPU {result['cpu_seconds']:.2f} s = "
          f"{result['rows_per_cpu_s']:,.0f} rows per CPU second (what a busy machine leaves out)")
    print(f"peak memory of a read beyond the file's bytes (tracemalloc): {result['peak_mb']:.1f} MB; "
          f"process max RSS {result['max_rss_mb']:.0f} MB")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
