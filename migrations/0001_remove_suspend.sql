-- Remove the "suspend" feature from timelogger (the runbook's staging_migration.sql).
--
-- user_settings loses its three suspend columns through SQLite's 12-step table rebuild
-- (https://www.sqlite.org/lang_altertable.html#otheralter); suspend_history and the index on
-- is_suspended go away. activity_logs references user_settings ON DELETE CASCADE: the
-- engine keeps foreign keys OFF while this runs, so dropping the old table deletes no logs,
-- and runs PRAGMA foreign_key_check before COMMIT.
--
-- requires: user_settings, activity_logs, suspend_history
-- check: SELECT count(*) = 0 FROM pragma_table_info('user_settings') WHERE name IN ('is_suspended', 'suspended_until', 'suspend_reason')
-- check: SELECT count(*) = 0 FROM sqlite_master WHERE name IN ('suspend_history', 'idx_user_settings_suspended')
-- check: SELECT user_version = 8 FROM pragma_user_version
-- manual: The timelogger bot answers /timelog in the staging server
-- manual: /suspend no longer appears in the staging server's command list

DROP INDEX idx_user_settings_suspended;
DROP TABLE suspend_history;

CREATE TABLE user_settings_new (
    user_id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    daily_goal_minutes INTEGER NOT NULL DEFAULT 480,
    created_at TEXT NOT NULL
);
INSERT INTO user_settings_new (user_id, guild_id, timezone, daily_goal_minutes, created_at)
    SELECT user_id, guild_id, timezone, daily_goal_minutes, created_at FROM user_settings;
DROP TABLE user_settings;
ALTER TABLE user_settings_new RENAME TO user_settings;
CREATE INDEX idx_user_settings_guild ON user_settings(guild_id);

PRAGMA user_version = 8;
