"""Which list rows are which project (`project_links`, rebuilt on every load: projects and lists change), the
matches that were not made (`link_ambiguities`), and what a page lacks filled from its lists (`projects`'
`<column>_source`). Runs inside the load's transaction.

Matching, in order, and nothing looser:
1. `case_number`: the row's case number (the list's Diarienummer; Kohesio's local identifier after its last `_`)
   is the project's.
2. `org_name_start`: for a row the first rule left unmatched, the owner's organisation number (digits only), the
   project's name (case, accents kept, punctuation and spaces folded) and the start date, all three equal. A row
   that this rule finds for two projects or more links to none: each candidate is listed in link_ambiguities.
A project with several rows of one source (a case number twice in a file, or in two files) links to all of
them; the first (case number before fallback, then file, then row number) is its primary row, the one that fills
its values, and the others are listed in link_ambiguities.
"""
from __future__ import annotations

import duckdb

from load.sql import scalar
from records.lists import KOHESIO, OPERATIONS
from records.project import ENRICHED

LISTS = {OPERATIONS: "operations", KOHESIO: "kohesio_operations"}
FILLED_FROM = (OPERATIONS, KOHESIO)  # the order in which lists fill a value the page lacks
# projects column → (list column, SQL that turns the list's value {x} into the column's type)
FILL = {
    "esf_grant_sek": ("eu_grant", "round({x})::BIGINT"),
    "total_budget_sek": ("total_budget", "round({x})::BIGINT"),
    "cofinancing_rate": ("cofinancing_rate", "CASE WHEN {x} BETWEEN 0 AND 1 THEN round({x}, 4)::DECIMAL(5, 4) END"),
    "owner_org_number": ("beneficiary_org_number", "{x}"),
    "intervention_type": ("intervention_type", "{x}"),
}
AMOUNTS = ("esf_grant_sek", "total_budget_sek")  # taken from Kohesio only where its currency is SEK
assert set(FILL) == set(ENRICHED)
# A name as the fallback compares it: NFC, lower case, '&' as 'och', punctuation and runs of spaces as one space.


def name_key(sql: str) -> str:
    """SQL for a name as the fallback compares it."""
    return (f"trim(regexp_replace(replace(lower(nfc_normalize({sql})), '&', ' och '), "
            r"'[^\p{L}\p{N}]+', ' ', 'g'))")


def digits(sql: str) -> str:
    """SQL for the digits of an organisation number ('212000-9901' and '2120009901' are one)."""
    return f"nullif(regexp_replace({sql}, '[^0-9]', '', 'g'), '')"


def page_value(column: str, alias: str = "p") -> str:
    """SQL for the page's own value of an enriched column (NULL where a list filled it)."""
    return (f"CASE WHEN {alias}.{column}_source IN ('{OPERATIONS}', '{KOHESIO}') THEN NULL "
            f"ELSE {alias}.{column} END")


