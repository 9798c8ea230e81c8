-- Named counters that survive restarts: the console numbers its messages per database, so a second run on
-- the same database never reuses an event key (its inputs would be dropped as duplicates).
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
