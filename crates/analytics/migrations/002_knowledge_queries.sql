-- Every knowledge query (search, suggestion, deflection, answer, assist) with what it found,
-- for content gaps; deflections with their outcome.
CREATE TABLE analytics.knowledge_queries (
    query_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    query TEXT NOT NULL,
    -- The normalised wording questions are grouped by.
    wording TEXT NOT NULL,
    locale TEXT NOT NULL,
    language TEXT NOT NULL,
    result_count INT NOT NULL,
    top_score REAL NOT NULL,
    answered BOOLEAN NOT NULL,
    article_ids TEXT[] NOT NULL,
    conversation_id TEXT NOT NULL,
    asked_at TIMESTAMPTZ NOT NULL,
    -- For deflections: helped | ticket_opened, and the article that helped.
    outcome TEXT,
    outcome_article TEXT
);
CREATE INDEX knowledge_queries_gaps ON analytics.knowledge_queries (asked_at) WHERE NOT answered;
CREATE INDEX knowledge_queries_deflections ON analytics.knowledge_queries (kind) WHERE kind = 'deflect';
