-- Rows of these tables are updated as a conversation goes on (a status, a language, a timeline
-- entry classified), on columns no index covers. Room left in each page lets PostgreSQL update
-- them in place (a heap-only tuple) instead of writing a new index entry for every update.
ALTER TABLE analytics.conversations SET (fillfactor = 70);
