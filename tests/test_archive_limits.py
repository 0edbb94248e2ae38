"""A .zip cannot expand without bound: past the archive's limits its members become failed pages, unread."""
from __future__ import annotations

import zipfile
from pathlib import Path

from extract import files
from extract.files import MAX_FILE_BYTES, list_items, read_item

MEMBER = 4 * 1024 * 1024  # under the per-member cap, so only the archive's total can stop it


def bomb(path: Path, members: int, size: int = MEMBER) -> Path:
    """A small zip of highly compressible members (zeros deflate about 1000:1)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for i in range(members):
            zf.writestr(f"pages/{i:03}.txt", bytes(size))
    return path


def test_a_highly_compressible_archive_stops_at_its_allowance(tmp_path):
    archive = bomb(tmp_path / "bomb.zip", 60)  # 240 MiB inside
    on_disk = archive.stat().st_size
    assert on_disk < 1024 * 1024
    allowance = files.archive_allowance(on_disk)
    assert allowance == max(100 * on_disk, MAX_FILE_BYTES)
    items = list_items(str(archive))
    read = [i for i in items if i.refused is None]
    assert len(items) == 60 and len(read) == allowance // MEMBER
    pages = [read_item(i) for i in items]
    assert sum(len(p.body) for p in pages) <= allowance
    failed = [p for p in pages if p.failed]
    assert len(failed) == 60 - len(read) and all(not p.body for p in failed)
    assert failed[0].error.startswith(f"not read: the archive's members would expand past {allowance:,} bytes")
    assert [p.source_key for p in failed] == [f"bomb.zip!/pages/{i:03}.txt" for i in range(len(read), 60)]


def test_the_total_never_passes_the_absolute_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_ARCHIVE_BYTES", 2 * MEMBER)
    monkeypatch.setattr(files, "MAX_ARCHIVE_RATIO", 10 ** 6)
    items = list_items(str(bomb(tmp_path / "bomb.zip", 5)))
    assert [i.refused is None for i in items] == [True, True, False, False, False]
    assert "at most 8,388,608" in read_item(items[2]).error


def test_members_past_the_count_cap_are_failed_pages(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_ARCHIVE_MEMBERS", 3)
    items = list_items(str(bomb(tmp_path / "many.zip", 5, size=100)))
    pages = [read_item(i) for i in items]
    assert [p.failed for p in pages] == [False, False, False, True, True]
    assert pages[3].error == "not read: the archive has more than 3 pages"


def test_an_ordinary_archive_is_read_whole(tmp_path):
    archive = tmp_path / "pages.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(20):
            zf.writestr(f"{i}.txt", f"Projektnamn\nProjekt {i}\n".encode() * 500)
    pages = [read_item(i) for i in list_items(str(archive))]
    assert len(pages) == 20 and not any(p.failed for p in pages)


def test_members_over_the_member_cap_do_not_use_up_the_allowance(tmp_path):
    archive = tmp_path / "mixed.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(10):
            zf.writestr(f"big{i}.txt", bytes(MAX_FILE_BYTES + 1))  # each fails on its own, unread
        zf.writestr("page.txt", b"Projektnamn\nX\n")
    pages = {p.source_key: p for p in map(read_item, list_items(str(archive)))}
    assert pages["mixed.zip!/page.txt"].body == b"Projektnamn\nX\n"
    assert "over the" in pages["mixed.zip!/big0.txt"].error
