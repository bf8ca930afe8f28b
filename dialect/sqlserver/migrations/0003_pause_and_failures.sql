IF OBJECT_ID({{pause_literal}}, N'U') IS NULL
CREATE TABLE {{pause}} (
    id int NOT NULL PRIMARY KEY,
    pausedby nvarchar(200) NOT NULL,
    pausedat datetime2(6) NOT NULL,
    reason nvarchar(max) NOT NULL
)
--;
IF OBJECT_ID({{failures_literal}}, N'U') IS NULL
CREATE TABLE {{failures}} (
    id bigint NOT NULL PRIMARY KEY,
    failedat datetime2(6) NOT NULL,
    operation nvarchar(64) NOT NULL,
    tablename nvarchar(128) NOT NULL,
    errorclass nvarchar(32) NOT NULL,
    message nvarchar(max) NOT NULL
)
