SET @mirrorsink_migration = IF((SELECT COUNT(*) FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {{meta_name}} AND COLUMN_NAME = 'lostobjects') = 0,
    'ALTER TABLE {{meta}} ADD COLUMN lostobjects longtext NOT NULL DEFAULT ('''')', 'DO 0')
--;
PREPARE mirrorsink_migration FROM @mirrorsink_migration
--;
EXECUTE mirrorsink_migration
--;
DEALLOCATE PREPARE mirrorsink_migration
