-- lock, @p1 = the resource, @p2 = the timeout in ms
DECLARE @rc int;
EXEC @rc = sp_getapplock @Resource = @p1, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = @p2;
SELECT @rc;

-- savepoint
SAVE TRANSACTION sp_mirrorsink_sp1;

-- rollback to savepoint
ROLLBACK TRANSACTION sp_mirrorsink_sp1;

-- savepoint with a hostile name
SAVE TRANSACTION sph_192e88fc70c4b1cb9e0b343b2882;

-- rollback to a hostile savepoint
ROLLBACK TRANSACTION sph_192e88fc70c4b1cb9e0b343b2882;

-- create database, on master, @p1 = the name
IF DB_ID(@p1) IS NULL CREATE DATABASE [Cust10195];

-- create database, hostile name
IF DB_ID(@p1) IS NULL CREATE DATABASE [Cust]]'; --];

-- database state, @p1 = the name
SELECT CONVERT(nvarchar(60), DATABASEPROPERTYEX(@p1, 'Status'));

-- create schema, @p1 = the name
IF SCHEMA_ID(@p1) IS NULL EXEC(N'CREATE SCHEMA [Cust10195]');

-- create schema, hostile name
IF SCHEMA_ID(@p1) IS NULL EXEC(N'CREATE SCHEMA [Cust]]''; --]');

-- case sensitivity of the database's names
SELECT CASE WHEN N'a' = N'A' COLLATE DATABASE_DEFAULT THEN 0 ELSE 1 END;

-- code pages of a table's columns, @p1 = the table
SELECT c.name, CONVERT(int, COLLATIONPROPERTY(c.collation_name, 'CodePage')) FROM sys.columns AS c WHERE c.object_id = OBJECT_ID(@p1, N'U') AND c.collation_name IS NOT NULL;

-- code page of the database
SELECT CONVERT(int, COLLATIONPROPERTY(CONVERT(nvarchar(128), DATABASEPROPERTYEX(DB_NAME(), 'Collation')), 'CodePage'));

-- drop the default of a column of a table whose name holds ] and '
DECLARE @df sysname = (SELECT dc.name FROM sys.default_constraints AS dc JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id WHERE dc.parent_object_id = OBJECT_ID(N'[tenant one].[Order Details]]; DROP TABLE [x]] --'']', N'U') AND c.name = N'quote''single]');
IF @df IS NOT NULL
BEGIN
    DECLARE @stmt nvarchar(max) = N'ALTER TABLE [tenant one].[Order Details]]; DROP TABLE [x]] --''] DROP CONSTRAINT ' + QUOTENAME(@df);
    EXEC sp_executesql @stmt;
END;

-- drop that table
IF OBJECT_ID(N'[tenant one].[Order Details]]; DROP TABLE [x]] --'']', N'U') IS NOT NULL DROP TABLE [tenant one].[Order Details]]; DROP TABLE [x]] --'];

-- a tenant with a database of its own: names unqualified
CREATE TABLE [EmployeeTerritories] (
    [EmployeeID] int NOT NULL,
    [Territory] nvarchar(20) NULL,
    CONSTRAINT [PK_EmployeeTerritories_0b1cb16c] PRIMARY KEY CLUSTERED ([EmployeeID])
);

UPDATE tgt SET tgt.[Territory] = src.[Territory]
FROM [EmployeeTerritories] AS tgt WITH (UPDLOCK, HOLDLOCK)
INNER JOIN [#mirrorsink_stage] AS src ON tgt.[EmployeeID] = src.[EmployeeID];

INSERT INTO [EmployeeTerritories] ([EmployeeID], [Territory])
SELECT src.[EmployeeID], src.[Territory]
FROM [#mirrorsink_stage] AS src
WHERE NOT EXISTS (SELECT 1 FROM [EmployeeTerritories] AS tgt WITH (UPDLOCK, HOLDLOCK) WHERE tgt.[EmployeeID] = src.[EmployeeID]);

IF OBJECT_ID(N'[EmployeeTerritories]', N'U') IS NOT NULL DROP TABLE [EmployeeTerritories];

