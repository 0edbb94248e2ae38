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
