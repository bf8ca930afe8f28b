-- open: a database per tenant, run in the maintenance database when the DSN's is missing
CREATE DATABASE "mirrorsink_Acme";

-- open: which schema the DSN's search_path creates tables in, without OpenOptions.Schema
SELECT current_schema();

-- open: a schema per tenant (OpenOptions.Schema); it is also every connection's search_path
CREATE SCHEMA IF NOT EXISTS "Tenant ""A""";

-- open with NoCreate: does the tenant's schema exist ($1, its name); it is never created
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1);

-- lock: $1 is the FNV-1a 64 hash of the key
SELECT pg_advisory_xact_lock($1);

-- savepoint around Insert, Alter and Count, and the return to it when they fail
SAVEPOINT "mirrorsink_sp1";

ROLLBACK TO SAVEPOINT "mirrorsink_sp1";

-- relaxed commit, before COMMIT
SET LOCAL synchronous_commit = off;

