ALTER TABLE `config` ADD `subscription_email` text;
