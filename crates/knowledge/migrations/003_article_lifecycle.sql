-- Drafts, unpublishing, versions, product areas, example questions and linked translations.
-- `articles` holds each article as customers would see it: the version last published (or,
-- for an article never published, its latest draft), its status, and a newer draft if any.
ALTER TABLE knowledge.articles
    ADD COLUMN status TEXT NOT NULL DEFAULT 'published',
    ADD COLUMN product_area TEXT NOT NULL DEFAULT '',
    ADD COLUMN example_questions TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN translation_of TEXT NOT NULL DEFAULT '',
    ADD COLUMN translation_group TEXT NOT NULL DEFAULT '',
    ADD COLUMN draft_version INT NOT NULL DEFAULT 0;
UPDATE knowledge.articles
SET status = CASE WHEN archived THEN 'archived' ELSE 'published' END, translation_group = article_id;
CREATE INDEX articles_by_translation_group ON knowledge.articles (translation_group);

CREATE TABLE knowledge.article_versions (
    article_id TEXT NOT NULL,
    version INT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    locale TEXT NOT NULL,
    tags TEXT[] NOT NULL,
    product_area TEXT NOT NULL,
    example_questions TEXT[] NOT NULL,
    translation_of TEXT NOT NULL,
    saved_at TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ,
    PRIMARY KEY (article_id, version)
);
INSERT INTO knowledge.article_versions
SELECT article_id, version, title, body, locale, tags, '', '{}', '', updated_at, updated_at
FROM knowledge.articles;
