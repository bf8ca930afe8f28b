CREATE TABLE IF NOT EXISTS {{pause}} (
    id INTEGER PRIMARY KEY,
    pausedby TEXT NOT NULL,
    pausedat TEXT NOT NULL,
    reason TEXT NOT NULL
)
--;
CREATE TABLE IF NOT EXISTS {{failures}} (
    id INTEGER PRIMARY KEY,
    failedat TEXT NOT NULL,
    operation TEXT NOT NULL,
    tablename TEXT NOT NULL,
    errorclass TEXT NOT NULL,
    message TEXT NOT NULL
)
