-- Projection of email conversations (from `MessageReceived` with email headers and
-- `ReplyDelivered` by email): which Message-IDs belong to which conversation, and each
-- conversation's ticket token. Rebuilt by replay.
CREATE TABLE channels.email_messages (
    tenant TEXT NOT NULL,
    message_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    PRIMARY KEY (tenant, message_id)
);

CREATE TABLE channels.conversations (
    tenant TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    token TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (tenant, conversation_id)
);
CREATE INDEX conversations_by_token ON channels.conversations (tenant, token);
