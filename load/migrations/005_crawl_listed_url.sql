-- The crawler remembers each page under the URL a listing or sitemap gave it (what it plans by);
-- source_key becomes the raw-store key that URL led to (the page's canonical URL).
ALTER TABLE crawl_state ADD COLUMN listed_url VARCHAR;
UPDATE crawl_state SET listed_url = source_key;
