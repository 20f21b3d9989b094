-- The generalized ALTER TABLE procedure from https://www.sqlite.org/lang_altertable.html#otheralter
-- ("Making Other Kinds Of Table Schema Changes"), followed literally, step by step.
-- Here the schema change is: drop column legacy_code and make name UNIQUE.

-- 1. If foreign key constraints are enabled, disable them using PRAGMA foreign_keys=OFF.
PRAGMA foreign_keys=OFF;

-- 2. Start a transaction.
BEGIN TRANSACTION;

-- 3. Remember the format of all indexes, triggers, and views associated with table X.
--    This information will be needed in step 8 below.
SELECT type, sql FROM sqlite_schema WHERE tbl_name='X';

-- 4. Use CREATE TABLE to construct a new table "new_X" that is in the desired revised format of table X.
CREATE TABLE new_X (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

-- 5. Transfer content from X into new_X using a statement like: INSERT INTO new_X SELECT ... FROM X.
INSERT INTO new_X (id, name, created_at) SELECT id, name, created_at FROM X;

-- (Step 9's DROP VIEW, done early: since SQLite 3.26 the RENAME in step 7 re-checks every view and fails with
--  'error in view X_names: no such table: main.X' while a view still names the dropped table X,
--  unless PRAGMA legacy_alter_table=ON is set.)
DROP VIEW X_names;

-- 6. Drop the old table X: DROP TABLE X.
DROP TABLE X;

-- 7. Change the name of new_X to X using: ALTER TABLE new_X RENAME TO X.
ALTER TABLE new_X RENAME TO X;

-- 8. Use CREATE INDEX, CREATE TRIGGER, and CREATE VIEW to reconstruct indexes, triggers, and views
--    associated with table X, using the formats saved in step 3 as a guide.
CREATE INDEX X_name_idx ON X(name);
CREATE TRIGGER X_after_update AFTER UPDATE ON X
BEGIN
    INSERT INTO X_audit (x_id, changed_at) VALUES (NEW.id, datetime('now'));
END;

-- 9. If any views refer to table X in a way that is affected by the schema change,
--    drop those views using DROP VIEW and recreate them.
--    (The DROP VIEW was done before step 6 above; recreate the view now.)
CREATE VIEW X_names AS SELECT id, name FROM X;

-- 10. If foreign key constraints were originally enabled then run PRAGMA foreign_key_check
--     to verify that the schema change did not break any foreign key constraints.
PRAGMA foreign_key_check;

-- 11. Commit the transaction started in step 2.
COMMIT;

-- 12. If foreign keys constraints were originally enabled, reenable them now.
PRAGMA foreign_keys=ON;
