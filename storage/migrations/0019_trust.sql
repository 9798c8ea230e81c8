-- Members an admin marked as trusted (/trust): they skip the automatic moderation checks, as members at
-- the trusted points level already do.
CREATE TABLE member_trust (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    trusted_by TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
