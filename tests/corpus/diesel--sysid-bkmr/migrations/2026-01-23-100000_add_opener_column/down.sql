ALTER TABLE bookmarks DROP COLUMN opener;
