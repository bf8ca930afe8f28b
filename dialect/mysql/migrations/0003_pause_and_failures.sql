CREATE TABLE IF NOT EXISTS {{pause}} (
    id integer PRIMARY KEY,
    pausedby varchar(200) NOT NULL,
    pausedat datetime(6) NOT NULL,
    reason text NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
--;
CREATE TABLE IF NOT EXISTS {{failures}} (
    id bigint PRIMARY KEY,
    failedat datetime(6) NOT NULL,
    operation varchar(64) NOT NULL,
    tablename varchar(128) NOT NULL,
    errorclass varchar(32) NOT NULL,
    message text NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
