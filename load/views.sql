-- Analyst views. Names are contracts; each has COMMENT ON in dictionary.csv. Amounts are integer SEK,
-- shares are decimals (0.45 = 45 %). No view counts a project twice within a row.
-- organisation_activity and municipality_coverage are summary tables (summaries.sql), not views.

CREATE OR REPLACE VIEW programme_area_summary AS
SELECT programme_period,
       programme_area_code,
       any_value(programme_area_name) AS programme_area_name,
       count(*) AS projects,
       sum(esf_grant_sek)::BIGINT AS esf_grant_sek,
       sum(total_budget_sek)::BIGINT AS total_budget_sek,
       round(sum(esf_grant_sek) FILTER (WHERE total_budget_sek IS NOT NULL)
             / nullif(sum(total_budget_sek) FILTER (WHERE esf_grant_sek IS NOT NULL), 0), 4)::DECIMAL(6, 4) AS esf_share,
       sum(planned_participants)::BIGINT AS planned_participants
FROM projects
GROUP BY ALL;

CREATE OR REPLACE VIEW region_summary AS
SELECT region,
       region_code,
       count(*) AS projects,
       sum(esf_grant_sek)::BIGINT AS esf_grant_sek,
       sum(total_budget_sek)::BIGINT AS total_budget_sek,
       round(sum(esf_grant_sek) FILTER (WHERE total_budget_sek IS NOT NULL)
             / nullif(sum(total_budget_sek) FILTER (WHERE esf_grant_sek IS NOT NULL), 0), 4)::DECIMAL(6, 4) AS esf_share,
       min(start_date) AS first_start,
       max(end_date) AS last_end
FROM projects
GROUP BY ALL;

CREATE OR REPLACE VIEW region_programme_matrix AS
SELECT region,
       region_code,
       programme_period,
       programme_area_code,
       count(*) AS projects,
       sum(esf_grant_sek)::BIGINT AS esf_grant_sek,
       sum(total_budget_sek)::BIGINT AS total_budget_sek,
       round(sum(esf_grant_sek) FILTER (WHERE total_budget_sek IS NOT NULL)
             / nullif(sum(total_budget_sek) FILTER (WHERE esf_grant_sek IS NOT NULL), 0), 4)::DECIMAL(6, 4) AS esf_share
FROM projects
GROUP BY ALL;

-- Each project's grant spread over the calendar years it runs, pro rata by days, in whole kronor that add up to
-- its grant: every year gets the floor of its share, and the kronor left over go one each to the years with the
-- largest remainders (ties: the earlier year). A project with a grant but no start or end date is one row with
-- year NULL, so the view's total is the total of projects.
CREATE OR REPLACE VIEW funding_by_year AS
WITH spans AS (
    SELECT project_id, region, region_code, programme_period, programme_area_code, esf_grant_sek::BIGINT AS grant_sek,
           start_date, end_date, (end_date - start_date + 1) AS days
    FROM projects
    WHERE esf_grant_sek IS NOT NULL AND start_date IS NOT NULL AND end_date IS NOT NULL AND end_date >= start_date
), years AS (
    SELECT s.*, y.year,
           least(s.end_date, make_date(y.year, 12, 31)) - greatest(s.start_date, make_date(y.year, 1, 1)) + 1
               AS days_in_year
    FROM spans s, LATERAL (SELECT unnest(range(year(s.start_date), year(s.end_date) + 1)) AS year) y
), shares AS (
    SELECT *, (grant_sek * days_in_year) // days AS floor_sek, (grant_sek * days_in_year) % days AS remainder
    FROM years
), allocated AS (
    SELECT *, floor_sek + CASE WHEN row_number() OVER (PARTITION BY project_id ORDER BY remainder DESC, year)
                                    <= grant_sek - sum(floor_sek) OVER (PARTITION BY project_id) THEN 1 ELSE 0 END
              AS grant_in_year
    FROM shares
), undated AS (
    SELECT NULL::INTEGER AS year, region, region_code, programme_period, programme_area_code, esf_grant_sek AS grant_in_year
    FROM projects
    WHERE esf_grant_sek IS NOT NULL AND project_id NOT IN (SELECT project_id FROM spans)
)
SELECT year::INTEGER AS year, region, region_code, programme_period, programme_area_code,
       count(*) AS projects_running,
       sum(grant_in_year)::BIGINT AS esf_grant_sek
FROM (SELECT year, region, region_code, programme_period, programme_area_code, grant_in_year FROM allocated
      UNION ALL BY NAME SELECT * FROM undated)
GROUP BY ALL;

