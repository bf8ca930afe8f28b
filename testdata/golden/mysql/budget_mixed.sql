CREATE TABLE `mixed` (
  `id` int NOT NULL,
  `short1` varchar(60) NULL,
  `long1` varchar(4000) NULL,
  `mid` varchar(2000) NULL,
  `long2` varchar(4000) NULL,
  `vb` varbinary(8000) NULL,
  `vc` text NULL,
  `h` varchar(4000) CHARACTER SET ascii COLLATE ascii_bin NULL,
  `name0` varchar(255) NULL,
  `name1` varchar(255) NULL,
  `name2` varchar(255) NULL,
  `name3` varchar(255) NULL,
  `name4` varchar(255) NULL,
  `name5` varchar(255) NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
