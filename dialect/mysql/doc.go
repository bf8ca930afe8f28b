// Package mysql is the MySQL 8 / MariaDB 10.6+ target of mirrorsink, on github.com/go-sql-driver/mysql.
//
// Each tenant gets a database of its own (the DSN names it; Open creates it with utf8mb4_bin on first
// use). MySQL has no schemas apart from databases, so OpenOptions.Schema is refused. Every session runs
// with time_zone '+00:00', a strict sql_mode (STRICT_ALL_TABLES, NO_ZERO_DATE, no
// NO_BACKSLASH_ESCAPES), utf8mb4/utf8mb4_bin and parseTime with UTC, whatever the DSN says.
//
// # Types
//
// Types follow docs/TYPES.md. Two losses are documented there and here: times carry microseconds
// (100 ns values are rounded half up), and datetimeoffset is stored as a naive datetime holding the
// UTC instant, so the original offset is lost. Dates before year 1000 are refused with a
// *dialect.ValueError, because MySQL does not hold them reliably.
//
// InnoDB limits a row to 65,535 bytes (utf8mb4 varchar(n) reserves 4n+2 of them) and the part of a row
// kept on its page to about 8,126 bytes. PlanTable keeps varchar(n) for key columns and while both
// budgets last, and moves the longest other varchar/varbinary columns to text/mediumtext/blob, in a
// deterministic order (length descending, then column position), so that an unchanged schema gives
// unchanged DDL. Key columns must fit InnoDB's 3,072-byte index key limit; a longer key is an error.
//
// # Bulk path
//
// Rows travel as tab-separated text through LOAD DATA LOCAL INFILE 'Reader::…', fed by an io.Pipe
// from a goroutine that encodes the RowSource (no temporary files; allowAllFiles stays off). Binary
// columns travel as hex into user variables and are converted with UNHEX. LOAD DATA LOCAL turns
// duplicate keys and bad values into warnings even in strict mode, so every load checks that the
// server raised no warning and stored exactly the rows sent; a duplicate key becomes
// dialect.ErrDuplicateKey and a bad value a *dialect.ValueError. BulkInsert loads straight into the
// table inside a savepoint of its own, which undoes a failed load; loading a staging table and moving
// it with INSERT … SELECT would give the same guarantees for about 1.5 times the time. Upsert and
// Delete load into a temporary staging table that has the table's primary key and apply one set-based
// statement in key order (INSERT … SELECT … ORDER BY key ON DUPLICATE KEY UPDATE c = VALUES(c), which
// both MySQL 8 and MariaDB accept; DELETE t FROM t JOIN staging). Measured and rejected: UPDATE t JOIN
// staging followed by INSERT … WHERE NOT EXISTS (slower: MariaDB buffers the multi-table update and
// materialises the self-referencing insert), and DELETE … WHERE key IN (SELECT …) (ten times slower). The server must allow LOCAL INFILE (SET GLOBAL local_infile = 1; MySQL 8 ships with it
// off); the driver's allowAllFiles stays off because no file is read.
//
// # Transactions
//
// MySQL commits implicitly before and after DDL: CreateTable, AlterTable and DropTable commit what the
// transaction did so far, and this package starts a new transaction right after them so that the rest
// of the Tx stays atomic. The engine orders its metadata writes so that this is safe (DDL first, then
// data and LSN together). Savepoints do not survive such a statement. Truncate uses DELETE FROM, which
// is transactional, rather than TRUNCATE TABLE, which would commit implicitly; CREATE/DROP TEMPORARY
// TABLE (the staging tables) do not commit.
//
// Transactions run at READ COMMITTED: under REPEATABLE READ, two tables' transactions that look for a
// missing metadata row and then insert it deadlock on InnoDB gap locks. Exec reports the rows a
// statement matched (CLIENT_FOUND_ROWS), not only those it changed, as the other dialects do. Query
// reads through prepared statements (the binary protocol), because the text protocol prints FLOAT
// columns with six significant digits.
//
// Lock uses GET_LOCK, which belongs to the session rather than the transaction: the Tx holds one
// connection for its whole life and releases its locks after Commit or Rollback (a connection whose
// release fails is discarded, which frees its locks on the server).
package mysql
