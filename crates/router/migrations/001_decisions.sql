CREATE TABLE router.decisions (
    message_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    intent TEXT NOT NULL,
    action INT NOT NULL,
    queue TEXT NOT NULL,
    priority INT NOT NULL,
    rule TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX decisions_by_queue ON router.decisions (queue, at);
