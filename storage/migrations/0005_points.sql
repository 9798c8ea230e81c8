-- Points: an append-only ledger (every row names its cause, unique, so nothing pays twice), balances
-- materialised beside it, per-day earnings for windowed leaderboards, and check-ins with streaks.
CREATE TABLE points_ledger (
    id {pk},
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    delta BIGINT NOT NULL,
    reason TEXT NOT NULL,
    source_key TEXT NOT NULL UNIQUE,
    actor TEXT,
    at BIGINT NOT NULL,
    day TEXT NOT NULL
);
CREATE INDEX points_ledger_member ON points_ledger (group_id, user_id, id);

-- balance: what can be spent; earned: everything ever earned (levels and the all-time board).
CREATE TABLE points_balance (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    balance BIGINT NOT NULL DEFAULT 0,
    earned BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX points_balance_earned ON points_balance (group_id, earned DESC);

-- Earnings per member per period: "d:2026-11-22", "w:2026-11-16" (the Monday), "m:2026-11"; a windowed
-- leaderboard reads the top of one index instead of summing the ledger.
CREATE TABLE points_period (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    period TEXT NOT NULL,
    user_id TEXT NOT NULL,
    earned BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, period, user_id)
);
CREATE INDEX points_period_rank ON points_period (group_id, period, earned DESC, user_id);

CREATE TABLE checkins (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    day TEXT NOT NULL,
    at BIGINT NOT NULL,
    streak INTEGER NOT NULL,
    points BIGINT NOT NULL,
    rank INTEGER NOT NULL,
    makeup INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, day, user_id)
);

CREATE TABLE checkin_streaks (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    last_day TEXT NOT NULL,
    streak INTEGER NOT NULL,
    best INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX checkin_streaks_rank ON checkin_streaks (group_id, last_day, streak DESC);

-- How many checked in per group day, so "number N today" is one indexed upsert, not a count.
CREATE TABLE checkin_day_counts (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (group_id, day)
);

-- Badges (勋章) a member earned, once each.
CREATE TABLE member_badges (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    badge TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id, badge)
);

-- Streak protection: who wants the evening reminder, and streak freezes bought in the shop.
CREATE TABLE checkin_prefs (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    remind INTEGER NOT NULL DEFAULT 0,
    freezes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, user_id)
);
