"""A batch whose reading fails part-way is read again by Prefect (`--batch-retries`, the only step that retries:
reading is the only I/O), the retry fetches only the pages the first try had not, and the night publishes them
all. The fault is real I/O failing: the folder source's read of one file raises once."""
from __future__ import annotations

import shutil

import duckdb
import pytest

from conftest import SAMPLES
from extract.sources import FileSource
from flows import pipeline


@pytest.mark.prefect
def test_a_batch_that_fails_part_way_is_read_again_without_the_pages_it_had(prefect_api, tmp_path, monkeypatch):
    pages = tmp_path / "pages"
    shutil.copytree(SAMPLES, pages)
    read_one_by_one = FileSource.read
    reads: list[str] = []

    def read(self, items):
        name = items[0].source_key
        reads.append(name)
        if len(reads) == 3:
            raise OSError(f"the disk went away while reading {name}")
        return read_one_by_one(self, items)

    monkeypatch.setattr(FileSource, "read", read)
    db = tmp_path / "esf.duckdb"
    report = pipeline.refresh(sources=[str(pages)], db=str(db), batch_retries=1, parse_workers=1)
    assert report.status == "succeeded"
    assert reads[3] == reads[2]  # the page whose read failed was read again by the retry …
    assert len(reads) == len(set(reads)) + 1 >= 6  # … and no page read before it was read twice
    assert report.counts.seen == len(set(reads))
    assert report.counts.failed == 0 and report.counts.new == len(set(reads))  # every page published
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM projects").fetchone() == (report.counts.new,)
    finally:
        con.close()
