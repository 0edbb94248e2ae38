"""The machine a benchmark ran on, in one line for its figures."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    import duckdb
    import prefect
    return (f"{os.cpu_count()} cores ({cpu}), {mem / 1024:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, prefect {prefect.__version__}, duckdb {duckdb.__version__}")


def speed(loops: int = 5_000_000, runs: int = 3) -> float:
    """Seconds a fixed pure-Python loop takes here now, best of `runs`: this (shared, virtual) machine's speed
    drifts, by as much as 1.8x within an evening, so a figure printed with it can be compared with one taken at
    another time. Some 0.17 to 0.20 s on this project's development machine at its usual speed."""
    import time
    best = float("inf")
    for _ in range(runs):
        started, total = time.perf_counter(), 0
        for i in range(loops):
            total += i
        best = min(best, time.perf_counter() - started)
    return best