def relink(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, int]:
    """Rebuild project_links and link_ambiguities from the current projects and list rows; → links per method."""
    rows = " UNION ALL ".join(
        f"SELECT '{source}' AS source, source_key, external_id, occurrence, row_number, case_number, "
        f"beneficiary_org_number, name, start_date FROM {table}" for source, table in LISTS.items())
    con.execute(f"""CREATE OR REPLACE TEMP TABLE link_candidates AS
        WITH rows AS ({rows}),
        by_case AS (
            SELECT p.project_id, r.*, 'case_number' AS method
            FROM rows r JOIN projects p ON p.case_number = r.case_number),
        keyed AS (
            SELECT project_id, {digits(page_value('owner_org_number'))} AS org,
                   {name_key('p.title')} AS name_key, start_date
            FROM projects p WHERE title IS NOT NULL AND start_date IS NOT NULL)
        SELECT * FROM by_case
        UNION ALL
        SELECT k.project_id, r.*, 'org_name_start' AS method
        FROM rows r JOIN keyed k ON k.org = {digits('r.beneficiary_org_number')}
             AND k.name_key = {name_key('r.name')} AND k.start_date = r.start_date
        WHERE NOT EXISTS (SELECT 1 FROM by_case b WHERE b.source = r.source AND b.source_key = r.source_key
                          AND b.external_id = r.external_id AND b.occurrence = r.occurrence)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE link_counted AS
        SELECT *, count(*) OVER (PARTITION BY source, source_key, external_id, occurrence) AS projects_found
        FROM link_candidates""")
    con.execute("DELETE FROM project_links")
    con.execute("""INSERT INTO project_links BY NAME
        SELECT project_id, source, external_id, source_key, occurrence, row_number, method,
               row_number() OVER (PARTITION BY project_id, source
                                  ORDER BY method = 'case_number' DESC, source_key, row_number) = 1 AS is_primary,
               $run AS run_id
        FROM link_counted WHERE projects_found = 1""", {"run": run_id})
    con.execute("DELETE FROM link_ambiguities")
    con.execute("""INSERT INTO link_ambiguities BY NAME
        SELECT source, external_id, source_key, row_number, project_id, method,
               'the row matches ' || projects_found || ' projects: linked to none' AS reason, $run AS run_id
        FROM link_counted WHERE projects_found > 1
        UNION ALL
        SELECT l.source, l.external_id, l.source_key, l.row_number, l.project_id, l.method,
               'one of ' || count(*) OVER (PARTITION BY l.project_id, l.source)
               || ' rows of this source for the project: its values come from row ' || p.row_number
               || ' of ' || p.source_key AS reason, $run AS run_id
        FROM project_links l JOIN project_links p ON p.project_id = l.project_id AND p.source = l.source
             AND p.is_primary
        WHERE NOT l.is_primary
        """, {"run": run_id})
    return dict(con.execute("SELECT method, count(*) FROM project_links GROUP BY 1").fetchall())


def enrich(con: duckdb.DuckDBPyConnection) -> int:
    """Fill each enriched column the page leaves empty from the project's primary row in the list of operations,
    else in Kohesio (amounts only where Kohesio's currency is SEK), and say where each value came from; a value
    the page gives wins and is marked 'page'. Only rows whose values change are written. → rows changed."""
    sources = [f"""{source[0]} AS (SELECT l.project_id, t.* FROM project_links l JOIN {table} t
                   USING (source_key, external_id, occurrence) WHERE l.source = '{source}' AND l.is_primary)"""
               for source, table in LISTS.items()]
    picks, changed = [], []
    for column, (list_column, cast) in FILL.items():
        page = page_value(column)
        candidates = [(page, "'page'")]
        for source in FILLED_FROM:
            value = cast.format(x=f"{source[0]}.{list_column}")
            if source == KOHESIO and column in AMOUNTS:
                value = f"CASE WHEN {source[0]}.currency = 'SEK' THEN {value} END"
            candidates.append((value, f"'{source}'"))
        picks.append(f"coalesce({', '.join(v for v, _ in candidates)}) AS {column}")
        picks.append("CASE " + " ".join(f"WHEN {v} IS NOT NULL THEN {s}" for v, s in candidates)
                     + f" END AS {column}_source")
        changed.append(f"p.{column} IS DISTINCT FROM e.{column} OR p.{column}_source IS DISTINCT FROM "
                       f"e.{column}_source")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE enriched AS
        WITH {', '.join(sources)}
        SELECT p.project_id, {', '.join(picks)}
        FROM projects p LEFT JOIN o USING (project_id) LEFT JOIN k USING (project_id)""")
    sets = ", ".join(f"{c} = e.{c}, {c}_source = e.{c}_source" for c in FILL)
    before = int(scalar(con, f"SELECT count(*) FROM projects p JOIN enriched e USING (project_id) "
                             f"WHERE {' OR '.join(changed)}"))
    if before:
        con.execute(f"""UPDATE projects p SET {sets} FROM enriched e
                        WHERE p.project_id = e.project_id AND ({' OR '.join(changed)})""")
    return before
