ALTER TABLE `config` ADD `custom_api_key` text;
