-- Member lifecycle and dormant-member recall (沉默召回).

-- One row per nudge, and per would-be nudge of the hold-out, so the return rate of the nudged can be
-- set against the hold-out's. Unique per member and group day: a scan run again (a restart, a
-- coalesced fire) nudges nobody twice. `episode` is the member's last activity when the silence began:
-- it names the silent episode (caps per episode, the stable hold-out draw, the gift paid once).
CREATE TABLE recall_nudges (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    day TEXT NOT NULL,
    episode BIGINT NOT NULL,
    arm TEXT NOT NULL,            -- dm | group | holdout
    status TEXT NOT NULL,         -- queued (DM not yet answered) | sent | failed | held
    nudged_at BIGINT NOT NULL,
    returned_at BIGINT,
    gift BIGINT NOT NULL DEFAULT 0,
    UNIQUE (group_id, user_id, day)
);
CREATE INDEX recall_nudges_at ON recall_nudges (group_id, nudged_at);
-- the rows a return may still settle (looked up by member on their first activity back)
CREATE INDEX recall_nudges_open ON recall_nudges (group_id, user_id, nudged_at) WHERE returned_at IS NULL;

-- Where each member stands in their current episode: the scan reads this beside the members index
-- instead of counting nudge rows. `due_at` is when the next nudge may go (NULL: the cap is reached).
CREATE TABLE recall_state (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    episode BIGINT NOT NULL,
    nudges INTEGER NOT NULL,
    last_at BIGINT NOT NULL,
    due_at BIGINT,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX recall_state_due ON recall_state (group_id, due_at);

-- Members who said /remind off or pressed "stop these".
CREATE TABLE recall_optout (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

-- One scan per group and day (its group message among it), and how far the last one looked.
CREATE TABLE recall_scans (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    at BIGINT NOT NULL,
    silent_before BIGINT NOT NULL,
    PRIMARY KEY (group_id, day)
);

-- The clean-up of lost members: the notice, then the action (a role, or a kick an admin confirmed).
CREATE TABLE recall_lost (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    episode BIGINT NOT NULL,
    noticed_at BIGINT NOT NULL,
    listed_at BIGINT,
    done TEXT,                    -- role | kicked | cancelled
    PRIMARY KEY (group_id, user_id, episode)
);

-- Stage counts per group and day, so /lifecycle can say what changed since last week.
CREATE TABLE lifecycle_daily (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    new_members BIGINT NOT NULL,
    active BIGINT NOT NULL,
    silent BIGINT NOT NULL,
    lost BIGINT NOT NULL,
    gone BIGINT NOT NULL,
    PRIMARY KEY (group_id, day)
);

-- A DM the platform refused (Discord: closed DMs; Telegram: the bot was blocked). Telegram DMs need
-- the member to have started the bot (dm_open); Discord DMs are tried unless refused here.
CREATE TABLE dm_refused (
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (platform, user_id)
);
