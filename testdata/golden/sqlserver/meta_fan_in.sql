-- migrate a new mirror
IF OBJECT_ID(N'[analytics].[mirrorsink_mirroring_migrations]', N'U') IS NULL
CREATE TABLE [analytics].[mirrorsink_mirroring_migrations] (
    version int NOT NULL PRIMARY KEY,
    applied datetime2(6) NOT NULL
);

IF OBJECT_ID(N'[analytics].[mirrorsink_mirroring]', N'U') IS NULL
CREATE TABLE [analytics].[mirrorsink_mirroring] (
    tablename nvarchar(128) NOT NULL PRIMARY KEY,
    lsn bigint NOT NULL,
    schemahash char(64) NOT NULL,
    schemajson nvarchar(max) NOT NULL,
    schemachanged datetime2(6) NOT NULL,
    lastapplied datetime2(6) NULL
);

IF OBJECT_ID(N'[analytics].[mirrorsink_mirroring_cycles]', N'U') IS NULL
CREATE TABLE [analytics].[mirrorsink_mirroring_cycles] (
    id bigint NOT NULL PRIMARY KEY,
    completed datetime2(6) NOT NULL,
    tables int NOT NULL,
    inserts bigint NOT NULL,
    updates bigint NOT NULL,
    deletes bigint NOT NULL,
    summary nvarchar(max) NOT NULL
);

SELECT [version] FROM [analytics].[mirrorsink_mirroring_migrations];

INSERT INTO [analytics].[mirrorsink_mirroring_migrations] ([version],[applied]) VALUES (@p1,@p2)
-- @p1 = 1, @p2 = 2026-05-18T10:40:43.123456Z;

IF COL_LENGTH(N'[analytics].[mirrorsink_mirroring]', N'lostobjects') IS NULL
ALTER TABLE [analytics].[mirrorsink_mirroring] ADD lostobjects nvarchar(max) NOT NULL DEFAULT N'';

INSERT INTO [analytics].[mirrorsink_mirroring_migrations] ([version],[applied]) VALUES (@p1,@p2)
-- @p1 = 2, @p2 = 2026-05-18T10:40:43.123456Z;

IF OBJECT_ID(N'[analytics].[mirrorsink_mirroring_pause]', N'U') IS NULL
CREATE TABLE [analytics].[mirrorsink_mirroring_pause] (
    id int NOT NULL PRIMARY KEY,
    pausedby nvarchar(200) NOT NULL,
    pausedat datetime2(6) NOT NULL,
    reason nvarchar(max) NOT NULL
);

IF OBJECT_ID(N'[analytics].[mirrorsink_mirroring_failures]', N'U') IS NULL
CREATE TABLE [analytics].[mirrorsink_mirroring_failures] (
    id bigint NOT NULL PRIMARY KEY,
    failedat datetime2(6) NOT NULL,
    operation nvarchar(64) NOT NULL,
    tablename nvarchar(128) NOT NULL,
    errorclass nvarchar(32) NOT NULL,
    message nvarchar(max) NOT NULL
);

INSERT INTO [analytics].[mirrorsink_mirroring_migrations] ([version],[applied]) VALUES (@p1,@p2)
-- @p1 = 3, @p2 = 2026-05-18T10:40:43.123456Z;

IF COL_LENGTH(N'[analytics].[mirrorsink_mirroring]', N'tenant') IS NULL
ALTER TABLE [analytics].[mirrorsink_mirroring] ADD tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL DEFAULT N'',
    storedin nvarchar(128) NOT NULL DEFAULT N'', conflict nvarchar(max) NOT NULL DEFAULT N'';

DECLARE @pk sysname = (SELECT kc.name FROM sys.key_constraints AS kc
    WHERE kc.type = 'PK' AND kc.parent_object_id = OBJECT_ID(N'[analytics].[mirrorsink_mirroring]', N'U') AND QUOTENAME(kc.name) <> N'[PK_mirrorsink_mirroring]');
