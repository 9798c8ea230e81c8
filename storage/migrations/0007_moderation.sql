-- Keyword moderation: per-group rules, cases (every action taken, or that shadow mode would have taken),
-- warnings that expire, allowed link domains, where the admin log goes, and member reports.
CREATE TABLE mod_rules (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    pattern TEXT NOT NULL,
    action TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    mute_seconds BIGINT NOT NULL DEFAULT 0,
    exceptions TEXT NOT NULL DEFAULT '',
    shadow INTEGER NOT NULL DEFAULT 0,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (group_id, kind, pattern)
);

-- One row per action. source_key makes an automatic action idempotent on the message that caused it.
CREATE TABLE mod_cases (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    rule_id BIGINT,
    excerpt TEXT NOT NULL DEFAULT '',
    message_id TEXT,
    actor TEXT NOT NULL,
    until_at BIGINT,
    shadow INTEGER NOT NULL DEFAULT 0,
    source_key TEXT UNIQUE,
    at BIGINT NOT NULL,
    undone_at BIGINT,
    undone_by TEXT
);
CREATE INDEX mod_cases_group ON mod_cases (group_id, id);
CREATE INDEX mod_cases_member ON mod_cases (group_id, user_id, id);

CREATE TABLE mod_warnings (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    case_id BIGINT,
    at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT
);
CREATE INDEX mod_warnings_member ON mod_warnings (group_id, user_id, at);

CREATE TABLE mod_domains (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    PRIMARY KEY (group_id, domain)
);

-- Where a group's admin log goes: a chat of the same platform (itself, or a linked admin chat), and on
-- Discord a channel of it.
CREATE TABLE mod_log_targets (
    group_id BIGINT PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    chat_id TEXT NOT NULL,
    channel TEXT,
    set_by TEXT,
    set_at BIGINT NOT NULL
);

-- /report: one row per reporter of a message; the decision an admin took, once.
CREATE TABLE mod_reports (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    reporter TEXT NOT NULL,
    target_user TEXT NOT NULL,
    target_name TEXT NOT NULL DEFAULT '',
    excerpt TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL,
    PRIMARY KEY (group_id, message_id, reporter)
);
CREATE TABLE mod_report_decisions (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (group_id, message_id)
);
