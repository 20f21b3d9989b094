PRAGMA foreign_keys=OFF;
BEGIN;
DROP TABLE user_groups;
DROP TABLE user_groups_users;
COMMIT;
PRAGMA foreign_keys=ON;
