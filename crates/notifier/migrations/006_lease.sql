-- The delivery of the triggering message that holds a delivery's work (its JetStream delivery
-- count): a handler stopped past its lease, whose message the server handed on, finds a later
-- count here and neither sends nor logs.
ALTER TABLE notifier.delivery_log ADD COLUMN lease BIGINT NOT NULL DEFAULT 0;
