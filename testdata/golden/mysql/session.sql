-- database
CREATE DATABASE IF NOT EXISTS `crm_Cust12345` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;

-- session: the DSN crm:secret@tcp(db:3306)/crm_Cust12345?sql_mode=ANSI_QUOTES&charset=latin1&mirrorsinkLockTimeout=30s&allowAllFiles=true as connected
-- crm:secret@tcp(db:3306)/crm_Cust12345?clientFoundRows=true&charset=utf8mb4&collation=utf8mb4_bin&interpolateParams=true&parseTime=true&max_error_count=64&sql_mode=%27STRICT_ALL_TABLES%2CSTRICT_TRANS_TABLES%2CNO_ZERO_DATE%2CNO_ZERO_IN_DATE%2CERROR_FOR_DIVISION_BY_ZERO%2CNO_ENGINE_SUBSTITUTION%27&time_zone=%27%2B00%3A00%27
-- lock timeout: 30s
-- after DDL
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;

START TRANSACTION;

-- savepoints
SAVEPOINT `mirrorsink_sp1`;

ROLLBACK TO SAVEPOINT `mirrorsink_sp1`;

-- lock, and its release when the transaction ends
SELECT GET_LOCK(?, ?);

DO RELEASE_LOCK(?);

-- lock names: mirrorsink:07128a58e8bbe2e51f3c385fd6477bbfa070e726, mirrorsink:8a3c3fb01fabe9e3919c93e6ff4aad2df3c078d6
-- read back
SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME = ?;

SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?;

SHOW WARNINGS LIMIT 20;

