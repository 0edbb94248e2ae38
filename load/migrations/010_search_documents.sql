-- Full-text search: one document per project (title, and its sections as one text), indexed by DuckDB's fts
-- extension (schema fts_main_search_documents), both rebuilt by every load that changes projects.
CREATE TABLE search_documents (
    project_id  VARCHAR NOT NULL,
    title       VARCHAR NOT NULL,
    body        VARCHAR NOT NULL,
    run_id      BIGINT NOT NULL
);
