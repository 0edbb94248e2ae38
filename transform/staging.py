"""A chunk of a list's rows → the staged text (records/staging.py) that the load reads into DuckDB. Pure: a worker
process makes it for the block it read. Built a column at a time, mostly in C: about 6 µs a row, where the csv
module's quoting cost 15."""
from __future__ import annotations

import base64
from decimal import Decimal, InvalidOperation
from typing import Any

from records.lists import COLUMNS, ListChunk, ListProblem
from records.staging import BASE64, LINE_FEED, LINES, MAX_STAGED_LINE, SEPARATOR, TEXTS

AMOUNTS = ("total_budget", "eu_grant")
AMOUNT_LIMIT = Decimal(10) ** 16  # DECIMAL(18, 2): a larger amount is no project's (and would fail the load)
IDENTITY = ("external_id", "case_number", "sha256")  # never left empty to fit a row
_CONTROL = bytes(range(0x0A)) + bytes(range(0x0B, 0x1F))  # but LF, and US (counted apart: it joins the texts)
_CONTROL_OR_LF = _CONTROL + b"\n"


def _amount(value: Decimal | None, row_number: int, name: str, problems: list[ListProblem]) -> str | None:
    if value is None:
        return None
    if not value.is_finite() or abs(value) >= AMOUNT_LIMIT:
        problems.append(ListProblem(row_number, name, "amount out of range: left empty", str(value)))
        return None
    return str(value)


def encode_for_staging(chunk: ListChunk) -> tuple[bytes, list[ListProblem]]:
    """A chunk's rows as staged text, and the problems the staging itself finds: an amount past DECIMAL(18, 2), or
    a text that would make a row longer than DuckDB reads, is NULL plus a warning, never a failed load."""
    columns = chunk.columns
    if not columns["row_number"]:
        return b"", []
    problems: list[ListProblem] = []
    values = dict(columns)
    for name in AMOUNTS:
        values[name] = _amounts(columns[name], columns["row_number"], name, problems)
    encoded = _encoded(values)
    if len(encoded) > MAX_STAGED_LINE and _fit_lines(values, encoded, problems):
        encoded = _encoded(values)
    return encoded, problems


def _encoded(values: dict[str, list[Any]]) -> bytes:
    fields = [_texts(values[name], name in LINES) if name in TEXTS else _others(values[name]) for name in COLUMNS]
    return b"\n".join(map(SEPARATOR.join, zip(*fields))) + b"\n"


def _texts(values: list[str | None], lines: bool) -> list[bytes]:
    """A text column, each value as is; its line feeds as LINE_FEED in a column of LINES; base64 for any other
    control character (and for a line feed elsewhere)."""
    texts = [value or "" for value in values]
    data = "\x1f".join(texts).encode()
    control = _CONTROL if lines else _CONTROL_OR_LF
    if len(data.translate(None, control)) == len(data) and data.count(SEPARATOR) == len(texts) - 1:
        return data.replace(b"\n", LINE_FEED).split(SEPARATOR) if lines else data.split(SEPARATOR)  # in C
    return [BASE64 + base64.b64encode(text.encode()) if any(c in control or c == 0x1F for c in text.encode())
            else text.encode().replace(b"\n", LINE_FEED) for text in texts]


def _others(values: list[Any]) -> list[bytes]:
    """Numbers and dates as str() writes them, which DuckDB reads as their types (each distinct value once)."""
    try:
        written = {value: str(value) for value in set(values)}
        written[None] = ""
        texts = list(map(written.__getitem__, values))
    except TypeError:  # a signalling NaN cannot be hashed
        texts = ["" if value is None else str(value) for value in values]
    return "\x1f".join(texts).encode().split(SEPARATOR)


def _amounts(values: list[Decimal | None], numbers: list[int], name: str, problems: list[ListProblem]) -> list[Any]:
    present = [value for value in values if value is not None]
    try:
        if not present or (max(present) < AMOUNT_LIMIT and min(present) > -AMOUNT_LIMIT):
            return values  # the common case, compared in C
    except InvalidOperation:  # a NaN
        pass
    return [_amount(value, number, name, problems) for value, number in zip(values, numbers)]


def _fit_lines(values: dict[str, list[Any]], encoded: bytes, problems: list[ListProblem]) -> bool:
    """A row whose staged line is longer than MAX_STAGED_LINE (a crafted workbook's cells): its longest texts but
    its identity are left empty in `values`, each with a warning; → whether any was (the block is encoded again)."""
    fitted = False
    for i, line in enumerate(encoded.split(b"\n")):
        if len(line) <= MAX_STAGED_LINE:
            continue
        room = MAX_STAGED_LINE - len(line)
        sizes = {name: len(_texts([values[name][i]], name in LINES)[0]) for name in TEXTS if values[name][i]}
        for name in sorted(sizes, key=sizes.__getitem__, reverse=True):
            if room >= 0 or name in IDENTITY:
                continue
            values[name] = list(values[name])
            problems.append(ListProblem(values["row_number"][i], name, f"a text of "
                                        f"{len(values[name][i].encode()):,} bytes, too long to load: left empty", None))
            values[name][i] = None
            room += sizes[name]
            fitted = True
    return fitted
