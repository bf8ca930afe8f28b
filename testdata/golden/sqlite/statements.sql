-- insert 3 rows
INSERT INTO "order" ("id", "name", "when") VALUES (?, ?, ?), (?, ?, ?), (?, ?, ?);

-- upsert 2 rows
INSERT INTO "order" ("id", "name", "when") VALUES (?, ?, ?), (?, ?, ?) ON CONFLICT ("id") DO UPDATE SET "name" = excluded."name", "when" = excluded."when";

-- upsert, key columns only
INSERT INTO "link" ("a", "b") VALUES (?, ?), (?, ?) ON CONFLICT ("a", "b") DO NOTHING;

-- delete 3 keys, one key column
DELETE FROM "order" WHERE "id" IN (?, ?, ?);

-- delete 2 keys, composite key
DELETE FROM "all_types" WHERE ("id", "part") IN (VALUES (?, ?), (?, ?));

-- drop table
DROP TABLE IF EXISTS "order";

-- truncate
DELETE FROM "order";

-- table exists
SELECT 1 FROM "main"."sqlite_schema" WHERE "type" = 'table' AND "name" = ? COLLATE NOCASE;

-- add nullable column (in place: true, warning: "")
ALTER TABLE "order" ADD COLUMN "note" TEXT;

-- add NOT NULL column with default (in place: true, warning: "")
ALTER TABLE "order" ADD COLUMN "flag" INTEGER NOT NULL DEFAULT 1;

-- add column with getdate() default (in place: false, warning: "")
;

-- add NOT NULL column without default (in place: false, warning: "")
;

-- drop column
ALTER TABLE "order" DROP COLUMN "when";

-- rebuild (warnings: [])
CREATE TABLE "mirrorsink_rebuild" (
  "id" INTEGER NOT NULL,
  "name" TEXT,
  "when" TEXT,
  PRIMARY KEY ("id")
);
INSERT INTO "mirrorsink_rebuild" ("id", "name") SELECT "id", "name" FROM "order";
DROP TABLE "order";
ALTER TABLE "mirrorsink_rebuild" RENAME TO "order";

