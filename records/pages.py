"""What a source yields (one page's bytes and how they were fetched), what the store remembers of a page,
and what a run plans to do with a source's pages."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from datetime import datetime, timezone


@dataclass(frozen=True)
class FileStat:
    """A saved file's stat when it was read: the same three numbers mean the same bytes (as git's index)."""
    size: int
    mtime_ns: int
    inode: int


@dataclass(frozen=True)
class RawPage:
    source_key: str            # stable key: canonical URL, or '<folder>/<relative path>'
    url: str | None
    fetched_at: datetime
    body: bytes
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    error: str | None = None   # a failed fetch: no body, the reason here
    file_stat: FileStat | None = None  # a saved file's stat taken before it was read (None: racy or not a file)

    @cached_property  # read several times per page on the way through the pipeline
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def failed(self) -> bool:
        return self.error is not None


def now() -> datetime:
    return datetime.now(timezone.utc)


def failed_page(source_key: str, reason: str, url: str | None = None, status: int | None = None) -> RawPage:
    return RawPage(source_key=source_key, url=url, fetched_at=now(), body=b"", http_status=status, error=reason)


@dataclass(frozen=True)
class Known:
    """What the store remembers of a listed page; source_key is the raw-store key it led to last time."""
    source_key: str
    lastmod: str | None
    listing_entry: str | None
    etag: str | None
    last_modified: str | None
    http_status: int | None


@dataclass(frozen=True)
class Plan:
    """What a run does with a source's pages: read these (in order), skip these listed URLs as unchanged,
    parse these raw-store keys from the store. `vanished`: how many of `read` are known pages no longer
    listed, asked for once more to see whether they are gone (seen by the run, though not discovered)."""
    read: list[Any]     # what the source reads: its own item type (a file item, a found URL)
    skipped: list[str] = field(default_factory=list)
    from_store: list[str] = field(default_factory=list)
    vanished: int = 0
