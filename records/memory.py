"""Memory sizes as DuckDB writes them ('256MB', '1GiB'): read by the CLI's --memory and by the run, which refuses
to store a file its DuckDB memory limit cannot hold."""
from __future__ import annotations

MEMORY_UNITS = {"": None, "b": 1, "byte": 1, "bytes": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6,
                "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
                "tib": 2**40}


def memory_bytes(text: str) -> int:
    """A memory size as DuckDB reads it ('256MB' is 256,000,000 bytes, '256MiB' 268,435,456); ValueError if
    DuckDB would not read it."""
    number, unit = text.strip(), ""
    while number and number[-1].isalpha():
        number, unit = number[:-1], number[-1] + unit
    factor = MEMORY_UNITS.get(unit.strip().lower())
    value = float(number.strip()) if number.strip().replace(".", "", 1).isdigit() else None
    if factor is None or value is None:
        raise ValueError(text)
    return int(value * factor)