CREATE OR REPLACE VIEW recent_changes AS
WITH ranked_runs AS (
    SELECT run_id, started_at, row_number() OVER (ORDER BY run_id DESC) - 1 AS runs_ago
    FROM runs WHERE status IN ('succeeded', 'rejects')
)
SELECT r.runs_ago,
       v.run_id,
       r.started_at AS run_started_at,
       v.project_id,
       v.title,
       CASE WHEN prev.project_id IS NULL THEN 'new' ELSE 'changed' END AS change,
       prev.esf_grant_sek AS previous_esf_grant_sek,
       v.esf_grant_sek,
       prev.total_budget_sek AS previous_total_budget_sek,
       v.total_budget_sek,
       prev.end_date AS previous_end_date,
       v.end_date,
       prev.phase AS previous_phase,
       v.phase,
       prev.owner AS previous_owner,
       v.owner,
       v.valid_from
FROM project_versions v
JOIN ranked_runs r USING (run_id)
LEFT JOIN project_versions prev ON prev.project_id = v.project_id AND prev.version = v.version - 1;

CREATE OR REPLACE VIEW project_quality AS
SELECT p.project_id,
       p.title,
       p.template,
       p.programme_period,
       p.missing_fields,
       f.field,
       f.status,
       f.reason,
       f.value,
       f.stage
FROM projects p
JOIN project_field_problems f USING (project_id);

-- The official lists' current rows (load/lists.py): each row's open version, with its place in the file and when it
-- was first and last seen (<table>_current). The columns are those of the tables these views replaced (015).
CREATE OR REPLACE VIEW operations AS
SELECT v.source_key, v.external_id, v.occurrence, c.row_number, c.duplicate_of,
       v.* EXCLUDE (source_key, external_id, occurrence, row_number, duplicate_of, sha256, run_id, version,
                    valid_from, valid_to),
       v.sha256, c.first_seen, c.last_seen, v.run_id
FROM operation_versions v
JOIN operations_current c ON c.source_key = v.source_key AND c.external_id = v.external_id
                         AND c.occurrence = v.occurrence AND c.version = v.version;

CREATE OR REPLACE VIEW kohesio_operations AS
SELECT v.source_key, v.external_id, v.occurrence, c.row_number, c.duplicate_of,
       v.* EXCLUDE (source_key, external_id, occurrence, row_number, duplicate_of, sha256, run_id, version,
                    valid_from, valid_to),
       v.sha256, c.first_seen, c.last_seen, v.run_id
FROM kohesio_operation_versions v
JOIN kohesio_operations_current c ON c.source_key = v.source_key AND c.external_id = v.external_id
                                 AND c.occurrence = v.occurrence AND c.version = v.version;

