-- only if fan_in
SET @mirrorsink_migration = IF((SELECT COUNT(*) FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {{meta_name}} AND COLUMN_NAME = 'tenant') = 0,
    'ALTER TABLE {{meta}} ADD COLUMN tenant varchar(50) NOT NULL DEFAULT '''' FIRST, ADD COLUMN storedin varchar(128) NOT NULL DEFAULT '''', ADD COLUMN conflict longtext NOT NULL DEFAULT (''''), DROP PRIMARY KEY, ADD PRIMARY KEY (tenant, tablename), ADD INDEX mirrorsink_bytable (tablename, schemahash, storedin)',
    'DO 0')
--;
-- only if fan_in
PREPARE mirrorsink_migration FROM @mirrorsink_migration
--;
-- only if fan_in
EXECUTE mirrorsink_migration
--;
-- only if fan_in
DEALLOCATE PREPARE mirrorsink_migration
--;
-- only if fan_in
SET @mirrorsink_migration = IF((SELECT COUNT(*) FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {{cycles_name}} AND COLUMN_NAME = 'tenant') = 0,
    'ALTER TABLE {{cycles}} ADD COLUMN tenant varchar(50) NOT NULL DEFAULT '''' FIRST, DROP PRIMARY KEY, ADD PRIMARY KEY (tenant, id)',
    'DO 0')
--;
-- only if fan_in
PREPARE mirrorsink_migration FROM @mirrorsink_migration
--;
-- only if fan_in
EXECUTE mirrorsink_migration
--;
-- only if fan_in
DEALLOCATE PREPARE mirrorsink_migration
--;
-- only if fan_in
SET @mirrorsink_migration = IF((SELECT COUNT(*) FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {{pause_name}} AND COLUMN_NAME = 'tenant') = 0,
    'ALTER TABLE {{pause}} ADD COLUMN tenant varchar(50) NOT NULL DEFAULT '''' FIRST, DROP PRIMARY KEY, ADD PRIMARY KEY (tenant, id)',
    'DO 0')
--;
-- only if fan_in
PREPARE mirrorsink_migration FROM @mirrorsink_migration
--;
-- only if fan_in
EXECUTE mirrorsink_migration
--;
-- only if fan_in
DEALLOCATE PREPARE mirrorsink_migration
--;
-- only if fan_in
SET @mirrorsink_migration = IF((SELECT COUNT(*) FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {{failures_name}} AND COLUMN_NAME = 'tenant') = 0,
    'ALTER TABLE {{failures}} ADD COLUMN tenant varchar(50) NOT NULL DEFAULT '''' FIRST, DROP PRIMARY KEY, ADD PRIMARY KEY (tenant, id)',
    'DO 0')
--;
-- only if fan_in
PREPARE mirrorsink_migration FROM @mirrorsink_migration
--;
-- only if fan_in
EXECUTE mirrorsink_migration
--;
-- only if fan_in
DEALLOCATE PREPARE mirrorsink_migration
