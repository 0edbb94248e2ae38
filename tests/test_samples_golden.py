"""Golden records: every bundled sample page parses to exactly the record in tests/golden/<page>.json.

The golden files are reviewed by hand. After an intended parser change, rewrite them with
`python tests/test_samples_golden.py --rewrite` and review the diff before committing it.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import SAMPLES  # noqa: E402

from transform import parse_page  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden"
PAGES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".txt", ".html"))


def parsed_json(path: Path) -> dict:
    body = path.read_bytes()
    page = parse_page(body, f"samples/{path.name}", sha256=hashlib.sha256(body).hexdigest())
    return json.loads(json.dumps(page.to_json(), ensure_ascii=False))


def test_corpus_covers_templates_regions_and_periods():
    records = [parsed_json(p) for p in PAGES]
    assert len(records) >= 12
    assert {r["template"] for r in records} == {"A", "B", "C"}
    assert {r["programme_period"] for r in records} == {"2007-2013", "2014-2020", "2021-2027"}
    assert {r["region_code"] for r in records} == {"SE11", "SE12", "SE21", "SE22", "SE23", "SE31", "SE32", "SE33", "SE"}
    assert {p.suffix for p in PAGES} == {".txt", ".html"}


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_golden_record(path):
    expected = json.loads((GOLDEN / f"{path.stem}.json").read_text(encoding="utf-8"))
    assert parsed_json(path) == expected


if __name__ == "__main__" and "--rewrite" in sys.argv:
    for path in PAGES:
        (GOLDEN / f"{path.stem}.json").write_text(
            json.dumps(parsed_json(path), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print("wrote", GOLDEN / f"{path.stem}.json")
