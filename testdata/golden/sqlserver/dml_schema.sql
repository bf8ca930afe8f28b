-- staging for upsert of every_type
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];
CREATE TABLE [#mirrorsink_stage] (
    [id] int NULL,
    [c_bit] bit NULL,
    [c_tinyint] tinyint NULL,
    [c_smallint] smallint NULL,
    [c_bigint] bigint NULL,
    [c_decimal] decimal(38,10) NULL,
    [c_numeric] decimal(18,0) NULL,
    [c_money] money NULL,
    [c_smallmoney] smallmoney NULL,
    [c_float] float NULL,
    [c_real] real NULL,
    [c_date] date NULL,
    [c_time] time(7) NULL,
    [c_time3] time(3) NULL,
    [c_smalldatetime] smalldatetime NULL,
    [c_datetime] datetime NULL,
    [c_datetime2] datetime2(7) NULL,
    [c_datetime2_0] datetime2(0) NULL,
    [c_datetimeoffset] datetimeoffset(7) NULL,
    [c_char] char(10) COLLATE DATABASE_DEFAULT NULL,
    [c_nchar] nchar(10) COLLATE DATABASE_DEFAULT NULL,
    [c_varchar] varchar(255) COLLATE DATABASE_DEFAULT NULL,
    [c_nvarchar] nvarchar(4000) COLLATE DATABASE_DEFAULT NULL,
    [c_varchar_max] varchar(max) COLLATE DATABASE_DEFAULT NULL,
    [c_nvarchar_max] nvarchar(max) COLLATE DATABASE_DEFAULT NULL,
    [c_text] varchar(max) COLLATE DATABASE_DEFAULT NULL,
    [c_ntext] nvarchar(max) COLLATE DATABASE_DEFAULT NULL,
    [c_binary] binary(16) NULL,
    [c_varbinary] varbinary(8000) NULL,
    [c_varbinary_max] varbinary(max) NULL,
    [c_image] varbinary(max) NULL,
    [c_rowversion] binary(8) NULL,
    [c_uniqueidentifier] uniqueidentifier NULL,
    [c_xml] xml NULL,
    [c_hierarchyid] nvarchar(max) COLLATE DATABASE_DEFAULT NULL,
    [c_geography] nvarchar(max) COLLATE DATABASE_DEFAULT NULL,
    [c_geometry] nvarchar(max) COLLATE DATABASE_DEFAULT NULL,
    [c_sql_variant] nvarchar(max) COLLATE DATABASE_DEFAULT NULL,
    [c_sysname] nvarchar(128) COLLATE DATABASE_DEFAULT NULL
);

