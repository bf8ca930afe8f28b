-- only if fan_in
IF COL_LENGTH({{meta_literal}}, N'tenant') IS NULL
ALTER TABLE {{meta}} ADD tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL DEFAULT N'',
    storedin nvarchar(128) NOT NULL DEFAULT N'', conflict nvarchar(max) NOT NULL DEFAULT N''
--;
-- only if fan_in
DECLARE @pk sysname = (SELECT kc.name FROM sys.key_constraints AS kc
    WHERE kc.type = 'PK' AND kc.parent_object_id = OBJECT_ID({{meta_literal}}, N'U') AND QUOTENAME(kc.name) <> {{meta_pk_literal}});
IF @pk IS NOT NULL
BEGIN
    DECLARE @stmt nvarchar(max) = N'ALTER TABLE ' + {{meta_literal}} + N' DROP CONSTRAINT ' + QUOTENAME(@pk);
    EXEC sp_executesql @stmt;
END
--;
-- only if fan_in
IF NOT EXISTS (SELECT 1 FROM sys.key_constraints WHERE type = 'PK' AND parent_object_id = OBJECT_ID({{meta_literal}}, N'U'))
ALTER TABLE {{meta}} ADD CONSTRAINT {{meta_pk}} PRIMARY KEY CLUSTERED (tenant, tablename)
--;
-- only if fan_in
IF COL_LENGTH({{cycles_literal}}, N'tenant') IS NULL
ALTER TABLE {{cycles}} ADD tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL DEFAULT N''
--;
-- only if fan_in
DECLARE @pk sysname = (SELECT kc.name FROM sys.key_constraints AS kc
    WHERE kc.type = 'PK' AND kc.parent_object_id = OBJECT_ID({{cycles_literal}}, N'U') AND QUOTENAME(kc.name) <> {{cycles_pk_literal}});
IF @pk IS NOT NULL
BEGIN
    DECLARE @stmt nvarchar(max) = N'ALTER TABLE ' + {{cycles_literal}} + N' DROP CONSTRAINT ' + QUOTENAME(@pk);
    EXEC sp_executesql @stmt;
END
--;
-- only if fan_in
IF NOT EXISTS (SELECT 1 FROM sys.key_constraints WHERE type = 'PK' AND parent_object_id = OBJECT_ID({{cycles_literal}}, N'U'))
ALTER TABLE {{cycles}} ADD CONSTRAINT {{cycles_pk}} PRIMARY KEY CLUSTERED (tenant, id)
--;
-- only if fan_in
IF COL_LENGTH({{pause_literal}}, N'tenant') IS NULL
ALTER TABLE {{pause}} ADD tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL DEFAULT N''
--;
-- only if fan_in
DECLARE @pk sysname = (SELECT kc.name FROM sys.key_constraints AS kc
    WHERE kc.type = 'PK' AND kc.parent_object_id = OBJECT_ID({{pause_literal}}, N'U') AND QUOTENAME(kc.name) <> {{pause_pk_literal}});
IF @pk IS NOT NULL
BEGIN
    DECLARE @stmt nvarchar(max) = N'ALTER TABLE ' + {{pause_literal}} + N' DROP CONSTRAINT ' + QUOTENAME(@pk);
    EXEC sp_executesql @stmt;
END
--;
-- only if fan_in
IF NOT EXISTS (SELECT 1 FROM sys.key_constraints WHERE type = 'PK' AND parent_object_id = OBJECT_ID({{pause_literal}}, N'U'))
ALTER TABLE {{pause}} ADD CONSTRAINT {{pause_pk}} PRIMARY KEY CLUSTERED (tenant, id)
--;
-- only if fan_in
IF COL_LENGTH({{failures_literal}}, N'tenant') IS NULL
ALTER TABLE {{failures}} ADD tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL DEFAULT N''
--;
-- only if fan_in
DECLARE @pk sysname = (SELECT kc.name FROM sys.key_constraints AS kc
    WHERE kc.type = 'PK' AND kc.parent_object_id = OBJECT_ID({{failures_literal}}, N'U') AND QUOTENAME(kc.name) <> {{failures_pk_literal}});
IF @pk IS NOT NULL
BEGIN
    DECLARE @stmt nvarchar(max) = N'ALTER TABLE ' + {{failures_literal}} + N' DROP CONSTRAINT ' + QUOTENAME(@pk);
    EXEC sp_executesql @stmt;
END
--;
-- only if fan_in
IF NOT EXISTS (SELECT 1 FROM sys.key_constraints WHERE type = 'PK' AND parent_object_id = OBJECT_ID({{failures_literal}}, N'U'))
ALTER TABLE {{failures}} ADD CONSTRAINT {{failures_pk}} PRIMARY KEY CLUSTERED (tenant, id)
--;
-- only if fan_in
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID({{meta_literal}}, N'U') AND name = N'IX_mirrorsink_bytable')
CREATE INDEX [IX_mirrorsink_bytable] ON {{meta}} (tablename, schemahash, storedin)
