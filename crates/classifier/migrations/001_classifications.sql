CREATE TABLE classifier.classifications (
    message_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    intent TEXT NOT NULL,
    confidence REAL NOT NULL,
    language TEXT NOT NULL,
    model_version TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX classifications_by_intent ON classifier.classifications (intent);