IF @pk IS NOT NULL
BEGIN
    DECLARE @stmt nvarchar(max) = N'ALTER TABLE ' + N'[analytics].[mirrorsink_mirroring]' + N' DROP CONSTRAINT ' + QUOTENAME(@pk);
    EXEC sp_executesql @stmt;
END;

IF NOT EXISTS (SELECT 1 FROM sys.key_constraints WHERE type = 'PK' AND parent_object_id = OBJECT_ID(N'[analytics].[mirrorsink_mirroring]', N'U'))
ALTER TABLE [analytics].[mirrorsink_mirroring] ADD CONSTRAINT [PK_mirrorsink_mirroring] PRIMARY KEY CLUSTERED (tenant, tablename);

IF COL_LENGTH(N'[analytics].[mirrorsink_mirroring_cycles]', N'tenant') IS NULL
ALTER TABLE [analytics].[mirrorsink_mirroring_cycles] ADD tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL DEFAULT N'';

DECLARE @pk sysname = (SELECT kc.name FROM sys.key_constraints AS kc
    WHERE kc.type = 'PK' AND kc.parent_object_id = OBJECT_ID(N'[analytics].[mirrorsink_mirroring_cycles]', N'U') AND QUOTENAME(kc.name) <> N'[PK_mirrorsink_mirroring_cycles]');
IF @pk IS NOT NULL
BEGIN
    DECLARE @stmt nvarchar(max) = N'ALTER TABLE ' + N'[analytics].[mirrorsink_mirroring_cycles]' + N' DROP CONSTRAINT ' + QUOTENAME(@pk);
    EXEC sp_executesql @stmt;
END;

IF NOT EXISTS (SELECT 1 FROM sys.key_constraints WHERE type = 'PK' AND parent_object_id = OBJECT_ID(N'[analytics].[mirrorsink_mirroring_cycles]', N'U'))
ALTER TABLE [analytics].[mirrorsink_mirroring_cycles] ADD CONSTRAINT [PK_mirrorsink_mirroring_cycles] PRIMARY KEY CLUSTERED (tenant, id);

IF COL_LENGTH(N'[analytics].[mirrorsink_mirroring_pause]', N'tenant') IS NULL
ALTER TABLE [analytics].[mirrorsink_mirroring_pause] ADD tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL DEFAULT N'';

DECLARE @pk sysname = (SELECT kc.name FROM sys.key_constraints AS kc
    WHERE kc.type = 'PK' AND kc.parent_object_id = OBJECT_ID(N'[analytics].[mirrorsink_mirroring_pause]', N'U') AND QUOTENAME(kc.name) <> N'[PK_mirrorsink_mirroring_pause]');
IF @pk IS NOT NULL
BEGIN
    DECLARE @stmt nvarchar(max) = N'ALTER TABLE ' + N'[analytics].[mirrorsink_mirroring_pause]' + N' DROP CONSTRAINT ' + QUOTENAME(@pk);
    EXEC sp_executesql @stmt;
END;

IF NOT EXISTS (SELECT 1 FROM sys.key_constraints WHERE type = 'PK' AND parent_object_id = OBJECT_ID(N'[analytics].[mirrorsink_mirroring_pause]', N'U'))
ALTER TABLE [analytics].[mirrorsink_mirroring_pause] ADD CONSTRAINT [PK_mirrorsink_mirroring_pause] PRIMARY KEY CLUSTERED (tenant, id);

IF COL_LENGTH(N'[analytics].[mirrorsink_mirroring_failures]', N'tenant') IS NULL
ALTER TABLE [analytics].[mirrorsink_mirroring_failures] ADD tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL DEFAULT N'';

DECLARE @pk sysname = (SELECT kc.name FROM sys.key_constraints AS kc
    WHERE kc.type = 'PK' AND kc.parent_object_id = OBJECT_ID(N'[analytics].[mirrorsink_mirroring_failures]', N'U') AND QUOTENAME(kc.name) <> N'[PK_mirrorsink_mirroring_failures]');
