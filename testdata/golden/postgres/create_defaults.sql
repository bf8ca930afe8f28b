CREATE TABLE "defaults" (
  "tenant" integer NOT NULL,
  "id" bigint NOT NULL,
  "d_bit1" boolean DEFAULT true NOT NULL,
  "d_bit0" boolean DEFAULT false NOT NULL,
  "d_int" integer DEFAULT 0 NOT NULL,
  "d_neg" smallint DEFAULT -1,
  "d_dec" numeric(10,2) DEFAULT 1.50,
  "d_money_str" numeric(19,4) DEFAULT 12.5,
  "d_float" double precision DEFAULT 0.5,
  "d_str" varchar(50) DEFAULT '' NOT NULL,
  "d_quote" varchar(50) DEFAULT E'it''s \\ here',
  "d_strnum" varchar(10) DEFAULT '7',
  "d_date" timestamp(3) DEFAULT '1760-01-01 00:00:00'::timestamp(3),
  "d_date_compact" date DEFAULT '1900-01-01'::date,
  "d_datetime_zero" timestamp(3) DEFAULT '1900-01-01 00:00:00'::timestamp(3),
  "d_time" time(6) DEFAULT '12:34:56.1234567'::time(6),
  "d_dto" timestamptz(6) DEFAULT '2020-01-02 03:04:05+02:00'::timestamptz(6),
  "d_now" timestamp(3) DEFAULT LOCALTIMESTAMP,
  "d_utcnow" timestamp(6) DEFAULT (now() AT TIME ZONE 'utc'),
  "d_sysnow" timestamp(6) DEFAULT LOCALTIMESTAMP,
  "d_nowoffset" timestamptz(6) DEFAULT now(),
  "d_newid" uuid DEFAULT gen_random_uuid(),
  "d_uuid_lit" uuid DEFAULT '6f9619ff-8b86-d011-b42d-00c04fc964ff'::uuid,
  "d_null" varchar(10) DEFAULT NULL,
  "d_bin" bytea,
  "d_unsupported" integer,
  "d_now_on_int" integer,
  "d_bad_date" date,
  "d_bad_number" integer,
  PRIMARY KEY ("tenant", "id")
);
-- dropped default of d_bin: default "default (0x0A0b)" has no PostgreSQL equivalent
-- dropped default of d_unsupported: default "default (next value for [seq])" has no PostgreSQL equivalent
-- dropped default of d_now_on_int: default "default (getdate())" does not fit column type integer
-- dropped default of d_bad_date: default "default ('not a date')" does not fit column type date
-- dropped default of d_bad_number: default "default ('abc')" does not fit column type integer
