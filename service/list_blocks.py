"""What a worker process of the run's pool does with a block of a list's rows: read it and write its staged text
to the run's spool folder. Kept apart from service/lists.py so that a worker imports neither DuckDB nor the load
(its forkserver preloads this module)."""
from __future__ import annotations

from pathlib import Path

from records.lists import ListChunk
from transform.list_rows import RowReader
from transform.lists import Block
from transform.staging import encode_for_staging

STAGED_SUFFIX = ".staged"


def read_for_staging(reader: RowReader, spool: str, block: Block) -> ListChunk:
    """One block of a list's rows read and encoded for the staging table into a file of `spool` (in a worker
    process for a large file): → the chunk with only what the run still needs of it (row numbers, identities)
    and its problems, those the encoding found after the reader's."""
    chunk = reader.read_block(block)
    encoded, found = encode_for_staging(chunk)
    if encoded:  # named by its first row: blocks never share one
        (Path(spool) / f"{chunk.columns['row_number'][0]:010d}{STAGED_SUFFIX}").write_bytes(encoded)
    chunk.columns = {name: chunk.columns[name] for name in ("row_number", "external_id", "duplicate_of")}
    chunk.problems += found
    return chunk
