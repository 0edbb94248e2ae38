"""Pure transformation: page bytes in, normalized records out. No network, no database."""
from __future__ import annotations

from transform.lines import NotDecodable, page_text
from transform.parser import parse_lines
from records.project import ParsedPage, Problem
from transform.record import build_record

MAX_PAGE_BYTES = 5 * 1024 * 1024  # a project page is 5–60 KB; anything this large is not one


def parse_page(body: bytes, source_key: str, *, url: str | None = None, content_type: str | None = None,
               sha256: str | None = None, max_bytes: int = MAX_PAGE_BYTES) -> ParsedPage:
    """Parse one page. Never raises for bad input: problems are in the result."""
    def reject(reason: str) -> ParsedPage:
        return ParsedPage(source_key, None, None, problems=[Problem(None, reason)])

    if len(body) > max_bytes:
        return reject(f"page of {len(body):,} bytes is over the {max_bytes:,}-byte limit")
    if not body.strip():
        return reject("empty page")
    try:
        text = page_text(body, content_type)
    except NotDecodable as exc:
        return reject(f"not a text page: {exc}")
    fields = parse_lines(text.lines, text.headings)
    return build_record(text, fields, source_key, url, sha256)


def parse_pages(pages: list[tuple[bytes, str, str | None, str | None, str | None]]) -> list[ParsedPage]:
    """parse_page over (body, source_key, url, content_type, sha256) tuples: the unit a worker process gets."""
    return [parse_page(body, key, url=url, content_type=ctype, sha256=sha) for body, key, url, ctype, sha in pages]


__all__ = ["ParsedPage", "Problem", "parse_page", "parse_pages"]
