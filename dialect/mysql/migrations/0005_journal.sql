-- only if per_tenant
CREATE TABLE IF NOT EXISTS {{changes}} (
    seq bigint NOT NULL PRIMARY KEY,
    tablename varchar(128) NOT NULL,
    rowkey json NULL,
    op char(1) NOT NULL,
    lsn bigint NULL,
    aftercycle bigint NOT NULL,
    appliedat datetime(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
--;
-- only if per_tenant
CREATE TABLE IF NOT EXISTS {{changes_seq}} (
    id integer NOT NULL PRIMARY KEY,
    lastseq bigint NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
--;
-- only if fan_in
CREATE TABLE IF NOT EXISTS {{changes}} (
    tenant varchar(50) NOT NULL,
    seq bigint NOT NULL,
    tablename varchar(128) NOT NULL,
    rowkey json NULL,
    op char(1) NOT NULL,
    lsn bigint NULL,
    aftercycle bigint NOT NULL,
    appliedat datetime(6) NOT NULL,
    PRIMARY KEY (tenant, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
--;
-- only if fan_in
CREATE TABLE IF NOT EXISTS {{changes_seq}} (
    tenant varchar(50) NOT NULL,
    id integer NOT NULL,
    lastseq bigint NOT NULL,
    PRIMARY KEY (tenant, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
