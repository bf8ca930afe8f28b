CREATE TABLE `ten` (
  `id` int NOT NULL,
  `c01` text NULL,
  `c02` text NULL,
  `c03` text NULL,
  `c04` text NULL,
  `c05` text NULL,
  `c06` text NULL,
  `c07` varchar(4000) NULL,
  `c08` varchar(4000) NULL,
  `c09` varchar(4000) NULL,
  `c10` varchar(4000) NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
