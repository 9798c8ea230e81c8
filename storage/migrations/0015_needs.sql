-- Needs voting (需求投票): members' needs, one vote per member per need, every status change kept.
CREATE TABLE needs (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    votes INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    day TEXT NOT NULL,
    first_response_at BIGINT,
    closed_at BIGINT,
    planned_for TEXT,
    duplicate_of BIGINT,
    reply TEXT,
    card_message_id TEXT,
    vote_points_paid INTEGER NOT NULL DEFAULT 0,
    source_key TEXT NOT NULL UNIQUE
);
CREATE INDEX needs_board ON needs (group_id, status, votes DESC, id);
-- /needs top walks the open needs by votes: an index of those alone, in that order (no sort)
CREATE INDEX needs_open_top ON needs (group_id, votes DESC, id) WHERE status NOT IN ('done', 'declined', 'duplicate');
CREATE INDEX needs_created ON needs (group_id, created_at);
CREATE INDEX needs_by_member ON needs (group_id, user_id, day);

CREATE TABLE need_votes (
    need_id BIGINT NOT NULL REFERENCES needs(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (need_id, user_id)
);

CREATE TABLE need_history (
    id {pk},
    need_id BIGINT NOT NULL REFERENCES needs(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    reply TEXT
);
CREATE INDEX need_history_need ON need_history (need_id, at);

-- Where a group's need cards go (a Discord channel); no row: the chat the need was posted in.
CREATE TABLE needs_channels (
    group_id BIGINT PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    channel TEXT NOT NULL
);
