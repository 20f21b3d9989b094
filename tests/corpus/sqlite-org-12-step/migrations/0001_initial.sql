-- Starting schema for the sqlite.org 12-step example in 0002.
-- Table X has an index, a trigger, a view and a child table with a foreign key into it.
CREATE TABLE X (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    legacy_code TEXT,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX X_name_idx ON X(name);
CREATE TABLE X_audit (x_id INTEGER, changed_at TEXT);
CREATE TRIGGER X_after_update AFTER UPDATE ON X
BEGIN
    INSERT INTO X_audit (x_id, changed_at) VALUES (NEW.id, datetime('now'));
END;
CREATE VIEW X_names AS SELECT id, name FROM X;
CREATE TABLE Y (
    id INTEGER PRIMARY KEY,
    x_id INTEGER NOT NULL REFERENCES X(id) ON DELETE CASCADE
);
INSERT INTO X (id, name, legacy_code) VALUES (1, 'alpha', 'a1'), (2, 'beta', NULL);
INSERT INTO Y (id, x_id) VALUES (10, 1), (11, 2);
