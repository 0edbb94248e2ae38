"""Saved pages from a folder or a .zip archive, read safely: no links out, no escaping paths, a size cap."""
from __future__ import annotations

import mimetypes
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from records.pages import FileStat, RawPage, failed_page, now
from records.errors import UsageError

MAX_FILE_BYTES = 5 * 1024 * 1024
# A table named as a source of its own (the list of operations, Kohesio's export: ~1 KB a row, tens of thousands
# of rows) may be this large; pages in folders and archives keep the page cap.
MAX_TABLE_BYTES = 512 * 1024 * 1024
TABLE_HEAD_BYTES = 64 * 1024  # what is read of a CSV to see its heading
XLSX_SIGNATURE = b"PK\x03\x04"
MIN_TABLE_SEPARATORS = 1  # a heading row of two fields or more, and a next line split the same way
# What one archive may expand to. The whole project bank saved as HTML is about 8,000 pages of ~40 KB (0.3 GB), and
# deflated HTML or text is 3-15x smaller than it reads; zip bombs expand hundreds of times. So: at most 100x the
# archive's size on disk (never less than one member's cap), at most 2 GiB, at most 50,000 members. Members past a
# limit become failed pages that say which, unread.
MAX_ARCHIVE_BYTES = 2 * 1024 ** 3
MAX_ARCHIVE_RATIO = 100
MAX_ARCHIVE_MEMBERS = 50_000
SKIPPED_NAMES = ("README", "readme")  # a folder's own notes are not pages
# A file changed within this long of being read may change again within the same mtime tick unseen ("racy
# git"): its stat is not remembered, so the next run reads it again.
RACY_SECONDS = 2


@dataclass(frozen=True)
class FileItem:
    """One page to read: a file in a folder, or a member of an archive."""
    source_key: str
    path: str
    member: str | None = None  # set for archive members
    refused: str | None = None  # why an archive member is not read (the archive's limits), if it is not
    max_bytes: int = MAX_FILE_BYTES  # a table source's own file: MAX_TABLE_BYTES


class SourceError(UsageError, ValueError):
    """A source the user named cannot be used (missing, unreadable, not a folder or .zip)."""


def list_items(source: str) -> list[FileItem]:
    """Every page file under a folder, or in a .zip, in a stable order."""
    path = Path(source)
    if not path.exists():
        raise SourceError(f"source not found: {source}")
    if path.is_dir():
        return _folder_items(path)
    if path.is_file() and is_table_file(path):  # an .xlsx is a zip too: a table, not an archive of pages
        return [FileItem(source_key=path.name, path=str(path), max_bytes=MAX_TABLE_BYTES)]
    if zipfile.is_zipfile(path):
        return _zip_items(path)
    if path.is_file():
        return [FileItem(source_key=path.name, path=str(path))]
    raise SourceError(f"source is not a folder, a file or a .zip archive: {source}")


def is_spreadsheet(path: str | os.PathLike) -> bool:
    """An Office Open XML workbook (.xlsx): a zip holding xl/workbook.xml, whatever its name."""
    try:
        with zipfile.ZipFile(path) as zf:
            return "xl/workbook.xml" in zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def is_table_file(path: str | os.PathLike) -> bool:
    """A workbook, or text whose first line reads as a heading row (two fields or more split by ';', ',' or a
    tab; no markup) and whose next line, if any, is split the same way: a page's first line is its title, and a
    blank or a label follows it. Which table it is (list of operations, Kohesio, neither) is for the reader
    (transform.lists.sniff)."""
    head = table_head(path)
    if head.startswith(XLSX_SIGNATURE):
        return is_spreadsheet(path)
    return looks_like_table(head)


def looks_like_table(body: bytes) -> bool:
    """Bytes that begin as a workbook (zip signature) or as a heading row and a row split the same way."""
    if body.startswith(XLSX_SIGNATURE):
        return True
    lines = body[:TABLE_HEAD_BYTES].removeprefix(b"\xef\xbb\xbf").split(b"\n", 2)
    first, second = lines[0], (lines[1] if len(lines) > 1 else b"").strip()
    if b"<" in first or b"\x00" in first or len(first) >= TABLE_HEAD_BYTES - 1:
        return False
    count, sep = max((first.count(sep), sep) for sep in (b";", b",", b"\t"))
    return count >= MIN_TABLE_SEPARATORS and (not second or sep in second)


def table_head(path: str | os.PathLike) -> bytes:
    """The first bytes of a file (empty when it cannot be read): enough for a CSV's heading."""
    try:
        with open(path, "rb") as fh:
            return fh.read(TABLE_HEAD_BYTES)
    except OSError:
        return b""


def table_probe(path: str | os.PathLike) -> bytes | None:
    """For a file that is, or begins as, a table: the bytes its kind is told from (a workbook whole, its heading
    being inside the zip; a CSV's head). None for anything else (a page, a folder, an archive of pages)."""
    if not Path(path).is_file():
        return None
    head = table_head(path)
    if head.startswith(XLSX_SIGNATURE) and (is_spreadsheet(path) or not zipfile.is_zipfile(path)):
        with open(path, "rb") as fh:  # a workbook, or a damaged zip (a truncated workbook): the reader says which
            return fh.read(MAX_TABLE_BYTES + 1)
    return head if looks_like_table(head) else None


