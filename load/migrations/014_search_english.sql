-- Search in the official lists' English summaries (issue #21): each project's English texts beside its page's,
-- in a field of the search index of their own. The index (format 4) is rebuilt whole by the next load.
ALTER TABLE search_documents ADD COLUMN english VARCHAR;