IF @pk IS NOT NULL
BEGIN
    DECLARE @stmt nvarchar(max) = N'ALTER TABLE ' + N'[analytics].[mirrorsink_mirroring_failures]' + N' DROP CONSTRAINT ' + QUOTENAME(@pk);
    EXEC sp_executesql @stmt;
END;

IF NOT EXISTS (SELECT 1 FROM sys.key_constraints WHERE type = 'PK' AND parent_object_id = OBJECT_ID(N'[analytics].[mirrorsink_mirroring_failures]', N'U'))
ALTER TABLE [analytics].[mirrorsink_mirroring_failures] ADD CONSTRAINT [PK_mirrorsink_mirroring_failures] PRIMARY KEY CLUSTERED (tenant, id);

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[analytics].[mirrorsink_mirroring]', N'U') AND name = N'IX_mirrorsink_bytable')
CREATE INDEX [IX_mirrorsink_bytable] ON [analytics].[mirrorsink_mirroring] (tablename, schemahash, storedin);

INSERT INTO [analytics].[mirrorsink_mirroring_migrations] ([version],[applied]) VALUES (@p1,@p2)
-- @p1 = 4, @p2 = 2026-05-18T10:40:43.123456Z;

IF OBJECT_ID(N'[analytics].[mirrorsink_changes]', N'U') IS NULL
CREATE TABLE [analytics].[mirrorsink_changes] (
    tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL,
    seq bigint NOT NULL,
    tablename nvarchar(128) NOT NULL,
    rowkey nvarchar(max) NULL,
    op nchar(1) NOT NULL,
    lsn bigint NULL,
    aftercycle bigint NOT NULL,
    appliedat datetime2(6) NOT NULL,
    CONSTRAINT [PK_mirrorsink_changes] PRIMARY KEY CLUSTERED (tenant, seq)
);

IF OBJECT_ID(N'[analytics].[mirrorsink_changes_seq]', N'U') IS NULL
CREATE TABLE [analytics].[mirrorsink_changes_seq] (
    tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL,
    id int NOT NULL,
    lastseq bigint NOT NULL,
    CONSTRAINT [PK_mirrorsink_changes_seq] PRIMARY KEY CLUSTERED (tenant, id)
);

INSERT INTO [analytics].[mirrorsink_mirroring_migrations] ([version],[applied]) VALUES (@p1,@p2)
-- @p1 = 5, @p2 = 2026-05-18T10:40:43.123456Z;

SELECT COUNT(*) FROM [analytics].[mirrorsink_changes_seq] WHERE [id] = @p1 AND [tenant] = @p2
-- @p1 = 1, @p2 = "Cust1";

SELECT COALESCE(MAX([seq]), 0) FROM [analytics].[mirrorsink_changes] WHERE [tenant] = @p1
-- @p1 = "Cust1";

INSERT INTO [analytics].[mirrorsink_changes_seq] ([id],[lastseq],[tenant]) VALUES (@p1,@p2,@p3)
-- @p1 = 1, @p2 = 0, @p3 = "Cust1";

-- pause a tenant that is not paused: no row to update, so one is inserted
UPDATE [analytics].[mirrorsink_mirroring_pause] SET [pausedby] = @p1, [pausedat] = @p2, [reason] = @p3 WHERE [id] = @p4 AND [tenant] = @p5
-- @p1 = "ops@host", @p2 = 2026-05-18T10:40:43.123456Z, @p3 = "maintenance", @p4 = 1, @p5 = "Cust1";

INSERT INTO [analytics].[mirrorsink_mirroring_pause] ([id],[pausedby],[pausedat],[reason],[tenant]) VALUES (@p1,@p2,@p3,@p4,@p5)
-- @p1 = 1, @p2 = "ops@host", @p3 = 2026-05-18T10:40:43.123456Z, @p4 = "maintenance", @p5 = "Cust1";

-- read the pause
SELECT [pausedby], [pausedat], [reason] FROM [analytics].[mirrorsink_mirroring_pause] WHERE [id] = @p1 AND [tenant] = @p2
-- @p1 = 1, @p2 = "Cust1";

