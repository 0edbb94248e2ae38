"""The naive way, for comparison only: one Prefect task per page and row-by-row inserts."""
from __future__ import annotations

import sys

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from extract.files import list_items, read_item
from load import Warehouse
from transform import parse_page

COLUMNS = ["project_id", "title", "programme_period", "programme_area_code", "region", "region_code",
           "esf_grant_sek", "total_budget_sek", "start_date", "end_date", "source_key", "template"]


@task(cache_policy=NO_CACHE)
def read_and_parse(item):
    raw = read_item(item)
    return parse_page(raw.body, raw.source_key, sha256=raw.sha256)


@task(cache_policy=NO_CACHE)
def insert(wh: Warehouse, page) -> None:
    p = page.project
    values = [p.get(c) for c in COLUMNS]
    wh.con.execute(f"INSERT INTO projects ({', '.join(COLUMNS)}, record_hash, first_seen, last_seen, run_id) "
                   f"VALUES ({', '.join('?' * len(COLUMNS))}, '', now(), now(), 0)", values)
    for o in page.organisations:
        wh.con.execute("INSERT INTO project_organisations (project_id, role, name, name_normalized, truncated, "
                       "run_id) VALUES (?, ?, ?, ?, ?, 0)",
                       [p["project_id"], o["role"], o["name"], o["name_normalized"], o["truncated"]])
    for s in page.sections:
        wh.con.execute("INSERT INTO project_sections (project_id, section, heading, text, run_id) "
                       "VALUES (?, ?, ?, ?, 0)",
                       [p["project_id"], s["section"], s["heading"], s["text"]])


@flow(name="naive-build")
def naive_build(folder: str, db: str) -> int:
    with Warehouse(db) as wh:
        n = 0
        for item in list_items(folder):
            page = read_and_parse(item)
            if page.ok:
                insert(wh, page)
                n += 1
        return n


if __name__ == "__main__":
    print(naive_build(sys.argv[1], sys.argv[2]))
