"""Fetching and reading pages. Never parses: bytes and fetch metadata only."""
from extract.files import FileItem, SourceError, list_items, read_item
from records.pages import RawPage

__all__ = ["FileItem", "RawPage", "SourceError", "list_items", "read_item"]
