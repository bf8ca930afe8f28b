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

-- does the schema exist (1) or not (0), for an open with NoCreate, @p1 = the name
SELECT CASE WHEN SCHEMA_ID(@p1) IS NULL THEN 0 ELSE 1 END;

-- case sensitivity of the database's names
SELECT CASE WHEN N'a' = N'A' COLLATE DATABASE_DEFAULT THEN 0 ELSE 1 END;

-- the login's default schema, which qualifies the names of a tenant with a database of its own
SELECT SCHEMA_NAME();

-- code pages and collations of a table's text columns, @p1 = the table
SELECT c.name, CASE WHEN TYPE_NAME(c.system_type_id) IN (N'nchar', N'nvarchar', N'ntext') THEN -1 ELSE CONVERT(int, COLLATIONPROPERTY(c.collation_name, 'CodePage')) END, c.collation_name FROM sys.columns AS c WHERE c.object_id = OBJECT_ID(@p1, N'U') AND c.collation_name IS NOT NULL;

-- schema-bound views of a table, @p1 = the table
WITH deps (id, depth) AS (
    SELECT d.referencing_id, 1 FROM sys.sql_expression_dependencies AS d
    WHERE d.referenced_id = OBJECT_ID(@p1, N'U') AND d.is_schema_bound_reference = 1
    UNION ALL
    SELECT d.referencing_id, x.depth + 1 FROM deps AS x
    JOIN sys.sql_expression_dependencies AS d ON d.referenced_id = x.id AND d.is_schema_bound_reference = 1
    WHERE x.depth < 32
)
SELECT SCHEMA_NAME(v.schema_id), v.name, m.definition, x.depth
FROM (SELECT id, MAX(depth) AS depth FROM deps GROUP BY id) AS x
JOIN sys.views AS v ON v.object_id = x.id
JOIN sys.sql_modules AS m ON m.object_id = v.object_id
ORDER BY x.depth, v.object_id;

-- indexes of a table or view, @p1 = its name
SELECT i.index_id, i.name, i.type, i.is_unique, i.is_unique_constraint, ISNULL(i.filter_definition, N''),
    c.name, ic.is_descending_key, ic.is_included_column
FROM sys.indexes AS i
JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE i.object_id = OBJECT_ID(@p1) AND i.is_primary_key = 0 AND i.is_hypothetical = 0 AND i.type > 0
ORDER BY i.index_id, ic.is_included_column, ic.key_ordinal, ic.index_column_id;

-- check constraints of a table, @p1 = the table
SELECT cc.name, cc.definition FROM sys.check_constraints AS cc
WHERE cc.parent_object_id = OBJECT_ID(@p1, N'U') ORDER BY cc.object_id;

-- triggers of a table, @p1 = the table
SELECT tr.name, m.definition FROM sys.triggers AS tr
JOIN sys.sql_modules AS m ON m.object_id = tr.object_id
WHERE tr.parent_id = OBJECT_ID(@p1, N'U') ORDER BY tr.object_id;

-- permissions on a table or view and its columns, @p1 = its name
SELECT p.state, p.permission_name, USER_NAME(p.grantee_principal_id), ISNULL(COL_NAME(p.major_id, p.minor_id), N'')
FROM sys.database_permissions AS p
WHERE p.class = 1 AND p.major_id = OBJECT_ID(@p1) AND p.state IN ('G', 'W', 'D') AND USER_NAME(p.grantee_principal_id) IS NOT NULL
ORDER BY p.minor_id, p.permission_name, p.grantee_principal_id;

-- re-create a view or trigger, @p1 = its definition
EXEC sp_executesql @p1;

-- drop the default of a column of a table whose name holds ] and '
DECLARE @df sysname = (SELECT dc.name FROM sys.default_constraints AS dc JOIN sys.columns AS c ON c.object_id = dc.parent_object_id AND c.column_id = dc.parent_column_id WHERE dc.parent_object_id = OBJECT_ID(N'[tenant one].[Order Details]]; DROP TABLE [x]] --'']', N'U') AND c.name = N'quote''single]');
IF @df IS NOT NULL
BEGIN
    DECLARE @stmt nvarchar(max) = N'ALTER TABLE [tenant one].[Order Details]]; DROP TABLE [x]] --''] DROP CONSTRAINT ' + QUOTENAME(@df);
    EXEC sp_executesql @stmt;
END;

-- drop that table
IF OBJECT_ID(N'[tenant one].[Order Details]]; DROP TABLE [x]] --'']', N'U') IS NOT NULL DROP TABLE [tenant one].[Order Details]]; DROP TABLE [x]] --'];

-- a tenant with a database of its own: names qualified with the default schema
CREATE TABLE [dbo].[EmployeeTerritories] (
    [EmployeeID] int NOT NULL,
    [Territory] nvarchar(20) NULL,
    CONSTRAINT [PK_EmployeeTerritories_0b1cb16c] PRIMARY KEY CLUSTERED ([EmployeeID])
);

UPDATE tgt SET tgt.[Territory] = src.[Territory]
FROM [dbo].[EmployeeTerritories] AS tgt WITH (UPDLOCK, HOLDLOCK)
INNER JOIN [#mirrorsink_stage] AS src ON tgt.[EmployeeID] = src.[EmployeeID];

INSERT INTO [dbo].[EmployeeTerritories] ([EmployeeID], [Territory])
SELECT src.[EmployeeID], src.[Territory]
FROM [#mirrorsink_stage] AS src
WHERE NOT EXISTS (SELECT 1 FROM [dbo].[EmployeeTerritories] AS tgt WITH (UPDLOCK, HOLDLOCK) WHERE tgt.[EmployeeID] = src.[EmployeeID]);

IF OBJECT_ID(N'[dbo].[EmployeeTerritories]', N'U') IS NOT NULL DROP TABLE [dbo].[EmployeeTerritories];

