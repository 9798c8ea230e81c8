-- Activity for dormancy and health reports; membership spans for the leave rate; scheduled jobs.
ALTER TABLE members ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN joined_at BIGINT;
ALTER TABLE members ADD COLUMN left_at BIGINT;
CREATE INDEX members_last_seen ON members (group_id, last_seen_at);

-- Messages per member per calendar day in the group's timezone.
CREATE TABLE activity_daily (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    day TEXT NOT NULL,
    messages BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, day, user_id)
);

-- Messages per hour of the group's day (peak hours).
CREATE TABLE activity_hourly (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    hour INTEGER NOT NULL,
    messages BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, day, hour)
);

-- Every join and leave, with how long the member stayed (leave rate, retention).
CREATE TABLE membership_events (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    stayed_seconds BIGINT
);
CREATE INDEX membership_events_group_at ON membership_events (group_id, at);

-- The source of truth for schedules: APScheduler jobs are rebuilt from here at start.
CREATE TABLE scheduled_jobs (
    id TEXT PRIMARY KEY,
    group_id BIGINT REFERENCES groups(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    trigger_type TEXT NOT NULL,
    trigger_args TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    last_run_at BIGINT
);
