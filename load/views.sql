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
