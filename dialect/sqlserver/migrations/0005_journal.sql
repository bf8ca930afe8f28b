-- only if per_tenant
IF OBJECT_ID({{changes_literal}}, N'U') IS NULL
CREATE TABLE {{changes}} (
    seq bigint NOT NULL PRIMARY KEY,
    tablename nvarchar(128) NOT NULL,
    rowkey nvarchar(max) NULL,
    op nchar(1) NOT NULL,
    lsn bigint NULL,
    aftercycle bigint NOT NULL,
    appliedat datetime2(6) NOT NULL
)
--;
-- only if per_tenant
IF OBJECT_ID({{changes_seq_literal}}, N'U') IS NULL
CREATE TABLE {{changes_seq}} (
    id int NOT NULL PRIMARY KEY,
    lastseq bigint NOT NULL
)
--;
-- only if fan_in
IF OBJECT_ID({{changes_literal}}, N'U') IS NULL
CREATE TABLE {{changes}} (
    tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL,
    seq bigint NOT NULL,
    tablename nvarchar(128) NOT NULL,
    rowkey nvarchar(max) NULL,
    op nchar(1) NOT NULL,
    lsn bigint NULL,
    aftercycle bigint NOT NULL,
    appliedat datetime2(6) NOT NULL,
    CONSTRAINT {{changes_pk}} PRIMARY KEY CLUSTERED (tenant, seq)
)
--;
-- only if fan_in
IF OBJECT_ID({{changes_seq_literal}}, N'U') IS NULL
CREATE TABLE {{changes_seq}} (
    tenant nvarchar(50) COLLATE Latin1_General_100_BIN2 NOT NULL,
    id int NOT NULL,
    lastseq bigint NOT NULL,
    CONSTRAINT {{changes_seq_pk}} PRIMARY KEY CLUSTERED (tenant, id)
)
