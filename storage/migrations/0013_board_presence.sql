-- Boards show members still in the group. Instead of filtering out everyone who ever left on every
-- board query (a scan of the group's members each time), a board row carries `away`, kept by the
-- member's leave and return, and the board indexes lead with it: a page, its count and a rank are
-- index ranges.
ALTER TABLE points_balance ADD COLUMN away INTEGER NOT NULL DEFAULT 0;
ALTER TABLE points_period ADD COLUMN away INTEGER NOT NULL DEFAULT 0;
UPDATE points_balance SET away = 1 WHERE EXISTS (
    SELECT 1 FROM members m WHERE m.group_id = points_balance.group_id AND m.user_id = points_balance.user_id
    AND m.left_at IS NOT NULL
);
UPDATE points_period SET away = 1 WHERE EXISTS (
    SELECT 1 FROM members m WHERE m.group_id = points_period.group_id AND m.user_id = points_period.user_id
    AND m.left_at IS NOT NULL
);
DROP INDEX points_balance_earned;
CREATE INDEX points_balance_board ON points_balance (group_id, away, earned DESC, user_id);
DROP INDEX points_period_rank;
CREATE INDEX points_period_board ON points_period (group_id, period, away, earned DESC, user_id);
