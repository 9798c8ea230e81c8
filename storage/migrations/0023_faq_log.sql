-- What the FAQ did, for the digest and for its cooldown (a restart or a second process must not repeat
-- an answer): 'auto' an automatic answer, 'quiet' a match held back by the cooldown, 'shown' an entry a
-- member pulled (a button, #keyword, /faq keyword), 'no' a "not answered" press, 'miss' a member's
-- question no entry answered. Only a miss keeps the question's text (folded key and up to 200
-- characters), so the admins can see what is asked again and again; rows are pruned after 120 days.
CREATE TABLE faq_log (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    chat TEXT NOT NULL,            -- the channel inside the group where the platform has one, else ''
    kind TEXT NOT NULL,
    entry_id BIGINT,               -- no foreign key: a removed entry's figures stay in old digests
    user_id TEXT NOT NULL,
    key TEXT,
    text TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX faq_log_at ON faq_log (group_id, at);
CREATE INDEX faq_log_cooldown ON faq_log (group_id, entry_id, chat, at);
