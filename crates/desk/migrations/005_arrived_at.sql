-- The stream sequence at which a conversation last came to people, so that a watcher who has
-- not seen it is told it is new even when something else changed since (rows folded before this
-- column have 0 and are told by their last change, as before).
ALTER TABLE desk.conversations ADD COLUMN arrived_at BIGINT NOT NULL DEFAULT 0;
