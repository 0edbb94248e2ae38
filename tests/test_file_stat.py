"""Folder sources skip unchanged files by stat (size, mtime, inode: as git's index does); `--rehash` reads
every file. Runs through the service, without Prefect."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import SAMPLES
from extract.sources import FileSource
from records.pages import FileStat
from service import run as service
from service.run import RunSettings

PAGE = "b-steget-vidare.txt"
DAY_NS = 86_400 * 10 ** 9


@pytest.fixture
def built(tmp_path) -> tuple[Path, Path]:
    """(a private copy of the samples, its published database after a first run)."""
    corpus = tmp_path / "pages"
    shutil.copytree(SAMPLES, corpus)  # copy2 keeps the old mtimes: no file is "racy"
    db = tmp_path / "esf.duckdb"
    assert service.refresh(RunSettings(db=str(db), sources=(str(corpus),))).counts.fetched == 13
    return corpus, db


def run(corpus: Path, db: Path, **kw) -> dict[str, int]:
    return service.refresh(RunSettings(db=str(db), sources=(str(corpus),), **kw)).counts


def test_a_touched_file_is_read_once_then_skipped(built):
    corpus, db = built
    page = corpus / PAGE
    st = page.stat()
    os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns - DAY_NS))  # same bytes, another mtime
    counts = run(corpus, db)
    assert (counts.fetched, counts.skipped, counts.unchanged, counts.changed) == (1, 12, 1, 0)
    counts = run(corpus, db)  # its new stat was remembered
    assert (counts.fetched, counts.skipped) == (0, 13)


def test_a_change_that_keeps_size_and_mtime_is_caught_by_rehash(built):
    corpus, db = built
    page = corpus / PAGE
    st = page.stat()
    text = page.read_bytes()
    changed = text.replace(b"2018-09-01", b"2018-09-02", 1)
    assert changed != text and len(changed) == len(text)
    with open(page, "r+b") as fh:  # in place: same inode
        fh.write(changed)
    os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert page.stat().st_ino == st.st_ino
    counts = run(corpus, db)  # the stat says unchanged: not read (git's index makes the same bet)
    assert (counts.fetched, counts.changed, counts.skipped) == (0, 0, 13)
    counts = run(corpus, db, rehash=True)
    assert (counts.fetched, counts.changed, counts.unchanged, counts.skipped) == (13, 1, 12, 0)


def test_a_replaced_file_is_read_even_with_the_same_size_and_mtime(built):
    corpus, db = built
    page = corpus / PAGE
    st = page.stat()
    text = page.read_bytes()
    replacement = corpus / ".replacement"
    replacement.write_bytes(text.replace(b"2018-09-01", b"2018-09-02", 1))
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(replacement, page)  # another file under the old name: a new inode
    assert page.stat().st_ino != st.st_ino and page.stat().st_size == st.st_size
    counts = run(corpus, db)
    assert (counts.fetched, counts.changed, counts.skipped) == (1, 1, 12)


def test_a_file_changed_just_now_is_not_trusted_by_its_stat(tmp_path):
    """Racy git: a file written in the same clock tick as it is read may change again unseen."""
    (tmp_path / "p.txt").write_text("Projekt\n", encoding="utf-8")
    source = FileSource(str(tmp_path))
    (page,) = source.read(source.plan({}).read)
    assert page.file_stat is None
    old = tmp_path / "p.txt"
    st = old.stat()
    os.utime(old, ns=(st.st_atime_ns, st.st_mtime_ns - DAY_NS))
    (page,) = source.read(source.plan({}).read)
    assert page.file_stat == FileStat(st.st_size, st.st_mtime_ns - DAY_NS, st.st_ino)
    plan = source.plan({}, stats={page.source_key: page.file_stat})
    assert (plan.read, plan.skipped) == ([], [page.source_key])
    assert FileSource(str(tmp_path), rehash=True).plan({}, stats={page.source_key: page.file_stat}).skipped == []