def _skip(name: str) -> bool:
    return name.startswith(".") or name.startswith(SKIPPED_NAMES)


def _folder_items(root: Path) -> list[FileItem]:
    items, prefix = [], root.resolve().name
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            if _skip(name):
                continue
            rel = name if rel_dir == "." else f"{Path(rel_dir).as_posix()}/{name}"
            items.append(FileItem(source_key=f"{prefix}/{rel}", path=os.path.join(dirpath, name)))
    return items


def _zip_items(archive: Path) -> list[FileItem]:
    items: list[FileItem] = []
    allowance, total = archive_allowance(archive.stat().st_size), 0
    with zipfile.ZipFile(archive) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            name = PurePosixPath(info.filename)
            if info.is_dir() or _skip(name.name):
                continue
            if info.file_size <= MAX_FILE_BYTES:  # a read inflates at most file_size; bigger members fail unread
                total += info.file_size
            items.append(FileItem(source_key=f"{archive.name}!/{info.filename}", path=str(archive),
                                  member=info.filename, refused=_over_limit(len(items), total, allowance)))
    return items


def archive_allowance(archive_bytes: int) -> int:
    """The bytes an archive of this size may expand to, all members together."""
    return min(MAX_ARCHIVE_BYTES, max(MAX_ARCHIVE_RATIO * archive_bytes, MAX_FILE_BYTES))


def _over_limit(earlier: int, total: int, allowance: int) -> str | None:
    if earlier >= MAX_ARCHIVE_MEMBERS:
        return f"not read: the archive has more than {MAX_ARCHIVE_MEMBERS:,} pages"
    if total > allowance:
        return (f"not read: the archive's members would expand past {allowance:,} bytes in all "
                f"({MAX_ARCHIVE_RATIO}x the archive's size, at most {MAX_ARCHIVE_BYTES:,})")
    return None


def read_item(item: FileItem, max_bytes: int | None = None) -> RawPage:
    """Read one file; a file that cannot be read safely becomes a failed page with the reason."""
    max_bytes = item.max_bytes if max_bytes is None else max_bytes
    if item.member is not None:
        return _read_member(item, max_bytes)
    try:
        st = os.lstat(item.path)
        if stat.S_ISLNK(st.st_mode):
            return failed_page(item.source_key, "symbolic link not followed")
        if not stat.S_ISREG(st.st_mode):
            return failed_page(item.source_key, "not a regular file")
        if st.st_size > max_bytes:
            return failed_page(item.source_key, f"file of {st.st_size:,} bytes is over the {max_bytes:,}-byte limit")
        with open(item.path, "rb") as fh:
            body = fh.read(max_bytes + 1)
    except OSError as exc:
        return failed_page(item.source_key, f"cannot read file: {exc.strerror or exc}")
    if len(body) > max_bytes:
        return failed_page(item.source_key, f"file grew over the {max_bytes:,}-byte limit while read")
    read_at = now()
    racy = read_at.timestamp() * 1e9 - st.st_mtime_ns < RACY_SECONDS * 1e9
    return RawPage(source_key=item.source_key, url=None, fetched_at=read_at, body=body,
                   content_type=_content_type(item.path), file_stat=None if racy else file_stat(st))


def file_stat(st: os.stat_result) -> FileStat:
    return FileStat(st.st_size, st.st_mtime_ns, st.st_ino)


def current_stat(item: FileItem) -> FileStat | None:
    """A folder file's stat now (None for archive members and files that cannot be stat'ed)."""
    if item.member is not None:
        return None
    try:
        return file_stat(os.lstat(item.path))
    except OSError:
        return None


def _read_member(item: FileItem, max_bytes: int) -> RawPage:
    if item.refused:
        return failed_page(item.source_key, item.refused)
    member = item.member or ""
    name = PurePosixPath(member)
    if not member or name.is_absolute() or ".." in name.parts or "\\" in member:
        return failed_page(item.source_key, "archive path escapes the archive")
    try:
        with zipfile.ZipFile(item.path) as zf:
            info = zf.getinfo(member)
            if info.file_size > max_bytes:
                return failed_page(item.source_key, f"member of {info.file_size:,} bytes is over the "
                                                    f"{max_bytes:,}-byte limit")
            with zf.open(info) as fh:
                body = fh.read(max_bytes + 1)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        return failed_page(item.source_key, f"cannot read archive member: {exc}")
    if len(body) > max_bytes:
        return failed_page(item.source_key, "member inflates past the size limit")
    return RawPage(source_key=item.source_key, url=None, fetched_at=now(), body=body,
                   content_type=_content_type(member))


def _content_type(name: str) -> str | None:
    guessed, _ = mimetypes.guess_type(name)
    return guessed
