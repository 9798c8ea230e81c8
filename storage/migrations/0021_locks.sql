-- What a group forbids members to post (/lock): links, photos, videos, files, stickers, GIFs, voice,
-- forwards, polls. Admins and trusted members are never held to it.
CREATE TABLE group_locks (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    locked_by TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (group_id, kind)
);
