-- Welcomes, newcomer verification and onboarding tasks.
-- Texts an admin writes for a group: the welcome and goodbye templates, the rules.
CREATE TABLE group_texts (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT,
    PRIMARY KEY (group_id, kind)
);

-- The last welcome sent, for "clean welcome".
CREATE TABLE welcome_state (
    group_id BIGINT PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    last_message_id TEXT
);

-- Newcomers waiting to be greeted together (a burst becomes one message); survives a restart.
CREATE TABLE welcome_pending (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    queued_at BIGINT NOT NULL,
    UNIQUE (group_id, user_id)
);

-- One open or finished challenge per newcomer; the deadline lives here, not in memory.
CREATE TABLE verifications (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    answer TEXT NOT NULL,
    tries_left INTEGER NOT NULL,
    message_id TEXT,
    deadline BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX verifications_open ON verifications (status, deadline);

CREATE TABLE onboarding_progress (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    task TEXT NOT NULL,
    done_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id, task)
);
