-- SQLite only: the tables every check-in, message batch and award writes become WITHOUT ROWID, so a
-- row is written to its primary key's B-tree alone instead of to a rowid table plus the key's index.
-- A check-in commit writes ~10 fewer pages to the WAL (on this project's reference machine each page
-- costs ~25 µs of system calls at commit). PostgreSQL skips these lines.
WITHOUT ROWID members;
WITHOUT ROWID processed_events;
WITHOUT ROWID activity_daily;
WITHOUT ROWID activity_hourly;
WITHOUT ROWID points_balance;
WITHOUT ROWID points_period;
WITHOUT ROWID checkins;
WITHOUT ROWID checkin_streaks;
WITHOUT ROWID checkin_day_counts;
WITHOUT ROWID checkin_prefs;
WITHOUT ROWID member_badges;
