CREATE TABLE IF NOT EXISTS {{migrations}} (
    version integer PRIMARY KEY,
    applied datetime(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
--;
CREATE TABLE IF NOT EXISTS {{meta}} (
    tablename varchar(128) NOT NULL PRIMARY KEY,
    lsn bigint NOT NULL,
    schemahash char(64) CHARACTER SET ascii NOT NULL,
    schemajson longtext NOT NULL,
    schemachanged datetime(6) NOT NULL,
    lastapplied datetime(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
--;
CREATE TABLE IF NOT EXISTS {{cycles}} (
    id bigint PRIMARY KEY,
    completed datetime(6) NOT NULL,
    tables integer NOT NULL,
    inserts bigint NOT NULL,
    updates bigint NOT NULL,
    deletes bigint NOT NULL,
    summary longtext NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