-- resume
DELETE FROM [analytics].[mirrorsink_mirroring_pause] WHERE [id] = @p1 AND [tenant] = @p2
-- @p1 = 1, @p2 = "Cust1";

-- record a failure; the log is within its bound
INSERT INTO [analytics].[mirrorsink_mirroring_failures] ([id],[failedat],[operation],[tablename],[errorclass],[message],[tenant]) VALUES (@p1,@p2,@p3,@p4,@p5,@p6,@p7)
-- @p1 = 42, @p2 = 2026-05-18T10:40:43.123456Z, @p3 = "RowData", @p4 = "contact", @p5 = "value", @p6 = "column \"x\", row 1: …", @p7 = "Cust1";

SELECT COUNT(*) FROM [analytics].[mirrorsink_mirroring_failures] WHERE [tenant] = @p1
-- @p1 = "Cust1";

-- record a failure; the log is pruned to its bound
INSERT INTO [analytics].[mirrorsink_mirroring_failures] ([id],[failedat],[operation],[tablename],[errorclass],[message],[tenant]) VALUES (@p1,@p2,@p3,@p4,@p5,@p6,@p7)
-- @p1 = 43, @p2 = 2026-05-18T10:40:43.123456Z, @p3 = "Wipe", @p4 = "", @p5 = "timeout", @p6 = "it took too long", @p7 = "Cust1";

SELECT COUNT(*) FROM [analytics].[mirrorsink_mirroring_failures] WHERE [tenant] = @p1
-- @p1 = "Cust1";

SELECT [id] FROM [analytics].[mirrorsink_mirroring_failures] WHERE [tenant] = @p1 ORDER BY [id] DESC
-- @p1 = "Cust1";

DELETE FROM [analytics].[mirrorsink_mirroring_failures] WHERE [id] < @p1 AND [tenant] = @p2
-- @p1 = 91, @p2 = "Cust1";

-- read the newest failures
SELECT [id], [failedat], [operation], [tablename], [errorclass], [message] FROM [analytics].[mirrorsink_mirroring_failures] WHERE [tenant] = @p1 ORDER BY [id] DESC
-- @p1 = "Cust1";

-- store a table's row: an update first (which renames a row spelled in another case), else an insert
UPDATE [analytics].[mirrorsink_mirroring] SET [tablename] = @p1, [lsn] = @p2, [schemahash] = @p3, [schemajson] = @p4, [schemachanged] = @p5, [lostobjects] = @p6, [storedin] = @p7, [conflict] = @p8 WHERE [tablename] = @p9 AND [tenant] = @p10
-- @p1 = "Contact", @p2 = -1, @p3 = "abc", @p4 = "{}", @p5 = 2026-05-18T10:40:43.123456Z, @p6 = "", @p7 = "", @p8 = "", @p9 = "Contact", @p10 = "Cust1";

INSERT INTO [analytics].[mirrorsink_mirroring] ([tablename],[lsn],[schemahash],[schemajson],[schemachanged],[lostobjects],[tenant],[storedin],[conflict]) VALUES (@p1,@p2,@p3,@p4,@p5,@p6,@p7,@p8,@p9)
-- @p1 = "Contact", @p2 = -1, @p3 = "abc", @p4 = "{}", @p5 = 2026-05-18T10:40:43.123456Z, @p6 = "", @p7 = "Cust1", @p8 = "", @p9 = "";

-- record a batch and its LSN
UPDATE [analytics].[mirrorsink_mirroring] SET [lastapplied] = @p1, [lsn] = @p2 WHERE [tablename] = @p3 AND [tenant] = @p4
-- @p1 = 2026-05-18T10:40:43.123456Z, @p2 = 500, @p3 = "Contact", @p4 = "Cust1";

-- mark every table for repopulation
UPDATE [analytics].[mirrorsink_mirroring] SET [lsn] = @p1 WHERE [tenant] = @p2
-- @p1 = -1, @p2 = "Cust1";

