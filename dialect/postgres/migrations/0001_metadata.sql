CREATE TABLE IF NOT EXISTS {{migrations}} (
    version integer PRIMARY KEY,
    applied timestamp(6) NOT NULL
)
--;
CREATE TABLE IF NOT EXISTS {{meta}} (
    tablename varchar(128) PRIMARY KEY,
    lsn bigint NOT NULL,
    schemahash char(64) NOT NULL,
    schemajson text NOT NULL,
    schemachanged timestamp(6) NOT NULL,
    lastapplied timestamp(6) NULL
)
--;
CREATE TABLE IF NOT EXISTS {{cycles}} (
    id bigint PRIMARY KEY,
    completed timestamp(6) NOT NULL,
    tables integer NOT NULL,
    inserts bigint NOT NULL,
    updates bigint NOT NULL,
    deletes bigint NOT NULL,
    summary text NOT NULL
)
