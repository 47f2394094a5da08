-- Phone PINs (argon2 PHC strings) from `AccountUpdated`, projected; rebuilt by replay.
CREATE TABLE channels.voice_pins (
    tenant TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    pin_hash TEXT NOT NULL,
    PRIMARY KEY (tenant, customer_id)
);

-- Calls whose caller keyed in the right PIN, and wrong PINs per caller (operational state of
-- the voice adapter, not a projection: a replay leaves them empty, which only asks again).
CREATE TABLE channels.voice_calls (
    call_sid TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    verified_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE channels.pin_failures (
    customer_id TEXT NOT NULL,
    call_sid TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX pin_failures_by_customer ON channels.pin_failures (customer_id, at);
