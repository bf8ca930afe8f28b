-- only if per_tenant
CREATE TABLE IF NOT EXISTS {{changes}} (
    seq bigint PRIMARY KEY,
    tablename varchar(128) NOT NULL,
    rowkey jsonb NULL,
    op char(1) NOT NULL,
    lsn bigint NULL,
    aftercycle bigint NOT NULL,
    appliedat timestamp(6) NOT NULL
)
--;
-- only if per_tenant
CREATE TABLE IF NOT EXISTS {{changes_seq}} (
    id integer PRIMARY KEY,
    lastseq bigint NOT NULL
)
--;
-- only if fan_in
CREATE TABLE IF NOT EXISTS {{changes}} (
    tenant varchar(50) COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    tablename varchar(128) NOT NULL,
    rowkey jsonb NULL,
    op char(1) NOT NULL,
    lsn bigint NULL,
    aftercycle bigint NOT NULL,
    appliedat timestamp(6) NOT NULL,
    PRIMARY KEY (tenant, seq)
)
--;
-- only if fan_in
CREATE TABLE IF NOT EXISTS {{changes_seq}} (
    tenant varchar(50) COLLATE "C" NOT NULL,
    id integer NOT NULL,
    lastseq bigint NOT NULL,
    PRIMARY KEY (tenant, id)
)
--;
-- only if citus
SELECT create_distributed_table({{changes_literal}}, 'tenant', colocate_with => {{meta_literal}})
--;
-- only if citus
SELECT create_distributed_table({{changes_seq_literal}}, 'tenant', colocate_with => {{meta_literal}})
