-- add nullable
ALTER TABLE "My ""Table""" ADD COLUMN "note" varchar(100);

-- add not null with default
ALTER TABLE "My ""Table""" ADD COLUMN "flag" boolean DEFAULT false NOT NULL;

-- add not null without default
ALTER TABLE "My ""Table""" ADD COLUMN "must" integer NOT NULL;

-- drop
ALTER TABLE "My ""Table""" DROP COLUMN "old";

-- widen int
ALTER TABLE "My ""Table""" ALTER COLUMN "n" TYPE bigint USING "n"::bigint;

-- widen varchar
ALTER TABLE "My ""Table""" ALTER COLUMN "s" TYPE text USING "s"::text;

-- widen decimal
ALTER TABLE "My ""Table""" ALTER COLUMN "d" TYPE numeric(12,2) USING "d"::numeric(12,2);

-- datetime to datetime2
ALTER TABLE "My ""Table""" ALTER COLUMN "t" TYPE timestamp(6) USING "t"::timestamp(6);

-- no-op nvarchar(max) to ntext
-- (no statement);

-- no-op tinyint to smallint
-- (no statement);

-- set not null
ALTER TABLE "My ""Table""" ALTER COLUMN "user" SET NOT NULL;

-- drop not null
ALTER TABLE "My ""Table""" ALTER COLUMN "user" DROP NOT NULL;

-- set default
ALTER TABLE "My ""Table""" ALTER COLUMN "when" SET DEFAULT LOCALTIMESTAMP;

-- drop default
ALTER TABLE "My ""Table""" ALTER COLUMN "when" DROP DEFAULT;

-- unsupported default becomes drop
ALTER TABLE "My ""Table""" ALTER COLUMN "n" DROP DEFAULT;
-- dropped default: default "default (abs(-1))" has no PostgreSQL equivalent

