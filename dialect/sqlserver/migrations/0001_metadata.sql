IF OBJECT_ID({{migrations_literal}}, N'U') IS NULL
CREATE TABLE {{migrations}} (
    version int NOT NULL PRIMARY KEY,
    applied datetime2(6) NOT NULL
)
--;
IF OBJECT_ID({{meta_literal}}, N'U') IS NULL
CREATE TABLE {{meta}} (
    tablename nvarchar(128) NOT NULL PRIMARY KEY,
    lsn bigint NOT NULL,
    schemahash char(64) NOT NULL,
    schemajson nvarchar(max) NOT NULL,
    schemachanged datetime2(6) NOT NULL,
    lastapplied datetime2(6) NULL
)
--;
IF OBJECT_ID({{cycles_literal}}, N'U') IS NULL
CREATE TABLE {{cycles}} (
    id bigint NOT NULL PRIMARY KEY,
    completed datetime2(6) NOT NULL,
    tables int NOT NULL,
    inserts bigint NOT NULL,
    updates bigint NOT NULL,
    deletes bigint NOT NULL,
    summary nvarchar(max) NOT NULL
)
