CREATE TABLE IF NOT EXISTS {{changes}} (
    seq INTEGER PRIMARY KEY,
    tablename TEXT NOT NULL,
    rowkey TEXT NULL,
    op TEXT NOT NULL,
    lsn INTEGER NULL,
    aftercycle INTEGER NOT NULL,
    appliedat TEXT NOT NULL
)
--;
CREATE TABLE IF NOT EXISTS {{changes_seq}} (
    id INTEGER PRIMARY KEY,
    lastseq INTEGER NOT NULL
)
