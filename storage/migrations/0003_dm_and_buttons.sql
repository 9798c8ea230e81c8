-- Users who opened a private chat with the bot (Telegram bots may only DM those), and button payloads
-- too long for a platform's callback data (Telegram: 64 bytes), referenced as "~<id>".
CREATE TABLE dm_open (
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    PRIMARY KEY (platform, user_id)
);

CREATE TABLE button_payloads (
    id {pk},
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
