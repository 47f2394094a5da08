-- The language a customer last wrote in (the conversation's pinned language), so that proactive
-- messages speak it. Filled from `MessageClassified` by the projection.
ALTER TABLE notifier.contacts ADD COLUMN language TEXT NOT NULL DEFAULT '';
