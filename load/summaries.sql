-- Summary tables: analyst views that are too costly to compute on every query at 100,000 projects
-- (a full organisation_activity took ≈ 600 ms as a view), so every load that changes projects rebuilds
-- them in its own transaction. Same rules as the views: a project counts once per row.
-- getvariable('esf_run_id') is the run that rebuilds them.
DELETE FROM organisation_activity;
INSERT INTO organisation_activity BY NAME
SELECT o.organisation,
       o.role,
       count(*) AS projects,
       sum(p.esf_grant_sek)::BIGINT AS esf_grant_sek,
       sum(p.total_budget_sek)::BIGINT AS total_budget_sek,
       min(p.start_date) AS first_start,
       max(p.end_date) AS last_end,
       string_agg(DISTINCT p.region, ', ' ORDER BY p.region) AS regions,
       getvariable('esf_run_id') AS run_id
FROM (SELECT DISTINCT project_id, role, organisation FROM project_organisations) o
JOIN projects p USING (project_id)
GROUP BY ALL;

DELETE FROM municipality_coverage;
INSERT INTO municipality_coverage BY NAME
SELECT m.municipality_code,
       m.municipality,
       m.county,
       m.region_code,
       count(DISTINCT m.project_id) AS projects,
       sum(p.esf_grant_sek)::BIGINT AS esf_grant_sek_of_projects,
       min(p.start_date) AS first_start,
       max(p.end_date) AS last_end,
       getvariable('esf_run_id') AS run_id
FROM (SELECT DISTINCT project_id, municipality_code, municipality, county, region_code
      FROM project_municipalities WHERE municipality_code IS NOT NULL) m
JOIN projects p USING (project_id)
GROUP BY ALL;
