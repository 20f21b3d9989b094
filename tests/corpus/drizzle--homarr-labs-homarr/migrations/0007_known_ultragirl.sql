ALTER TABLE `user` ADD `colorScheme` text DEFAULT 'auto' NOT NULL;
