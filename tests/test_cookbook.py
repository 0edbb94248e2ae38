"""The README's cookbook: every query runs on the sample corpus and prints exactly the answer shown.

After an intended change, refresh the answers with `python tests/test_cookbook.py --rewrite DB`
(DB: a database built by `esf run` from the bundled samples) and review the diff.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import ROOT, SAMPLES  # noqa: E402

from analyst.formats import table  # noqa: E402

README = ROOT / "README.md"
BLOCK = re.compile(r"```sql\n(?P<sql>.*?)```\n```text\n(?P<out>.*?)```", re.S)


def recipes(text: str) -> list[re.Match]:
    return list(BLOCK.finditer(text))


def answer(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    cur = con.execute(sql)
    return table([d[0] for d in cur.description], cur.fetchall()) + "\n"


@pytest.fixture(scope="module")
def sample_db(prefect_api, tmp_path_factory) -> Path:
    from flows.pipeline import refresh
    db = tmp_path_factory.mktemp("cookbook") / "esf.duckdb"
    refresh(sources=[str(SAMPLES)], db=str(db))
    return db


def test_cookbook_has_eight_to_ten_recipes():
    assert 8 <= len(recipes(README.read_text(encoding="utf-8"))) <= 10


@pytest.mark.parametrize("number", range(len(recipes(README.read_text(encoding="utf-8")))))
def test_recipe_gives_the_answer_shown(sample_db, number):
    recipe = recipes(README.read_text(encoding="utf-8"))[number]
    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        assert answer(con, recipe["sql"]) == recipe["out"]
    finally:
        con.close()


if __name__ == "__main__" and "--rewrite" in sys.argv:
    con = duckdb.connect(sys.argv[sys.argv.index("--rewrite") + 1], read_only=True)
    text = README.read_text(encoding="utf-8")
    text = BLOCK.sub(lambda m: f"```sql\n{m['sql']}```\n```text\n{answer(con, m['sql'])}```", text)
    README.write_text(text, encoding="utf-8")
    print(f"rewrote {len(recipes(text))} answers in {README}")