-- upsert every_type
UPDATE tgt SET tgt.[c_bit] = src.[c_bit], tgt.[c_tinyint] = src.[c_tinyint], tgt.[c_smallint] = src.[c_smallint], tgt.[c_bigint] = src.[c_bigint], tgt.[c_decimal] = src.[c_decimal], tgt.[c_numeric] = src.[c_numeric], tgt.[c_money] = src.[c_money], tgt.[c_smallmoney] = src.[c_smallmoney], tgt.[c_float] = src.[c_float], tgt.[c_real] = src.[c_real], tgt.[c_date] = src.[c_date], tgt.[c_time] = src.[c_time], tgt.[c_time3] = src.[c_time3], tgt.[c_smalldatetime] = src.[c_smalldatetime], tgt.[c_datetime] = src.[c_datetime], tgt.[c_datetime2] = src.[c_datetime2], tgt.[c_datetime2_0] = src.[c_datetime2_0], tgt.[c_datetimeoffset] = src.[c_datetimeoffset], tgt.[c_char] = src.[c_char], tgt.[c_nchar] = src.[c_nchar], tgt.[c_varchar] = src.[c_varchar], tgt.[c_nvarchar] = src.[c_nvarchar], tgt.[c_varchar_max] = src.[c_varchar_max], tgt.[c_nvarchar_max] = src.[c_nvarchar_max], tgt.[c_text] = src.[c_text], tgt.[c_ntext] = src.[c_ntext], tgt.[c_binary] = src.[c_binary], tgt.[c_varbinary] = src.[c_varbinary], tgt.[c_varbinary_max] = src.[c_varbinary_max], tgt.[c_image] = src.[c_image], tgt.[c_rowversion] = src.[c_rowversion], tgt.[c_uniqueidentifier] = src.[c_uniqueidentifier], tgt.[c_xml] = src.[c_xml], tgt.[c_hierarchyid] = CAST(src.[c_hierarchyid] AS hierarchyid), tgt.[c_geography] = CASE WHEN src.[c_geography] IS NULL THEN NULL ELSE geography::STGeomFromText(src.[c_geography], 4326) END, tgt.[c_geometry] = CASE WHEN src.[c_geometry] IS NULL THEN NULL ELSE geometry::STGeomFromText(src.[c_geometry], 0) END, tgt.[c_sql_variant] = CAST(src.[c_sql_variant] AS sql_variant), tgt.[c_sysname] = src.[c_sysname]
FROM [tenant].[every_type] AS tgt WITH (UPDLOCK, HOLDLOCK)
INNER JOIN [#mirrorsink_stage] AS src ON tgt.[id] = src.[id];
INSERT INTO [tenant].[every_type] ([id], [c_bit], [c_tinyint], [c_smallint], [c_bigint], [c_decimal], [c_numeric], [c_money], [c_smallmoney], [c_float], [c_real], [c_date], [c_time], [c_time3], [c_smalldatetime], [c_datetime], [c_datetime2], [c_datetime2_0], [c_datetimeoffset], [c_char], [c_nchar], [c_varchar], [c_nvarchar], [c_varchar_max], [c_nvarchar_max], [c_text], [c_ntext], [c_binary], [c_varbinary], [c_varbinary_max], [c_image], [c_rowversion], [c_uniqueidentifier], [c_xml], [c_hierarchyid], [c_geography], [c_geometry], [c_sql_variant], [c_sysname])
SELECT src.[id], src.[c_bit], src.[c_tinyint], src.[c_smallint], src.[c_bigint], src.[c_decimal], src.[c_numeric], src.[c_money], src.[c_smallmoney], src.[c_float], src.[c_real], src.[c_date], src.[c_time], src.[c_time3], src.[c_smalldatetime], src.[c_datetime], src.[c_datetime2], src.[c_datetime2_0], src.[c_datetimeoffset], src.[c_char], src.[c_nchar], src.[c_varchar], src.[c_nvarchar], src.[c_varchar_max], src.[c_nvarchar_max], src.[c_text], src.[c_ntext], src.[c_binary], src.[c_varbinary], src.[c_varbinary_max], src.[c_image], src.[c_rowversion], src.[c_uniqueidentifier], src.[c_xml], CAST(src.[c_hierarchyid] AS hierarchyid), CASE WHEN src.[c_geography] IS NULL THEN NULL ELSE geography::STGeomFromText(src.[c_geography], 4326) END, CASE WHEN src.[c_geometry] IS NULL THEN NULL ELSE geometry::STGeomFromText(src.[c_geometry], 0) END, CAST(src.[c_sql_variant] AS sql_variant), src.[c_sysname]
FROM [#mirrorsink_stage] AS src
WHERE NOT EXISTS (SELECT 1 FROM [tenant].[every_type] AS tgt WITH (UPDLOCK, HOLDLOCK) WHERE tgt.[id] = src.[id]);

-- staging for delete from every_type
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];
CREATE TABLE [#mirrorsink_stage] (
    [id] int NULL
);

-- delete from every_type
DELETE tgt FROM [tenant].[every_type] AS tgt WITH (UPDLOCK, HOLDLOCK)
INNER JOIN [#mirrorsink_stage] AS src ON tgt.[id] = src.[id];

-- move staged rows into every_type
INSERT INTO [tenant].[every_type] ([id], [c_bit], [c_tinyint], [c_smallint], [c_bigint], [c_decimal], [c_numeric], [c_money], [c_smallmoney], [c_float], [c_real], [c_date], [c_time], [c_time3], [c_smalldatetime], [c_datetime], [c_datetime2], [c_datetime2_0], [c_datetimeoffset], [c_char], [c_nchar], [c_varchar], [c_nvarchar], [c_varchar_max], [c_nvarchar_max], [c_text], [c_ntext], [c_binary], [c_varbinary], [c_varbinary_max], [c_image], [c_rowversion], [c_uniqueidentifier], [c_xml], [c_hierarchyid], [c_geography], [c_geometry], [c_sql_variant], [c_sysname])
SELECT src.[id], src.[c_bit], src.[c_tinyint], src.[c_smallint], src.[c_bigint], src.[c_decimal], src.[c_numeric], src.[c_money], src.[c_smallmoney], src.[c_float], src.[c_real], src.[c_date], src.[c_time], src.[c_time3], src.[c_smalldatetime], src.[c_datetime], src.[c_datetime2], src.[c_datetime2_0], src.[c_datetimeoffset], src.[c_char], src.[c_nchar], src.[c_varchar], src.[c_nvarchar], src.[c_varchar_max], src.[c_nvarchar_max], src.[c_text], src.[c_ntext], src.[c_binary], src.[c_varbinary], src.[c_varbinary_max], src.[c_image], src.[c_rowversion], src.[c_uniqueidentifier], src.[c_xml], CAST(src.[c_hierarchyid] AS hierarchyid), CASE WHEN src.[c_geography] IS NULL THEN NULL ELSE geography::STGeomFromText(src.[c_geography], 4326) END, CASE WHEN src.[c_geometry] IS NULL THEN NULL ELSE geometry::STGeomFromText(src.[c_geometry], 0) END, CAST(src.[c_sql_variant] AS sql_variant), src.[c_sysname]
FROM [#mirrorsink_stage] AS src;

-- drop staging
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];

-- staging for upsert of defaults
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];
CREATE TABLE [#mirrorsink_stage] (
    [tenant] nvarchar(50) COLLATE DATABASE_DEFAULT NULL,
    [id] bigint NULL,
    [name] nvarchar(100) COLLATE DATABASE_DEFAULT NULL,
    [empty] varchar(10) COLLATE DATABASE_DEFAULT NULL,
    [flag] bit NULL,
    [amount] decimal(10,2) NULL,
    [nodate] datetime NULL,
    [maybe] int NULL,
    [created] datetime NULL,
    [created2] datetime2(7) NULL,
    [created_utc] datetime NULL,
    [created_utc2] datetime2(3) NULL,
    [created_off] datetimeoffset(7) NULL,
    [guid] uniqueidentifier NULL,
    [weird] int NULL,
    [notnumber] int NULL
);

-- upsert defaults
UPDATE tgt SET tgt.[name] = src.[name], tgt.[empty] = src.[empty], tgt.[flag] = src.[flag], tgt.[amount] = src.[amount], tgt.[nodate] = src.[nodate], tgt.[maybe] = src.[maybe], tgt.[created] = src.[created], tgt.[created2] = src.[created2], tgt.[created_utc] = src.[created_utc], tgt.[created_utc2] = src.[created_utc2], tgt.[created_off] = src.[created_off], tgt.[guid] = src.[guid], tgt.[weird] = src.[weird], tgt.[notnumber] = src.[notnumber]
FROM [tenant].[defaults] AS tgt WITH (UPDLOCK, HOLDLOCK)
INNER JOIN [#mirrorsink_stage] AS src ON tgt.[tenant] = src.[tenant] AND tgt.[id] = src.[id];
INSERT INTO [tenant].[defaults] ([tenant], [id], [name], [empty], [flag], [amount], [nodate], [maybe], [created], [created2], [created_utc], [created_utc2], [created_off], [guid], [weird], [notnumber])
SELECT src.[tenant], src.[id], src.[name], src.[empty], src.[flag], src.[amount], src.[nodate], src.[maybe], src.[created], src.[created2], src.[created_utc], src.[created_utc2], src.[created_off], src.[guid], src.[weird], src.[notnumber]
FROM [#mirrorsink_stage] AS src
WHERE NOT EXISTS (SELECT 1 FROM [tenant].[defaults] AS tgt WITH (UPDLOCK, HOLDLOCK) WHERE tgt.[tenant] = src.[tenant] AND tgt.[id] = src.[id]);

-- staging for delete from defaults
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];
CREATE TABLE [#mirrorsink_stage] (
    [tenant] nvarchar(50) COLLATE DATABASE_DEFAULT NULL,
    [id] bigint NULL
);

-- delete from defaults
DELETE tgt FROM [tenant].[defaults] AS tgt WITH (UPDLOCK, HOLDLOCK)
INNER JOIN [#mirrorsink_stage] AS src ON tgt.[tenant] = src.[tenant] AND tgt.[id] = src.[id];

-- move staged rows into defaults
INSERT INTO [tenant].[defaults] ([tenant], [id], [name], [empty], [flag], [amount], [nodate], [maybe], [created], [created2], [created_utc], [created_utc2], [created_off], [guid], [weird], [notnumber])
SELECT src.[tenant], src.[id], src.[name], src.[empty], src.[flag], src.[amount], src.[nodate], src.[maybe], src.[created], src.[created2], src.[created_utc], src.[created_utc2], src.[created_off], src.[guid], src.[weird], src.[notnumber]
FROM [#mirrorsink_stage] AS src;

-- drop staging
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];

-- staging for upsert of Order Details]; DROP TABLE [x] --'
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];
CREATE TABLE [#mirrorsink_stage] (
    [user] int NULL,
    [order] nvarchar(20) COLLATE DATABASE_DEFAULT NULL,
    [group] nvarchar(20) COLLATE DATABASE_DEFAULT NULL,
    [select] int NULL,
    [MixedCase] int NULL,
    [with space] int NULL,
    [quote"double] int NULL,
    [quote'single] int NULL,
    [back`tick] int NULL,
    [brack]]et[s]]] int NULL,
    [ünïcødé_名前] int NULL,
    [dot.ted] nvarchar(max) COLLATE DATABASE_DEFAULT NULL,
    [xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx] int NULL
);

-- upsert Order Details]; DROP TABLE [x] --'
UPDATE tgt SET tgt.[group] = src.[group], tgt.[select] = src.[select], tgt.[MixedCase] = src.[MixedCase], tgt.[with space] = src.[with space], tgt.[quote"double] = src.[quote"double], tgt.[quote'single] = src.[quote'single], tgt.[back`tick] = src.[back`tick], tgt.[brack]]et[s]]] = src.[brack]]et[s]]], tgt.[ünïcødé_名前] = src.[ünïcødé_名前], tgt.[dot.ted] = CAST(src.[dot.ted] AS hierarchyid), tgt.[xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx] = src.[xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx]
FROM [tenant].[Order Details]]; DROP TABLE [x]] --'] AS tgt WITH (UPDLOCK, HOLDLOCK)
INNER JOIN [#mirrorsink_stage] AS src ON tgt.[user] = src.[user] AND tgt.[order] = src.[order];
INSERT INTO [tenant].[Order Details]]; DROP TABLE [x]] --'] ([user], [order], [group], [select], [MixedCase], [with space], [quote"double], [quote'single], [back`tick], [brack]]et[s]]], [ünïcødé_名前], [dot.ted], [xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx])
SELECT src.[user], src.[order], src.[group], src.[select], src.[MixedCase], src.[with space], src.[quote"double], src.[quote'single], src.[back`tick], src.[brack]]et[s]]], src.[ünïcødé_名前], CAST(src.[dot.ted] AS hierarchyid), src.[xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx]
FROM [#mirrorsink_stage] AS src
WHERE NOT EXISTS (SELECT 1 FROM [tenant].[Order Details]]; DROP TABLE [x]] --'] AS tgt WITH (UPDLOCK, HOLDLOCK) WHERE tgt.[user] = src.[user] AND tgt.[order] = src.[order]);

-- staging for delete from Order Details]; DROP TABLE [x] --'
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];
CREATE TABLE [#mirrorsink_stage] (
    [user] int NULL,
    [order] nvarchar(20) COLLATE DATABASE_DEFAULT NULL
);