-- delete a table's row, under its exact name only (the collation compares names without case)
DELETE FROM [analytics].[mirrorsink_mirroring] WHERE [tablename] COLLATE Latin1_General_100_BIN2 = @p1 AND [tenant] = @p2
-- @p1 = "contact", @p2 = "Cust1";

-- read the last cycle
SELECT [id], [completed], [tables], [inserts], [updates], [deletes], [summary] FROM [analytics].[mirrorsink_mirroring_cycles] WHERE [id] = (SELECT MAX([id]) FROM [analytics].[mirrorsink_mirroring_cycles] WHERE [tenant] = @p1) AND [tenant] = @p2
-- @p1 = "Cust1", @p2 = "Cust1";

-- journal a batch: take the tenant's journal lock and numbers with one UPDATE of its counter row, then read the last number and the newest cycle
UPDATE [analytics].[mirrorsink_changes_seq] SET [lastseq] = [lastseq] + @p1 WHERE [id] = @p2 AND [tenant] = @p3
-- @p1 = 3, @p2 = 1, @p3 = "Cust1";

SELECT [lastseq], (SELECT COALESCE(MAX([id]), 0) FROM [analytics].[mirrorsink_mirroring_cycles] WHERE [tenant] = @p1) FROM [analytics].[mirrorsink_changes_seq] WHERE [id] = @p2 AND [tenant] = @p3
-- @p1 = "Cust1", @p2 = 1, @p3 = "Cust1";

-- read the journal after a number, in order
SELECT [seq], [tablename], [rowkey], [op], [lsn], [aftercycle], [appliedat] FROM [analytics].[mirrorsink_changes] WHERE [seq] > @p1 AND [tenant] = @p2 ORDER BY [seq]
-- @p1 = 41, @p2 = "Cust1";

