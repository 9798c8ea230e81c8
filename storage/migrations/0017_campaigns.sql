-- Scheduled campaigns (活动日历): a post and its schedule; every fire is a row unique on (campaign, the
-- scheduled time), written before the post is sent, so a restart mid-fire never posts it twice.
CREATE TABLE campaigns (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    trigger_type TEXT NOT NULL,
    trigger_args TEXT NOT NULL,
    schedule_text TEXT NOT NULL,   -- the <when> as the admin wrote it
    options TEXT NOT NULL DEFAULT '{}',  -- pin, replace, checkin button, channel
    state TEXT NOT NULL DEFAULT 'active',  -- active | paused | done
    event TEXT,                    -- a staged campaign's name: its stages share it
    stage TEXT,                    -- warmup1 | warmup2 | peak | encore
    failures INTEGER NOT NULL DEFAULT 0,  -- consecutive failed posts
    last_message_id TEXT,          -- the latest post (for pin and replace)
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX campaigns_group ON campaigns (group_id, state);

CREATE TABLE campaign_posts (
    id {pk},
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    due_at BIGINT NOT NULL,        -- the scheduled time of this fire
    fired_at BIGINT NOT NULL,
    status TEXT NOT NULL,          -- queued | sent | failed | skipped
    message_id TEXT,
    reason TEXT,
    presses INTEGER NOT NULL DEFAULT 0,
    UNIQUE (campaign_id, due_at)
);
CREATE INDEX campaign_posts_message ON campaign_posts (message_id);
