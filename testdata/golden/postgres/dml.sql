-- staging for upsert of defaults
CREATE TEMP TABLE "mirrorsink_stage_1" ON COMMIT DROP AS SELECT "tenant", "id", "d_bit1", "d_bit0", "d_int", "d_neg", "d_dec", "d_money_str", "d_float", "d_str", "d_quote", "d_strnum", "d_date", "d_date_compact", "d_datetime_zero", "d_time", "d_dto", "d_now", "d_utcnow", "d_sysnow", "d_nowoffset", "d_newid", "d_uuid_lit", "d_null", "d_bin", "d_unsupported", "d_now_on_int", "d_bad_date", "d_bad_number" FROM "defaults" WITH NO DATA;

-- upsert defaults
INSERT INTO "defaults" ("tenant", "id", "d_bit1", "d_bit0", "d_int", "d_neg", "d_dec", "d_money_str", "d_float", "d_str", "d_quote", "d_strnum", "d_date", "d_date_compact", "d_datetime_zero", "d_time", "d_dto", "d_now", "d_utcnow", "d_sysnow", "d_nowoffset", "d_newid", "d_uuid_lit", "d_null", "d_bin", "d_unsupported", "d_now_on_int", "d_bad_date", "d_bad_number") SELECT "tenant", "id", "d_bit1", "d_bit0", "d_int", "d_neg", "d_dec", "d_money_str", "d_float", "d_str", "d_quote", "d_strnum", "d_date", "d_date_compact", "d_datetime_zero", "d_time", "d_dto", "d_now", "d_utcnow", "d_sysnow", "d_nowoffset", "d_newid", "d_uuid_lit", "d_null", "d_bin", "d_unsupported", "d_now_on_int", "d_bad_date", "d_bad_number" FROM pg_temp."mirrorsink_stage_1" ORDER BY "tenant", "id" ON CONFLICT ("tenant", "id") DO UPDATE SET "d_bit1" = EXCLUDED."d_bit1", "d_bit0" = EXCLUDED."d_bit0", "d_int" = EXCLUDED."d_int", "d_neg" = EXCLUDED."d_neg", "d_dec" = EXCLUDED."d_dec", "d_money_str" = EXCLUDED."d_money_str", "d_float" = EXCLUDED."d_float", "d_str" = EXCLUDED."d_str", "d_quote" = EXCLUDED."d_quote", "d_strnum" = EXCLUDED."d_strnum", "d_date" = EXCLUDED."d_date", "d_date_compact" = EXCLUDED."d_date_compact", "d_datetime_zero" = EXCLUDED."d_datetime_zero", "d_time" = EXCLUDED."d_time", "d_dto" = EXCLUDED."d_dto", "d_now" = EXCLUDED."d_now", "d_utcnow" = EXCLUDED."d_utcnow", "d_sysnow" = EXCLUDED."d_sysnow", "d_nowoffset" = EXCLUDED."d_nowoffset", "d_newid" = EXCLUDED."d_newid", "d_uuid_lit" = EXCLUDED."d_uuid_lit", "d_null" = EXCLUDED."d_null", "d_bin" = EXCLUDED."d_bin", "d_unsupported" = EXCLUDED."d_unsupported", "d_now_on_int" = EXCLUDED."d_now_on_int", "d_bad_date" = EXCLUDED."d_bad_date", "d_bad_number" = EXCLUDED."d_bad_number";

-- staging for delete from defaults
CREATE TEMP TABLE "mirrorsink_stage_2" ON COMMIT DROP AS SELECT "tenant", "id" FROM "defaults" WITH NO DATA;

-- delete defaults
DELETE FROM "defaults" AS t USING pg_temp."mirrorsink_stage_2" AS s WHERE t."tenant" = s."tenant" AND t."id" = s."id";

-- drop staging
DROP TABLE IF EXISTS pg_temp."mirrorsink_stage_2";

-- truncate defaults
TRUNCATE TABLE "defaults";

-- drop defaults
DROP TABLE IF EXISTS "defaults";

-- staging for upsert of Order "Lines"; DROP
CREATE TEMP TABLE "mirrorsink_stage_1" ON COMMIT DROP AS SELECT "user", "order", "group", "select", "MixedCase", "with space", "quote""inside", "back`tick", "[bracket]", "ünïcödé 名前", "semi;colon--", "'single'", "a:b, column c", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" FROM "Order ""Lines""; DROP" WITH NO DATA;

-- upsert Order "Lines"; DROP
INSERT INTO "Order ""Lines""; DROP" ("user", "order", "group", "select", "MixedCase", "with space", "quote""inside", "back`tick", "[bracket]", "ünïcödé 名前", "semi;colon--", "'single'", "a:b, column c", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx") SELECT "user", "order", "group", "select", "MixedCase", "with space", "quote""inside", "back`tick", "[bracket]", "ünïcödé 名前", "semi;colon--", "'single'", "a:b, column c", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" FROM pg_temp."mirrorsink_stage_1" ORDER BY "order", "user" ON CONFLICT ("order", "user") DO UPDATE SET "group" = EXCLUDED."group", "select" = EXCLUDED."select", "MixedCase" = EXCLUDED."MixedCase", "with space" = EXCLUDED."with space", "quote""inside" = EXCLUDED."quote""inside", "back`tick" = EXCLUDED."back`tick", "[bracket]" = EXCLUDED."[bracket]", "ünïcödé 名前" = EXCLUDED."ünïcödé 名前", "semi;colon--" = EXCLUDED."semi;colon--", "'single'" = EXCLUDED."'single'", "a:b, column c" = EXCLUDED."a:b, column c", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" = EXCLUDED."xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

-- staging for delete from Order "Lines"; DROP
CREATE TEMP TABLE "mirrorsink_stage_2" ON COMMIT DROP AS SELECT "order", "user" FROM "Order ""Lines""; DROP" WITH NO DATA;

-- delete Order "Lines"; DROP
DELETE FROM "Order ""Lines""; DROP" AS t USING pg_temp."mirrorsink_stage_2" AS s WHERE t."order" = s."order" AND t."user" = s."user";

-- drop staging
DROP TABLE IF EXISTS pg_temp."mirrorsink_stage_2";

-- truncate Order "Lines"; DROP
TRUNCATE TABLE "Order ""Lines""; DROP";

-- drop Order "Lines"; DROP
DROP TABLE IF EXISTS "Order ""Lines""; DROP";

-- upsert of a table whose columns are all key columns
INSERT INTO "link" ("a", "b") SELECT "a", "b" FROM pg_temp."mirrorsink_stage_3" ORDER BY "a", "b" ON CONFLICT ("a", "b") DO NOTHING;

-- lock
SELECT pg_advisory_xact_lock($1);

-- table exists
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relkind IN ('r', 'p'));

-- fast commit
SET LOCAL synchronous_commit = off;

