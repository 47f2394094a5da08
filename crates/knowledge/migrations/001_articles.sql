CREATE TABLE knowledge.articles (
    article_id TEXT PRIMARY KEY,
    version INT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    locale TEXT NOT NULL,
    tags TEXT[] NOT NULL,
    archived BOOLEAN NOT NULL DEFAULT false,
    ts_config REGCONFIG NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    search TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector(ts_config, title), 'A') || setweight(to_tsvector(ts_config, body), 'B')
    ) STORED
);
CREATE INDEX articles_search ON knowledge.articles USING GIN (search);
CREATE INDEX articles_by_locale ON knowledge.articles (locale);
