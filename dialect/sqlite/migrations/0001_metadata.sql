CREATE TABLE IF NOT EXISTS {{migrations}} (
    version INTEGER PRIMARY KEY,
    applied TEXT NOT NULL
)
--;
CREATE TABLE IF NOT EXISTS {{meta}} (
    tablename TEXT PRIMARY KEY,
    lsn INTEGER NOT NULL,
    schemahash TEXT NOT NULL,
    schemajson TEXT NOT NULL,
    schemachanged TEXT NOT NULL,
    lastapplied TEXT NULL
)
--;
CREATE TABLE IF NOT EXISTS {{cycles}} (
    id INTEGER PRIMARY KEY,
    completed TEXT NOT NULL,
    tables INTEGER NOT NULL,
    inserts INTEGER NOT NULL,
    updates INTEGER NOT NULL,
    deletes INTEGER NOT NULL,
    summary TEXT NOT NULL
)
