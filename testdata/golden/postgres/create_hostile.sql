CREATE TABLE "Order ""Lines""; DROP" (
  "user" integer NOT NULL,
  "order" integer NOT NULL,
  "group" varchar(20),
  "select" varchar(20),
  "MixedCase" varchar(20),
  "with space" varchar(20),
  "quote""inside" varchar(20),
  "back`tick" varchar(20),
  "[bracket]" varchar(20),
  "ünïcödé 名前" varchar(20),
  "semi;colon--" varchar(20),
  "'single'" varchar(20),
  "a:b, column c" varchar(20),
  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" varchar(20),
  PRIMARY KEY ("order", "user")
);
