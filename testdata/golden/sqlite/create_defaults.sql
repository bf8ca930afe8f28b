CREATE TABLE "defaults" (
  "id" INTEGER NOT NULL,
  "bit_one" INTEGER NOT NULL DEFAULT 1,
  "bit_zero" INTEGER NOT NULL DEFAULT 0,
  "int_neg" INTEGER DEFAULT -5,
  "dec_lit" TEXT DEFAULT '0.5',
  "money_zero" TEXT DEFAULT '0',
  "float_lit" REAL DEFAULT 1.5,
  "date_lit" TEXT DEFAULT '1760-01-01',
  "datetime_lit" TEXT DEFAULT '1760-01-01 00:00:00.0000000',
  "datetime2_lit" TEXT DEFAULT '2001-02-03 04:05:06.1234567',
  "dto_lit" TEXT DEFAULT '2001-02-03 04:05:06.0000000+02:00',
  "time_lit" TEXT DEFAULT '12:30:00.0000000',
  "uuid_lit" TEXT DEFAULT '6f9619ff-8b86-d011-b42d-00c04fc964ff',
  "str_lit" TEXT DEFAULT 'it''s',
  "str_empty" TEXT NOT NULL DEFAULT '',
  "str_from_number" TEXT DEFAULT '0',
  "bin_lit" BLOB DEFAULT X'0A0B',
  "null_default" INTEGER DEFAULT NULL,
  "now_datetime" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now','localtime') || '0000'),
  "utcnow_datetime" TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now') || '0000'),
  "now_date" TEXT DEFAULT (date('now','localtime')),
  "now_time" TEXT DEFAULT (strftime('%H:%M:%f','now','localtime') || '0000'),
  "nowoffset_dto" TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now') || '0000+00:00'),
  "newid_uuid" TEXT NOT NULL DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89AB', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
  "newid_text" TEXT DEFAULT (upper(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89AB', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
  "now_on_int" INTEGER,
  "unsupported" INTEGER,
  "bad_int_lit" INTEGER,
  PRIMARY KEY ("id")
);
-- warning: default "(getdate())" of column "now_on_int" dropped: a current-time default on a non-time column
-- warning: default "(abs(-1))" of column "unsupported" dropped: not expressible in SQLite
-- warning: default "(N'abc')" of column "bad_int_lit" dropped: "abc" is not an integer
