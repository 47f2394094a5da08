-- The stream sequence at which a conversation was last assigned to someone, so that a watcher
-- who has not seen that is told it was assigned to them even when something else changed since
-- (rows folded before this column have 0 and are told by their last change, as before).
ALTER TABLE desk.conversations ADD COLUMN assigned_at BIGINT NOT NULL DEFAULT 0;
