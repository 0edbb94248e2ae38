"""Official list files in a run (the list of operations, Kohesio's export): told from pages by their content,
stored raw like pages, then read block by block (a large file's blocks in the run's pool of parse processes) and
staged for the load, which merges them with history, links them to projects and fills what pages lack.

A row's problem stays that row's: a warning (the value is NULL) or a reject (no identity, unreadable), each with
its row number in `warnings` / `rejects` (stage 'list'); a missing expected column is a warning without a row
number and a line in the run report. A file that turns out to be no list is that file's reject, nothing loaded.
"""
from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

from records.lists import LIST_STAGE, ListProblem, NotAList
from records.pages import RawPage
from records.problems import ProblemRow
from records.project import Problem
from extract.files import XLSX_SIGNATURE, looks_like_table
from load.lists import ListLoaded, has_staging, stage_encoded, stage_file, start_staging
from load.warehouse import Warehouse
from records.project import ParsedPage
from service.list_blocks import STAGED_SUFFIX, read_for_staging
from service.pool import ParsePool
from transform.lists import read_chunks, read_list, sniff

CHUNK_ROWS = 5000
IN_POOL_BYTES = 4 << 20  # a smaller file (under some 8,000 rows) is read here: starting workers costs more
MISSING_COLUMN = "expected column missing from the file: its field is empty in every row"


def is_list(body: bytes) -> bool:
    """Whether a stored body is an official list, to be read as one and not parsed as a page. A workbook always
    is (a workbook that is no list is refused as such); text only when its heading row is a list's."""
    if body.startswith(XLSX_SIGNATURE):
        return True
    if not looks_like_table(body):
        return False
    try:
        sniff(body)
    except NotAList:
        return False
    return True


def is_large_new_list(page: RawPage, lists_from: dict[str, str]) -> bool:
    """Whether the run will read this page as a list in its pool: a list file this large whose bytes the
    warehouse has not loaded."""
    return (page.body is not None and len(page.body) >= IN_POOL_BYTES
            and lists_from.get(page.source_key) != page.sha256 and is_list(page.body))


def read_and_stage(wh: Warehouse, page: RawPage, pool: ParsePool | None = None,
                   chunk_rows: int | None = None) -> tuple[ListLoaded | None, list[ProblemRow], ParsedPage | None]:
    """Read one list file and stage its rows for the load; → (what was read, its problem rows, None), or for a
    file that is no list (None, [], a rejected ParsedPage naming why). A large file's blocks of rows are read in
    the run's pool while this process splits the next ones; each block's rows are written to a temporary file
    that DuckDB reads, all at once, at the end."""
    try:
        reading = read_list(page.body, chunk_rows or CHUNK_ROWS)
    except NotAList as exc:
        return None, [], ParsedPage(page.source_key, None, None, problems=[Problem(None, str(exc), stage=LIST_STAGE)])
    if not has_staging(wh.con):
        start_staging(wh.con)
    loaded = ListLoaded(page.source_key, reading.kind, missing_columns=list(reading.missing_columns),
                        notes=list(reading.notes))
    problems = [ProblemRow.of_list_problem(page.source_key, ListProblem(None, heading, MISSING_COLUMN))
                for heading in reading.missing_columns]
    map_blocks = pool.map_ordered if pool is not None and len(page.body) >= IN_POOL_BYTES else map
    with tempfile.TemporaryDirectory(prefix="esf-list-") as spool:  # the run's, removed however it ends
        for chunk in read_chunks(reading, map_blocks, partial(read_for_staging, reading.reader, spool)):
            loaded.rows += len(chunk)
            problems += [ProblemRow.of_list_problem(page.source_key, p) for p in chunk.problems]
        stage_encoded(wh.con, page.source_key, reading.kind, sorted(Path(spool).glob(f"*{STAGED_SUFFIX}")))
    loaded.rejected = sum(1 for p in problems if p.severity == "error")
    loaded.warnings = len(problems) - loaded.rejected
    stage_file(wh.con, loaded, page.sha256)
    return loaded, problems, None
