-- Groups, their settings, members, and the processed-event log that makes dispatch idempotent.
CREATE TABLE groups (
    id {pk},
    platform TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    UNIQUE (platform, chat_id)
);

-- Only what an admin changed is stored; defaults live in the code (config/group_settings.py).
CREATE TABLE group_settings (
    group_id BIGINT PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    overrides TEXT NOT NULL DEFAULT '{}',
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

CREATE TABLE members (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    username TEXT,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

CREATE TABLE processed_events (
    event_key TEXT PRIMARY KEY,
    processed_at BIGINT NOT NULL
);
CREATE INDEX processed_events_at ON processed_events (processed_at);