-- prune the journal to its newest 1000 entries (by the counter's last number) and to 30 days
SELECT [lastseq] FROM [analytics].[mirrorsink_changes_seq] WHERE [id] = @p1 AND [tenant] = @p2
-- @p1 = 1, @p2 = "Cust1";

SELECT [appliedat] FROM [analytics].[mirrorsink_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [analytics].[mirrorsink_changes] WHERE [seq] >= @p1 AND [tenant] = @p2) AND [tenant] = @p3
-- @p1 = 4501, @p2 = "Cust1", @p3 = "Cust1";

SELECT [appliedat] FROM [analytics].[mirrorsink_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [analytics].[mirrorsink_changes] WHERE [seq] >= @p1 AND [tenant] = @p2) AND [tenant] = @p3
-- @p1 = 4251, @p2 = "Cust1", @p3 = "Cust1";

SELECT [appliedat] FROM [analytics].[mirrorsink_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [analytics].[mirrorsink_changes] WHERE [seq] >= @p1 AND [tenant] = @p2) AND [tenant] = @p3
-- @p1 = 4126, @p2 = "Cust1", @p3 = "Cust1";

SELECT [appliedat] FROM [analytics].[mirrorsink_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [analytics].[mirrorsink_changes] WHERE [seq] >= @p1 AND [tenant] = @p2) AND [tenant] = @p3
-- @p1 = 4063, @p2 = "Cust1", @p3 = "Cust1";

SELECT [appliedat] FROM [analytics].[mirrorsink_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [analytics].[mirrorsink_changes] WHERE [seq] >= @p1 AND [tenant] = @p2) AND [tenant] = @p3
-- @p1 = 4032, @p2 = "Cust1", @p3 = "Cust1";

SELECT [appliedat] FROM [analytics].[mirrorsink_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [analytics].[mirrorsink_changes] WHERE [seq] >= @p1 AND [tenant] = @p2) AND [tenant] = @p3
-- @p1 = 4016, @p2 = "Cust1", @p3 = "Cust1";

SELECT [appliedat] FROM [analytics].[mirrorsink_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [analytics].[mirrorsink_changes] WHERE [seq] >= @p1 AND [tenant] = @p2) AND [tenant] = @p3
-- @p1 = 4008, @p2 = "Cust1", @p3 = "Cust1";

SELECT [appliedat] FROM [analytics].[mirrorsink_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [analytics].[mirrorsink_changes] WHERE [seq] >= @p1 AND [tenant] = @p2) AND [tenant] = @p3
-- @p1 = 4004, @p2 = "Cust1", @p3 = "Cust1";

SELECT [appliedat] FROM [analytics].[mirrorsink_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [analytics].[mirrorsink_changes] WHERE [seq] >= @p1 AND [tenant] = @p2) AND [tenant] = @p3
-- @p1 = 4002, @p2 = "Cust1", @p3 = "Cust1";

SELECT [appliedat] FROM [analytics].[mirrorsink_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [analytics].[mirrorsink_changes] WHERE [seq] >= @p1 AND [tenant] = @p2) AND [tenant] = @p3
-- @p1 = 4001, @p2 = "Cust1", @p3 = "Cust1";

DELETE FROM [analytics].[mirrorsink_changes] WHERE [seq] < @p1 AND [tenant] = @p2
-- @p1 = 4001, @p2 = "Cust1";

-- read the tenant's row of a table, the shared table's definition, and the other tenants' distinct schemas of it (one schema read for each)
SELECT [tablename], [lsn], [schemahash], [schemajson], [schemachanged], [lastapplied], [lostobjects], [storedin], [conflict] FROM [analytics].[mirrorsink_mirroring] WHERE [tenant] = @p1 AND [tablename] = @p2
-- @p1 = "Cust1", @p2 = "contact";

SELECT [tenant], [tablename], [lsn], [schemahash], [schemajson], [schemachanged], [lastapplied], [lostobjects], [storedin], [conflict] FROM [analytics].[mirrorsink_mirroring] WHERE [tablename] = @p1 AND [tenant] = @p2
-- @p1 = "contact", @p2 = "*";

SELECT [schemahash], [storedin], COUNT(*), MIN([tenant]) FROM [analytics].[mirrorsink_mirroring] WHERE ([tablename] = @p1 AND [tablename] COLLATE Latin1_General_100_BIN2 = @p2) AND [tenant] NOT IN (@p3,@p4) GROUP BY [schemahash], [storedin]
-- @p1 = "contact", @p2 = "contact", @p3 = "Cust1", @p4 = "*";

SELECT [tablename], [schemajson] FROM [analytics].[mirrorsink_mirroring] WHERE ([tablename] = @p1 AND [tablename] COLLATE Latin1_General_100_BIN2 = @p2) AND [tenant] = @p3
-- @p1 = "contact", @p2 = "contact", @p3 = "Cust2";

-- store the shared table's definition: an update first, else an insert
UPDATE [analytics].[mirrorsink_mirroring] SET [tablename] = @p1, [lsn] = @p2, [schemahash] = @p3, [schemajson] = @p4, [schemachanged] = @p5, [lostobjects] = @p6, [storedin] = @p7, [conflict] = @p8 WHERE [tablename] = @p9 AND [tenant] = @p10
-- @p1 = "contact", @p2 = -1, @p3 = "def", @p4 = "{}", @p5 = 2026-05-18T10:40:43.123456Z, @p6 = "", @p7 = "", @p8 = "", @p9 = "contact", @p10 = "*";

INSERT INTO [analytics].[mirrorsink_mirroring] ([tablename],[lsn],[schemahash],[schemajson],[schemachanged],[lostobjects],[tenant],[storedin],[conflict]) VALUES (@p1,@p2,@p3,@p4,@p5,@p6,@p7,@p8,@p9)
-- @p1 = "contact", @p2 = -1, @p3 = "def", @p4 = "{}", @p5 = 2026-05-18T10:40:43.123456Z, @p6 = "", @p7 = "*", @p8 = "", @p9 = "";

-- a shared table that is gone takes its definition and its tenants' rows
DELETE FROM [analytics].[mirrorsink_mirroring] WHERE [tablename] COLLATE Latin1_General_100_BIN2 = @p1 AND [storedin] = @p2
-- @p1 = "contact", @p2 = "";

