-- The conversation so far, for hand-off packets: each customer message as classified, and
-- what automation did with it.
CREATE TABLE router.turns (
    message_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    text TEXT NOT NULL,
    intent TEXT NOT NULL,
    sentiment_score REAL NOT NULL,
    entities JSONB NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX turns_by_conversation ON router.turns (conversation_id, at);
ALTER TABLE router.decisions ADD COLUMN rule_action TEXT NOT NULL DEFAULT '';
ALTER TABLE router.decisions ADD COLUMN article_ids TEXT[] NOT NULL DEFAULT '{}';
