-- What was last registered with a platform per scope (Discord slash commands per guild or globally), as a
-- hash of the payloads: a restart re-registers only when the command set changed, so it never spends
-- Discord's daily command-creation limit on an unchanged set.
CREATE TABLE platform_syncs (
    scope TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    synced_at BIGINT NOT NULL
);
