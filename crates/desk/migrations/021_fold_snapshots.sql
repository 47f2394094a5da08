-- The desk's in-memory folds (SLA clocks, assignment) as of a stream sequence, so that a start
-- reads the stream from there on, not from its beginning. Any replica may write its fold's state:
-- every replica folds the same events in the same order, so a later sequence only replaces an
-- earlier one. A snapshot of another format (`version`) is not read.
CREATE TABLE desk.fold_snapshots (
    fold TEXT PRIMARY KEY,
    sequence BIGINT NOT NULL,
    version INT NOT NULL,
    state BYTEA NOT NULL,
    saved_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
