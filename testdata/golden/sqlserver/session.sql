-- lock
DECLARE @rc int;
EXEC @rc = sp_getapplock @Resource = @p1, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = @p2;
SELECT @rc;

-- savepoint
SAVE TRANSACTION sp_batch;

-- rollback to savepoint
ROLLBACK TRANSACTION sp_batch;

-- savepoint with a hostile name
SAVE TRANSACTION sph_192e88fc70c4b1cb9e0b343b2882;

-- rollback to a hostile savepoint
ROLLBACK TRANSACTION sph_192e88fc70c4b1cb9e0b343b2882;

-- create database
IF DB_ID(@p1) IS NULL CREATE DATABASE [Cust10195];

-- create database, hostile name
IF DB_ID(@p1) IS NULL CREATE DATABASE [Cust]]'; --];

-- database state
SELECT CONVERT(nvarchar(60), DATABASEPROPERTYEX(@p1, 'Status'));

-- create schema
IF SCHEMA_ID(@p1) IS NULL EXEC(N'CREATE SCHEMA [Cust10195]');

-- create schema, hostile name
IF SCHEMA_ID(@p1) IS NULL EXEC(N'CREATE SCHEMA [Cust]]''; --]');

-- column code pages
SELECT c.name, CONVERT(int, COLLATIONPROPERTY(c.collation_name, 'CodePage')) FROM sys.columns AS c WHERE c.object_id = OBJECT_ID(@p1, N'U') AND c.collation_name IS NOT NULL;

-- database code page
SELECT CONVERT(int, COLLATIONPROPERTY(CONVERT(nvarchar(128), DATABASEPROPERTYEX(DB_NAME(), 'Collation')), 'CodePage'));

