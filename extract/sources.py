"""The sources a user names — folders, .zip files, a sitemap or listing URL, a file of URLs — as one shape:
plan what to read (given what the store knows), then read it in batches."""
from __future__ import annotations

from collections.abc import Callable, Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from extract.discover import Found, discover, is_project_url, normalize_url, page_key
from extract.files import FileItem, SourceError, current_stat, list_items, read_item
from extract.plan import Planned, plan
from extract.polite import PoliteClient, Politeness
from records.pages import FileStat, Known, Plan, RawPage, now
from records.status import has_body


class Source(Protocol):
    """A folder, an archive, a crawl or a list of URLs: planned once, then read in batches."""
    notes: list[str]

    @property
    def discovered(self) -> int: ...
    def plan(self, known: dict[str, Known], today: date | None = None,
             unloaded: AbstractSet[str] = frozenset(), stats: dict[str, FileStat] | None = None) -> Plan: ...
    def read(self, items: list) -> list[RawPage]: ...
    def crawl_rows(self, items: list, pages: list[RawPage], run_id: int) -> list[dict]: ...
    def close(self) -> None: ...


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


@dataclass
class FileSource:
    """Saved pages in a folder, a .zip or a single file. A file whose size, mtime and inode are those it had
    when its stored bytes were read is skipped unread (as git's index does); `rehash` reads every file."""
    path: str
    rehash: bool = False
    discovered: int = 0
    notes: list[str] = field(default_factory=list)

    def plan(self, known: dict[str, Known], today: date | None = None,
             unloaded: AbstractSet[str] = frozenset(), stats: dict[str, FileStat] | None = None) -> Plan:
        items = list_items(self.path)
        self.discovered = len(items)
        if self.rehash or not stats:
            return Plan(items)
        read, skipped, from_store = [], [], []
        for item in items:
            before = stats.get(item.source_key)
            if before is None or current_stat(item) != before:
                read.append(item)
            elif item.source_key in unloaded:  # stored by a run that died before loading it
                from_store.append(item.source_key)
            else:
                skipped.append(item.source_key)
        return Plan(read, skipped, from_store)

    def read(self, items: list[FileItem]) -> list[RawPage]:
        return [read_item(item) for item in items]

    def crawl_rows(self, items: list, pages: list[RawPage], run_id: int) -> list[dict]:
        return []

    def close(self) -> None:
        pass


@dataclass
class WebSource:
    """Project pages on the web, found from a sitemap or listing pages, or given as a list of URLs."""
    found: list[Found]
    politeness: Politeness
    notes: list[str] = field(default_factory=list)
    complete: bool = False  # found by a crawl of the whole listing or sitemap: what is missing has vanished
    _clients: dict[str, PoliteClient] = field(default_factory=dict)

    @property
    def discovered(self) -> int:
        return len(self.found)

    @classmethod
    def crawl(cls, start_url: str, politeness: Politeness,
              on_discovery: Callable[[int, int], None] | None = None) -> "WebSource":
        client = PoliteClient(start_url, politeness)
        if not client.allowed(start_url):
            raise SourceError(f"robots.txt of {client.host} disallows {start_url}: nothing fetched")
        found = discover(client, start_url, on_progress=on_discovery)
        notes = found.problems + [f"not followed (off the host or not a project page): {u}"
                                  for u in found.skipped_links[:5]]
        pages = [f for f in found.pages if client.allowed(f.url)]
        if found.pages and not pages:
            raise SourceError(f"robots.txt of {client.host} disallows every project page: nothing fetched")
        source = cls(pages, politeness, notes, complete=not found.problems)
        source._clients[client.host] = client
        return source

    @classmethod
    def single(cls, url: str, politeness: Politeness | None = None) -> "WebSource":
        """One page by its URL, nothing discovered."""
        return cls([Found(normalize_url(url))], politeness or Politeness())

    def read_one(self) -> RawPage:
        """The single page of a source from `single`."""
        (page,) = self.read(self.plan({}).read)
        return page

    @classmethod
    def from_list(cls, urls_file: str, politeness: Politeness) -> "WebSource":
        path = Path(urls_file)
        if not path.is_file():
            raise SourceError(f"URL list not found: {urls_file}")
        urls = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
        bad = [u for u in urls if not is_url(u)]
        if bad:
            raise SourceError(f"{urls_file}: not a URL: {bad[0]}")
        return cls([Found(normalize_url(u)) for u in dict.fromkeys(urls)], politeness)

    def plan(self, known: dict[str, Known], today: date | None = None,
             unloaded: AbstractSet[str] = frozenset(), stats: dict[str, FileStat] | None = None) -> Plan:
        vanished = []
        if self.complete:
            listed, hosts = {f.url for f in self.found}, set(self._clients)
            vanished = [url for url in known if url not in listed and urlsplit(url).netloc in hosts]
        todo, skipped, from_store = plan(self.found, known, today, vanished=vanished, unloaded=unloaded)
        return Plan(todo, [f.url for f in skipped], [known[f.url].source_key for f in from_store],
                    vanished=sum(1 for p in todo if p.reason == "vanished"))

    def _client(self, url: str) -> PoliteClient:
        host = urlsplit(url).netloc
        if host not in self._clients:
            self._clients[host] = PoliteClient(url, self.politeness)
        return self._clients[host]

    def read(self, items: list[Planned]) -> list[RawPage]:
        return [self._fetch(p) for p in items]

    def _fetch(self, item: Planned) -> RawPage:
        """One page, keyed by its canonical URL. A page without a body (304, gone, failed) keeps the key
        it had last time, or its listed URL when it never had one."""
        url = item.found.url
        page = self._client(url).fetch(url, key=item.source_key or url, etag=item.etag,
                                       last_modified=item.last_modified)
        if page.failed or not has_body(page.http_status):
            return page
        key = page_key(page.url or page.source_key, page.body)
        return page if key == page.source_key else replace(page, source_key=key)

    def crawl_rows(self, items: list[Planned], pages: list[RawPage], run_id: int) -> list[dict]:
        """What to remember of each request, for the next run's plan."""
        rows = []
        for item, page in zip(items, pages):
            rows.append({"listed_url": item.found.url, "source_key": page.source_key, "url": page.url,
                         "lastmod": item.found.lastmod,
                         "listing_entry": item.found.listing_entry, "etag": page.etag or item.etag,
                         "last_modified": page.last_modified or item.last_modified,
                         "http_status": page.http_status, "last_checked_at": page.fetched_at or now(),
                         "run_id": run_id})
        return rows

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def check_source(source: str) -> None:
    """Raise SourceError now, before any work, for a local source that cannot be used."""
    if source.startswith("urls:"):
        if not Path(source[5:]).is_file():
            raise SourceError(f"URL list not found: {source[5:]}")
    elif not is_url(source):
        list_items(source)


def open_source(source: str, politeness: Politeness | None = None,
                on_discovery: Callable[[int, int], None] | None = None, rehash: bool = False) -> Source:
    """The source a spec names. on_discovery(documents read, project pages found) follows a crawl's discovery;
    rehash: read every saved file, whatever its stat says."""
    politeness = politeness or Politeness()
    if source.startswith("urls:"):
        return WebSource.from_list(source[5:], politeness)
    if is_url(source):
        if is_project_url(source):
            return WebSource.single(source, politeness)
        return WebSource.crawl(source, politeness, on_discovery)
    return FileSource(source, rehash=rehash)


__all__ = ["FileSource", "Plan", "Source", "SourceError", "WebSource", "check_source", "is_url", "open_source"]
