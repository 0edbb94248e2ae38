-- The name analysts group organisations by, stored at load time: name_normalized, or for a name the site
-- cut at 30 characters, the whole name another page gives (when exactly one does).
ALTER TABLE project_organisations ADD COLUMN organisation VARCHAR;
UPDATE project_organisations SET organisation = name_normalized;
