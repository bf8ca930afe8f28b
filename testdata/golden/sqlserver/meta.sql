-- migrate a new mirror
IF OBJECT_ID(N'[tenant''s ]]one].[Cust1_mirroring_migrations]', N'U') IS NULL
CREATE TABLE [tenant's ]]one].[Cust1_mirroring_migrations] (
    version int NOT NULL PRIMARY KEY,
    applied datetime2(6) NOT NULL
);

IF OBJECT_ID(N'[tenant''s ]]one].[Cust1_mirroring]', N'U') IS NULL
CREATE TABLE [tenant's ]]one].[Cust1_mirroring] (
    tablename nvarchar(128) NOT NULL PRIMARY KEY,
    lsn bigint NOT NULL,
    schemahash char(64) NOT NULL,
    schemajson nvarchar(max) NOT NULL,
    schemachanged datetime2(6) NOT NULL,
    lastapplied datetime2(6) NULL
);

IF OBJECT_ID(N'[tenant''s ]]one].[Cust1_mirroring_cycles]', N'U') IS NULL
CREATE TABLE [tenant's ]]one].[Cust1_mirroring_cycles] (
    id bigint NOT NULL PRIMARY KEY,
    completed datetime2(6) NOT NULL,
    tables int NOT NULL,
    inserts bigint NOT NULL,
    updates bigint NOT NULL,
    deletes bigint NOT NULL,
    summary nvarchar(max) NOT NULL
);