-- delete from Order Details]; DROP TABLE [x] --'
DELETE tgt FROM [tenant].[Order Details]]; DROP TABLE [x]] --'] AS tgt WITH (UPDLOCK, HOLDLOCK)
INNER JOIN [#mirrorsink_stage] AS src ON tgt.[user] = src.[user] AND tgt.[order] = src.[order];

-- move staged rows into Order Details]; DROP TABLE [x] --'
INSERT INTO [tenant].[Order Details]]; DROP TABLE [x]] --'] ([user], [order], [group], [select], [MixedCase], [with space], [quote"double], [quote'single], [back`tick], [brack]]et[s]]], [ünïcødé_名前], [dot.ted], [xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx])
SELECT src.[user], src.[order], src.[group], src.[select], src.[MixedCase], src.[with space], src.[quote"double], src.[quote'single], src.[back`tick], src.[brack]]et[s]]], src.[ünïcødé_名前], CAST(src.[dot.ted] AS hierarchyid), src.[xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx]
FROM [#mirrorsink_stage] AS src;

-- drop staging
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];

-- staging for upsert of keys_only
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];
CREATE TABLE [#mirrorsink_stage] (
    [a] int NULL,
    [b] uniqueidentifier NULL
);

-- upsert keys_only
INSERT INTO [tenant].[keys_only] ([a], [b])
SELECT src.[a], src.[b]
FROM [#mirrorsink_stage] AS src
WHERE NOT EXISTS (SELECT 1 FROM [tenant].[keys_only] AS tgt WITH (UPDLOCK, HOLDLOCK) WHERE tgt.[b] = src.[b] AND tgt.[a] = src.[a]);

-- staging for delete from keys_only
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];
CREATE TABLE [#mirrorsink_stage] (
    [b] uniqueidentifier NULL,
    [a] int NULL
);

-- delete from keys_only
DELETE tgt FROM [tenant].[keys_only] AS tgt WITH (UPDLOCK, HOLDLOCK)
INNER JOIN [#mirrorsink_stage] AS src ON tgt.[b] = src.[b] AND tgt.[a] = src.[a];

-- move staged rows into keys_only
INSERT INTO [tenant].[keys_only] ([a], [b])
SELECT src.[a], src.[b]
FROM [#mirrorsink_stage] AS src;

-- drop staging
IF OBJECT_ID(N'tempdb..[#mirrorsink_stage]', N'U') IS NOT NULL DROP TABLE [#mirrorsink_stage];

