ALTER TABLE `key`
RENAME COLUMN `primary` to `primary_key`;