SELECT [version] FROM [tenant's ]]one].[Cust1_mirroring_migrations];

INSERT INTO [tenant's ]]one].[Cust1_mirroring_migrations] ([version],[applied]) VALUES (@p1,@p2)
-- @p1 = 1, @p2 = 2026-05-18T10:40:43.123456Z;

IF COL_LENGTH(N'[tenant''s ]]one].[Cust1_mirroring]', N'lostobjects') IS NULL
ALTER TABLE [tenant's ]]one].[Cust1_mirroring] ADD lostobjects nvarchar(max) NOT NULL DEFAULT N'';

INSERT INTO [tenant's ]]one].[Cust1_mirroring_migrations] ([version],[applied]) VALUES (@p1,@p2)
-- @p1 = 2, @p2 = 2026-05-18T10:40:43.123456Z;

IF OBJECT_ID(N'[tenant''s ]]one].[Cust1_mirroring_pause]', N'U') IS NULL
CREATE TABLE [tenant's ]]one].[Cust1_mirroring_pause] (
    id int NOT NULL PRIMARY KEY,
    pausedby nvarchar(200) NOT NULL,
    pausedat datetime2(6) NOT NULL,
    reason nvarchar(max) NOT NULL
);

IF OBJECT_ID(N'[tenant''s ]]one].[Cust1_mirroring_failures]', N'U') IS NULL
CREATE TABLE [tenant's ]]one].[Cust1_mirroring_failures] (
    id bigint NOT NULL PRIMARY KEY,
    failedat datetime2(6) NOT NULL,
    operation nvarchar(64) NOT NULL,
    tablename nvarchar(128) NOT NULL,
    errorclass nvarchar(32) NOT NULL,
    message nvarchar(max) NOT NULL
);

INSERT INTO [tenant's ]]one].[Cust1_mirroring_migrations] ([version],[applied]) VALUES (@p1,@p2)
-- @p1 = 3, @p2 = 2026-05-18T10:40:43.123456Z;

INSERT INTO [tenant's ]]one].[Cust1_mirroring_migrations] ([version],[applied]) VALUES (@p1,@p2)
-- @p1 = 4, @p2 = 2026-05-18T10:40:43.123456Z;

IF OBJECT_ID(N'[tenant''s ]]one].[Cust1_changes]', N'U') IS NULL
CREATE TABLE [tenant's ]]one].[Cust1_changes] (
    seq bigint NOT NULL PRIMARY KEY,
    tablename nvarchar(128) NOT NULL,
    rowkey nvarchar(max) NULL,
    op nchar(1) NOT NULL,
    lsn bigint NULL,
    aftercycle bigint NOT NULL,
    appliedat datetime2(6) NOT NULL
);

IF OBJECT_ID(N'[tenant''s ]]one].[Cust1_changes_seq]', N'U') IS NULL
CREATE TABLE [tenant's ]]one].[Cust1_changes_seq] (
    id int NOT NULL PRIMARY KEY,
    lastseq bigint NOT NULL
);

INSERT INTO [tenant's ]]one].[Cust1_mirroring_migrations] ([version],[applied]) VALUES (@p1,@p2)
-- @p1 = 5, @p2 = 2026-05-18T10:40:43.123456Z;

SELECT COUNT(*) FROM [tenant's ]]one].[Cust1_changes_seq] WHERE [id] = @p1
-- @p1 = 1;

SELECT COALESCE(MAX([seq]), 0) FROM [tenant's ]]one].[Cust1_changes];

INSERT INTO [tenant's ]]one].[Cust1_changes_seq] ([id],[lastseq]) VALUES (@p1,@p2)
-- @p1 = 1, @p2 = 0;

-- pause a tenant that is not paused: no row to update, so one is inserted
UPDATE [tenant's ]]one].[Cust1_mirroring_pause] SET [pausedby] = @p1, [pausedat] = @p2, [reason] = @p3 WHERE [id] = @p4
-- @p1 = "ops@host", @p2 = 2026-05-18T10:40:43.123456Z, @p3 = "maintenance", @p4 = 1;

INSERT INTO [tenant's ]]one].[Cust1_mirroring_pause] ([id],[pausedby],[pausedat],[reason]) VALUES (@p1,@p2,@p3,@p4)
-- @p1 = 1, @p2 = "ops@host", @p3 = 2026-05-18T10:40:43.123456Z, @p4 = "maintenance";

-- read the pause
SELECT [pausedby], [pausedat], [reason] FROM [tenant's ]]one].[Cust1_mirroring_pause] WHERE [id] = @p1
-- @p1 = 1;

-- resume
DELETE FROM [tenant's ]]one].[Cust1_mirroring_pause] WHERE [id] = @p1
-- @p1 = 1;

-- record a failure; the log is within its bound
INSERT INTO [tenant's ]]one].[Cust1_mirroring_failures] ([id],[failedat],[operation],[tablename],[errorclass],[message]) VALUES (@p1,@p2,@p3,@p4,@p5,@p6)
-- @p1 = 42, @p2 = 2026-05-18T10:40:43.123456Z, @p3 = "RowData", @p4 = "contact", @p5 = "value", @p6 = "column \"x\", row 1: …";

SELECT COUNT(*) FROM [tenant's ]]one].[Cust1_mirroring_failures];

-- record a failure; the log is pruned to its bound
INSERT INTO [tenant's ]]one].[Cust1_mirroring_failures] ([id],[failedat],[operation],[tablename],[errorclass],[message]) VALUES (@p1,@p2,@p3,@p4,@p5,@p6)
-- @p1 = 43, @p2 = 2026-05-18T10:40:43.123456Z, @p3 = "Wipe", @p4 = "", @p5 = "timeout", @p6 = "it took too long";

SELECT COUNT(*) FROM [tenant's ]]one].[Cust1_mirroring_failures];

SELECT [id] FROM [tenant's ]]one].[Cust1_mirroring_failures] ORDER BY [id] DESC;

DELETE FROM [tenant's ]]one].[Cust1_mirroring_failures] WHERE [id] < @p1
-- @p1 = 91;

-- read the newest failures
SELECT [id], [failedat], [operation], [tablename], [errorclass], [message] FROM [tenant's ]]one].[Cust1_mirroring_failures] ORDER BY [id] DESC;

-- store a table's row: an update first (which renames a row spelled in another case), else an insert
UPDATE [tenant's ]]one].[Cust1_mirroring] SET [tablename] = @p1, [lsn] = @p2, [schemahash] = @p3, [schemajson] = @p4, [schemachanged] = @p5, [lostobjects] = @p6 WHERE [tablename] = @p7
-- @p1 = "Contact", @p2 = -1, @p3 = "abc", @p4 = "{}", @p5 = 2026-05-18T10:40:43.123456Z, @p6 = "", @p7 = "Contact";

INSERT INTO [tenant's ]]one].[Cust1_mirroring] ([tablename],[lsn],[schemahash],[schemajson],[schemachanged],[lostobjects]) VALUES (@p1,@p2,@p3,@p4,@p5,@p6)
-- @p1 = "Contact", @p2 = -1, @p3 = "abc", @p4 = "{}", @p5 = 2026-05-18T10:40:43.123456Z, @p6 = "";

-- record a batch and its LSN
UPDATE [tenant's ]]one].[Cust1_mirroring] SET [lastapplied] = @p1, [lsn] = @p2 WHERE [tablename] = @p3
-- @p1 = 2026-05-18T10:40:43.123456Z, @p2 = 500, @p3 = "Contact";

-- mark every table for repopulation
UPDATE [tenant's ]]one].[Cust1_mirroring] SET [lsn] = @p1
-- @p1 = -1;

-- delete a table's row, under its exact name only (the collation compares names without case)
DELETE FROM [tenant's ]]one].[Cust1_mirroring] WHERE [tablename] COLLATE Latin1_General_100_BIN2 = @p1
-- @p1 = "contact";

-- read the last cycle
SELECT [id], [completed], [tables], [inserts], [updates], [deletes], [summary] FROM [tenant's ]]one].[Cust1_mirroring_cycles] WHERE [id] = (SELECT MAX([id]) FROM [tenant's ]]one].[Cust1_mirroring_cycles]);

-- journal a batch: take the tenant's journal lock and numbers with one UPDATE of its counter row, then read the last number and the newest cycle
UPDATE [tenant's ]]one].[Cust1_changes_seq] SET [lastseq] = [lastseq] + @p1 WHERE [id] = @p2
-- @p1 = 3, @p2 = 1;

SELECT [lastseq], (SELECT COALESCE(MAX([id]), 0) FROM [tenant's ]]one].[Cust1_mirroring_cycles]) FROM [tenant's ]]one].[Cust1_changes_seq] WHERE [id] = @p1
-- @p1 = 1;

-- read the journal after a number, in order
SELECT [seq], [tablename], [rowkey], [op], [lsn], [aftercycle], [appliedat] FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] > @p1 ORDER BY [seq]
-- @p1 = 41;

-- prune the journal to its newest 1000 entries (by the counter's last number) and to 30 days
SELECT [lastseq] FROM [tenant's ]]one].[Cust1_changes_seq] WHERE [id] = @p1
-- @p1 = 1;

SELECT [appliedat] FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] >= @p1)
-- @p1 = 4501;

SELECT [appliedat] FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] >= @p1)
-- @p1 = 4251;

SELECT [appliedat] FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] >= @p1)
-- @p1 = 4126;

SELECT [appliedat] FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] >= @p1)
-- @p1 = 4063;

SELECT [appliedat] FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] >= @p1)
-- @p1 = 4032;

SELECT [appliedat] FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] >= @p1)
-- @p1 = 4016;

SELECT [appliedat] FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] >= @p1)
-- @p1 = 4008;

SELECT [appliedat] FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] >= @p1)
-- @p1 = 4004;

SELECT [appliedat] FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] >= @p1)
-- @p1 = 4002;

SELECT [appliedat] FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] = (SELECT MIN([seq]) FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] >= @p1)
-- @p1 = 4001;

DELETE FROM [tenant's ]]one].[Cust1_changes] WHERE [seq] < @p1
-- @p1 = 4001;

