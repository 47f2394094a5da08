-- The events analytics has counted, by id: an event stored twice in the stream (published again
-- after the bus's duplicate window) is counted once.
CREATE TABLE analytics.counted_events (
    tenant TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (tenant, event_id)
);
