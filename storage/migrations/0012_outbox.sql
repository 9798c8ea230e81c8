-- The transactional outbox: the actions an event (or a scheduled fire) will send, committed in the same
-- transaction as its key and its writes, and deleted once the platform has taken them. Whatever is here
-- at start was committed but not sent when the process died: it is sent then (at least once).
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,            -- the cause's key and the action's place in it: "<event key>#<n>"
    created_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,            -- the order actions were committed in, across units
    action TEXT NOT NULL,           -- the neutral action, as JSON (bot/actioncodec.py)
    remember TEXT                   -- "<feature>:<payload>": who wants the platform's answer (a message id)
);
CREATE INDEX outbox_order ON outbox (seq);
