-- Tenants: every article and version belongs to one, and two tenants may use the same article id.
-- The rows written before are the default tenant's.
ALTER TABLE knowledge.articles ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE knowledge.article_versions ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';

ALTER TABLE knowledge.articles DROP CONSTRAINT articles_pkey, ADD PRIMARY KEY (tenant, article_id);
ALTER TABLE knowledge.article_versions
    DROP CONSTRAINT article_versions_pkey, ADD PRIMARY KEY (tenant, article_id, version);

DROP INDEX knowledge.articles_by_locale;
CREATE INDEX articles_by_locale ON knowledge.articles (tenant, locale);
DROP INDEX knowledge.articles_by_translation_group;
CREATE INDEX articles_by_translation_group ON knowledge.articles (tenant, translation_group);
