-- Projection: how to reach each customer unprompted (the conversation they last wrote in) and
-- their profile attributes (onboarding steps done, outage areas, an email address).
CREATE TABLE notifier.contacts (
    customer_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    channel INT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);

CREATE TABLE notifier.customers (
    customer_id TEXT PRIMARY KEY,
    attributes JSONB NOT NULL
);
CREATE INDEX customers_by_attributes ON notifier.customers USING GIN (attributes);

-- Durable timers (surveys after a closing, onboarding steps): not a projection, like the
-- delivery log. A row fires once when due; firing publishes keyed events, so a crash before
-- `done_at` is written fires it again harmlessly.
CREATE TABLE notifier.schedule (
    key TEXT PRIMARY KEY,
    due_at TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL,
    payload JSONB NOT NULL,
    done_at TIMESTAMPTZ
);
CREATE INDEX schedule_due ON notifier.schedule (due_at) WHERE done_at IS NULL;
