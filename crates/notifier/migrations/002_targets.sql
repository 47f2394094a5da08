-- Deliveries are no longer only replies: notifications and decision webhooks too.
ALTER TABLE notifier.delivery_log RENAME COLUMN reply_id TO delivery_id;
ALTER TABLE notifier.delivery_log
    ADD COLUMN destination TEXT NOT NULL DEFAULT '',
    ADD COLUMN external_id TEXT NOT NULL DEFAULT '';

ALTER TABLE notifier.deliveries RENAME COLUMN reply_id TO delivery_id;
ALTER TABLE notifier.deliveries
    ADD COLUMN kind TEXT NOT NULL DEFAULT 'reply',
    ADD COLUMN target TEXT NOT NULL DEFAULT '',
    ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