-- The official lists against the project bank (load/lists.py, load/links.py). One row per linked (project,
-- source row, field) and per list row with no page, where either side has a value. bank_value is the value in
-- projects (its bank_value_source says whether the page gave it or a list filled it); amounts compare only in
-- the same currency, and within 1 SEK they agree.
CREATE OR REPLACE VIEW reconciliation AS
WITH list_rows AS (
    SELECT 'operations' AS source, * REPLACE (coalesce(currency, 'SEK') AS currency) FROM operations
    UNION ALL BY NAME
    SELECT 'kohesio' AS source, * FROM kohesio_operations
), pairs AS (
    SELECT l.project_id, r.source, r.external_id, r.source_key, r.row_number, r.currency,
           r.eu_grant, r.total_budget, r.start_date AS list_start, r.end_date AS list_end,
           r.beneficiary_org_number, r.cofinancing_rate AS list_rate, r.programme_area_code AS list_area,
           p.esf_grant_sek, p.esf_grant_sek_source, p.total_budget_sek, p.total_budget_sek_source,
           p.start_date, p.end_date, p.owner_org_number, p.owner_org_number_source,
           p.cofinancing_rate, p.cofinancing_rate_source, p.programme_area_code
    FROM list_rows r
    LEFT JOIN project_links l USING (source, source_key, external_id, occurrence)
    LEFT JOIN projects p USING (project_id)
), fields AS (
    SELECT *, 'esf_grant_sek' AS field, 'amount' AS kind, esf_grant_sek::DOUBLE AS bank_num, eu_grant::DOUBLE AS list_num,
           esf_grant_sek::VARCHAR AS bank_value, esf_grant_sek_source AS bank_value_source,
           rtrim(rtrim(eu_grant::VARCHAR, '0'), '.') AS source_value FROM pairs
    UNION ALL
    SELECT *, 'total_budget_sek', 'amount', total_budget_sek::DOUBLE, total_budget::DOUBLE,
           total_budget_sek::VARCHAR, total_budget_sek_source, rtrim(rtrim(total_budget::VARCHAR, '0'), '.') FROM pairs
    UNION ALL
    SELECT *, 'start_date', 'date', date_diff('day', DATE '1970-01-01', start_date)::DOUBLE,
           date_diff('day', DATE '1970-01-01', list_start)::DOUBLE, start_date::VARCHAR,
           CASE WHEN start_date IS NOT NULL THEN 'page' END, list_start::VARCHAR FROM pairs
    UNION ALL
    SELECT *, 'end_date', 'date', date_diff('day', DATE '1970-01-01', end_date)::DOUBLE,
           date_diff('day', DATE '1970-01-01', list_end)::DOUBLE, end_date::VARCHAR,
           CASE WHEN end_date IS NOT NULL THEN 'page' END, list_end::VARCHAR FROM pairs
    UNION ALL
    SELECT *, 'owner_org_number', 'org', NULL, NULL, owner_org_number, owner_org_number_source,
           beneficiary_org_number FROM pairs
    UNION ALL
    SELECT *, 'cofinancing_rate', 'rate', cofinancing_rate::DOUBLE, list_rate::DOUBLE,
           rtrim(rtrim(cofinancing_rate::VARCHAR, '0'), '.'), cofinancing_rate_source,
           rtrim(rtrim(list_rate::VARCHAR, '0'), '.') FROM pairs
    UNION ALL
    SELECT *, 'programme_area_code', 'code', NULL, NULL, programme_area_code,
           CASE WHEN programme_area_code IS NOT NULL THEN 'page' END, list_area FROM pairs
), compared AS (
    SELECT *,
           CASE WHEN bank_value IS NULL THEN 'only in source'
                WHEN source_value IS NULL THEN 'only in bank'
                WHEN kind = 'amount' AND currency IS DISTINCT FROM 'SEK' THEN 'not comparable'
                WHEN kind = 'amount' THEN CASE WHEN abs(list_num - bank_num) <= 1 THEN 'agrees' ELSE 'differs' END
                WHEN kind = 'rate' THEN CASE WHEN abs(list_num - bank_num) < 0.00005 THEN 'agrees' ELSE 'differs' END
                WHEN kind = 'date' THEN CASE WHEN list_num = bank_num THEN 'agrees' ELSE 'differs' END
                WHEN kind = 'org' THEN CASE WHEN regexp_replace(bank_value, '[^0-9]', '', 'g')
                                                 = regexp_replace(source_value, '[^0-9]', '', 'g')
                                            THEN 'agrees' ELSE 'differs' END
                ELSE CASE WHEN upper(trim(bank_value)) = upper(trim(source_value)) THEN 'agrees' ELSE 'differs' END
           END AS status
    FROM fields
    WHERE bank_value IS NOT NULL OR source_value IS NOT NULL
)
SELECT project_id, source, external_id, field, bank_value, bank_value_source, source_value,
       CASE WHEN kind = 'amount' THEN currency END AS source_currency,
       CASE WHEN status IN ('agrees', 'differs') AND kind IN ('amount', 'rate', 'date')
            THEN round(list_num - bank_num, CASE WHEN kind = 'rate' THEN 6 ELSE 2 END) END AS difference,
       status, source_key, row_number
FROM compared;

-- Per list and programme period: the list's rows, how many have a project page, and the pages of that period
-- that have no row in the list (a crawl that missed pages, or a list that is behind, shows here).
CREATE OR REPLACE VIEW list_coverage AS
WITH list_rows AS (
    SELECT 'operations' AS source, source_key, external_id, occurrence, programme_period FROM operations
    UNION ALL
    SELECT 'kohesio', source_key, external_id, occurrence, programme_period FROM kohesio_operations
), rows_by_period AS (
    SELECT r.source, r.programme_period, count(*) AS list_rows,
           count(*) FILTER (WHERE l.project_id IS NULL) AS rows_without_page
    FROM list_rows r
    LEFT JOIN (SELECT DISTINCT source, source_key, external_id, occurrence, project_id FROM project_links) l
         USING (source, source_key, external_id, occurrence)
    GROUP BY ALL
), pages_by_period AS (
    SELECT s.source, p.programme_period, count(*) AS pages,
           count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM project_links l
                                              WHERE l.project_id = p.project_id AND l.source = s.source))
               AS pages_without_row
    FROM projects p CROSS JOIN (VALUES ('operations'), ('kohesio')) s(source)
    WHERE p.gone_since IS NULL
    GROUP BY ALL
)
SELECT r.source, r.programme_period, r.list_rows, r.list_rows - r.rows_without_page AS rows_with_page,
       r.rows_without_page, coalesce(p.pages, 0) AS pages, coalesce(p.pages_without_row, 0) AS pages_without_row
FROM rows_by_period r
LEFT JOIN pages_by_period p ON p.source = r.source AND p.programme_period IS NOT DISTINCT FROM r.programme_period;
