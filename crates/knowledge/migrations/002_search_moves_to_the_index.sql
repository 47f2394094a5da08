-- Search moved to the tantivy index (a projection of its own); the articles table keeps the
-- articles for GetArticle only.
DROP INDEX knowledge.articles_search;
ALTER TABLE knowledge.articles DROP COLUMN search;
ALTER TABLE knowledge.articles DROP COLUMN ts_config;
