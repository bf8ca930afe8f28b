CREATE TABLE IF NOT EXISTS {{pause}} (
    id integer PRIMARY KEY,
    pausedby varchar(200) NOT NULL,
    pausedat timestamp(6) NOT NULL,
    reason text NOT NULL
)
--;
CREATE TABLE IF NOT EXISTS {{failures}} (
    id bigint PRIMARY KEY,
    failedat timestamp(6) NOT NULL,
    operation varchar(64) NOT NULL,
    tablename varchar(128) NOT NULL,
    errorclass varchar(32) NOT NULL,
    message text NOT NULL
)
