"""Reading saved pages safely from folders and .zip archives."""
from __future__ import annotations

import os
import zipfile

import pytest

from extract import SourceError, list_items, read_item


def test_folder_is_listed_in_order_without_readme_or_hidden_files(tmp_path):
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "a.html").write_text("<p>a</p>")
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / ".hidden").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("c")
    keys = [i.source_key.split("/", 1)[1] for i in list_items(str(tmp_path))]
    assert keys == ["a.html", "b.txt", "sub/c.txt"]


def test_missing_source_raises_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="source not found: .*nothing"):
        list_items(str(tmp_path / "nothing"))


def test_symlink_out_of_the_folder_is_not_followed(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("hemligt")
    pages = tmp_path / "pages"
    pages.mkdir()
    os.symlink(outside, pages / "link.txt")
    (item,) = list_items(str(pages))
    page = read_item(item)
    assert page.failed and page.error == "symbolic link not followed" and page.body == b""


def test_file_over_the_size_limit_is_not_read(tmp_path):
    (tmp_path / "big.html").write_bytes(b"x" * 2000)
    (item,) = list_items(str(tmp_path))
    page = read_item(item, max_bytes=1000)
    assert page.failed and page.error == "file of 2,000 bytes is over the 1,000-byte limit"


def test_zip_members_are_read_and_escaping_paths_refused(tmp_path):
    archive = tmp_path / "pages.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok/page.txt", "Projektägare\nX\n")
        zf.writestr("../escape.txt", "no")
        zf.writestr("big.txt", "y" * 5000)
    items = {i.member: i for i in list_items(str(archive))}
    assert set(items) == {"ok/page.txt", "../escape.txt", "big.txt"}
    assert read_item(items["ok/page.txt"]).body == "Projektägare\nX\n".encode()
    assert read_item(items["ok/page.txt"]).source_key == "pages.zip!/ok/page.txt"
    assert read_item(items["../escape.txt"]).error == "archive path escapes the archive"
    assert "over the 1,000-byte limit" in read_item(items["big.txt"], max_bytes=1000).error


def test_sha256_of_the_body(tmp_path):
    (tmp_path / "p.txt").write_bytes(b"abc")
    page = read_item(list_items(str(tmp_path))[0])
    assert page.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# --- the key a fetched page is stored under -------------------------------------------------------
from extract.discover import page_key  # noqa: E402

FETCHED = "https://www.esf.se/gammal/Projektbanken-2014-2020/Alla-Projekt/Bron-3/"
CANONICAL = "https://www.esf.se/Projektbanken-2014-2020/Alla-Projekt/Bron-3/"


@pytest.mark.parametrize("head, key", [
    ("<link rel='canonical' href='/Projektbanken-2014-2020/Alla-Projekt/Bron-3/'>", CANONICAL),
    ('<LINK HREF="https://WWW.esf.se/Projektbanken-2014-2020/Alla-Projekt/Bron-3/#top" REL="Canonical">', CANONICAL),
    ("<link rel=canonical href=/Projektbanken-2014-2020/Alla-Projekt/Bron-3/>", CANONICAL),
    ("<link rel='alternate canonical' href='../Bron-3/'>", FETCHED),  # relative to the fetched URL: same page
    ("<link rel='canonical' href='https://kopia.example.org/Projektbanken-2014-2020/Alla-Projekt/Bron-3/'>", FETCHED),
    ("<link rel='canonical' href='/'>", FETCHED),                      # a site-wide canonical: not trusted
    ("<link rel='canonical' href=''>", FETCHED),
    ("<link rel='stylesheet' href='/Projektbanken-2014-2020/Alla-Projekt/Bron-3/'>", FETCHED),
    ("", FETCHED),
])
def test_page_key_is_the_canonical_project_url_on_the_same_host(head, key):
    body = f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}</head><body>x</body></html>".encode()
    assert page_key(FETCHED, body) == key


def test_page_key_ignores_a_canonical_link_in_the_body():
    body = b"<html><head><title>x</title></head><body><link rel='canonical' href='/Projektbanken-2014-2020/" \
           b"Alla-Projekt/Annan/'></body></html>"
    assert page_key(FETCHED, body) == FETCHED


def test_page_key_decodes_entities_in_the_href():
    body = b"<head><link rel='canonical' href='/resultat/projektbanken/projekt/?dnr=2016&#x2F;00123'></head>"
    assert page_key(FETCHED, body) == "https://www.esf.se/resultat/projektbanken/projekt/?dnr=2016/00123"


# --- planning pages that left the listing -------------------------------------------------------

def test_a_page_that_left_the_listing_is_asked_once_then_on_the_rotation():
    from datetime import date
    from extract.plan import _slot, plan
    from records.pages import Known
    url = "https://www.esf.se/Projektbanken-2014-2020/Alla-Projekt/kvar/"
    listed_before = Known(url, "2024-01-01", "Kvar | Kommun", '"e"', None, 200)
    asked_since = Known(url, None, None, '"e"', None, 200)  # what the first check after it left stored
    gone = Known(url, None, None, None, None, 410)
    off = next(d for d in (date(2026, 3, i) for i in range(1, 31)) if _slot(url, 30) != d.toordinal() % 30)
    due = next(d for d in (date(2026, 3, i) for i in range(1, 31)) if _slot(url, 30) == d.toordinal() % 30)

    def asked(known, today):
        return [p.found.url for p in plan([], {url: known}, today, vanished=[url])[0]]
    assert asked(listed_before, off) == [url]       # the first night it is missing: is it gone?
    assert asked(asked_since, off) == []            # it still answers: not every night again
    assert asked(asked_since, due) == [url]         # but on its re-check night
    assert asked(gone, due) == []                   # gone is gone
