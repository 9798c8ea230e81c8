-- Moderation on real lexicons: a rule may match by sound (pinyin: on/shadow/off, '' = the list's setting),
-- and a group keeps an allow-list of words a hit inside of does not count (方法论 for 法论). The shipped
-- common words are allowed unless a row says otherwise: allowed = 1 adds a word, 0 takes a shipped one out.
ALTER TABLE mod_rules ADD COLUMN pinyin TEXT NOT NULL DEFAULT '';

CREATE TABLE mod_allow (
    group_id BIGINT NOT NULL,
    word TEXT NOT NULL,
    allowed INTEGER NOT NULL,
    added_by TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, word)
);
