-- The community health digest (社群健康度报告): what each section reads by one indexed query, and the
-- digests already sent.

-- What found a moderation case, so the digest can count cases by kind. Cases recorded before this
-- migration are classified by what they hold: a rule's hit, a report, an admin's command, or a
-- detector whose kind was not kept ('other').
ALTER TABLE mod_cases ADD COLUMN kind TEXT NOT NULL DEFAULT 'manual';
UPDATE mod_cases SET kind = 'word' WHERE rule_id IS NOT NULL;
UPDATE mod_cases SET kind = 'report' WHERE action = 'report';
UPDATE mod_cases SET kind = 'other' WHERE actor = 'auto' AND rule_id IS NULL AND action <> 'report';
CREATE INDEX mod_cases_at ON mod_cases (group_id, at);

-- Points issued and spent per group day, and the week's top earners, read from the index alone (the
-- ledger was indexed by member only).
CREATE INDEX points_ledger_day ON points_ledger (group_id, day, kind, user_id, delta);

-- Verifications started per group and time (pass rate of the week's newcomers).
CREATE INDEX verifications_created ON verifications (group_id, created_at);

-- One digest per group and covered week: a restart, a catch-up and the regular fire never send two.
CREATE TABLE digests (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    period TEXT NOT NULL,          -- the first day of the covered week (group time), ISO
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, period)
);
