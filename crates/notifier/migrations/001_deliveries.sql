-- What the notifier has done about each reply: written before the message is acked, so a
-- redelivered request never sends twice. Not a projection: replay leaves it alone.
CREATE TABLE notifier.delivery_log (
    reply_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sending', 'delivered', 'failed')),
    attempts INT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Projection of delivery events.
CREATE TABLE notifier.deliveries (
    reply_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    channel INT NOT NULL,
    status TEXT NOT NULL,
    destination TEXT NOT NULL,
    attempts INT NOT NULL,
    failure_reason TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX deliveries_by_conversation ON notifier.deliveries (conversation_id, at);
