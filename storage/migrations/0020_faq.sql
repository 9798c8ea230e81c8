-- Saved answers to common questions (常见问题): `key` is the question as the matchers see it (width,
-- script and case folded, separators dropped), so one question is not saved twice in two spellings.
CREATE TABLE faq_entries (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    key TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (group_id, key)
);
