-- The channel a conversation started on, to write to the customer unprompted (closing notices).
ALTER TABLE router.contacts ADD COLUMN channel INT NOT NULL DEFAULT 0;
