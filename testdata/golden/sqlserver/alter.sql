-- add column with default
ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --'] ADD [new col] datetime2(3) NOT NULL CONSTRAINT [DF_Order Details]]; DROP TABLE [x]] --'_new col_86a8ea4d] DEFAULT (sysdatetime());

-- add nullable column
ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --'] ADD [n]]ull] nvarchar(max) NULL;

-- drop column
DECLARE @df sysname = (SELECT dc.name FROM sys.default_constraints AS dc JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id WHERE dc.parent_object_id = OBJECT_ID(N'[tenant].[Order Details]]; DROP TABLE [x]] --'']', N'U') AND c.name = N'quote''single');
IF @df IS NOT NULL EXEC(N'ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --''] DROP CONSTRAINT ' + QUOTENAME(@df));
ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --'] DROP COLUMN [quote'single];

-- alter type (widening)
DECLARE @df sysname = (SELECT dc.name FROM sys.default_constraints AS dc JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id WHERE dc.parent_object_id = OBJECT_ID(N'[tenant].[Order Details]]; DROP TABLE [x]] --'']', N'U') AND c.name = N'select');
IF @df IS NOT NULL EXEC(N'ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --''] DROP CONSTRAINT ' + QUOTENAME(@df));
ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --'] ALTER COLUMN [select] bigint NULL;

-- alter type of a column with a default
DECLARE @df sysname = (SELECT dc.name FROM sys.default_constraints AS dc JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id WHERE dc.parent_object_id = OBJECT_ID(N'[tenant].[Order Details]]; DROP TABLE [x]] --'']', N'U') AND c.name = N'group');
IF @df IS NOT NULL EXEC(N'ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --''] DROP CONSTRAINT ' + QUOTENAME(@df));
ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --'] ALTER COLUMN [group] nvarchar(200) NULL;
ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --'] ADD CONSTRAINT [DF_Order Details]]; DROP TABLE [x]] --'_group_255ff64a] DEFAULT (N'it''s') FOR [group];

-- alter nullability
DECLARE @df sysname = (SELECT dc.name FROM sys.default_constraints AS dc JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id WHERE dc.parent_object_id = OBJECT_ID(N'[tenant].[Order Details]]; DROP TABLE [x]] --'']', N'U') AND c.name = N'MixedCase');
IF @df IS NOT NULL EXEC(N'ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --''] DROP CONSTRAINT ' + QUOTENAME(@df));
ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --'] ALTER COLUMN [MixedCase] int NOT NULL;

-- set default
DECLARE @df sysname = (SELECT dc.name FROM sys.default_constraints AS dc JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id WHERE dc.parent_object_id = OBJECT_ID(N'[tenant].[Order Details]]; DROP TABLE [x]] --'']', N'U') AND c.name = N'select');
IF @df IS NOT NULL EXEC(N'ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --''] DROP CONSTRAINT ' + QUOTENAME(@df));
ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --'] ADD CONSTRAINT [DF_Order Details]]; DROP TABLE [x]] --'_select_3f0c8823] DEFAULT (42) FOR [select];

-- drop default
DECLARE @df sysname = (SELECT dc.name FROM sys.default_constraints AS dc JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id WHERE dc.parent_object_id = OBJECT_ID(N'[tenant].[Order Details]]; DROP TABLE [x]] --'']', N'U') AND c.name = N'select');
IF @df IS NOT NULL EXEC(N'ALTER TABLE [tenant].[Order Details]]; DROP TABLE [x]] --''] DROP CONSTRAINT ' + QUOTENAME(@df));

-- has rows
SELECT TOP (1) 1 FROM [tenant].[Order Details]]; DROP TABLE [x]] --'];

