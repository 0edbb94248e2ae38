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
