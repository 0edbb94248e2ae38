"""The record every source yields: one page's bytes and how they were fetched."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timezone


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
