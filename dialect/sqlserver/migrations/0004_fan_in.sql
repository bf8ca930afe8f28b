-- only if fan_in
IF COL_LENGTH({{meta_literal}}, N'tenant') IS NULL
ALTER TABLE {{meta}} ADD tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL DEFAULT '',
    storedin nvarchar(128) NOT NULL DEFAULT N'', conflict nvarchar(max) NOT NULL DEFAULT N''
--;
-- only if fan_in
DECLARE @pk sysname = (SELECT kc.name FROM sys.key_constraints AS kc
    WHERE kc.type = 'PK' AND kc.parent_object_id = OBJECT_ID({{meta_literal}}, N'U') AND kc.name <> N'PK_mirrorsink_mirroring');
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
ALTER TABLE {{cycles}} ADD tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL DEFAULT ''
--;
-- only if fan_in
DECLARE @pk sysname = (SELECT kc.name FROM sys.key_constraints AS kc
    WHERE kc.type = 'PK' AND kc.parent_object_id = OBJECT_ID({{cycles_literal}}, N'U') AND kc.name <> N'PK_mirrorsink_mirroring_cycles');
IF @pk IS NOT NULL
BEGIN
    DECLARE @stmt nvarchar(max) = N'ALTER TABLE ' + {{cycles_literal}} + N' DROP CONSTRAINT ' + QUOTENAME(@pk);
    EXEC sp_executesql @stmt;
END
--;
-- only if fan_in
IF NOT EXISTS (SELECT 1 FROM sys.key_constraints WHERE type = 'PK' AND parent_object_id = OBJECT_ID({{cycles_literal}}, N'U'))
ALTER TABLE {{cycles}} ADD CONSTRAINT {{cycles_pk}} PRIMARY KEY CLUSTERED (tenant, id)
