-- What the last event changed (new, assigned, customer_replied, sla_warning, sla_breached,
-- updated), for WatchInbox; rows are read in stream order per tenant.
ALTER TABLE desk.conversations ADD COLUMN last_change TEXT NOT NULL DEFAULT 'updated';
CREATE INDEX conversations_by_sequence ON desk.conversations (tenant, sequence);
