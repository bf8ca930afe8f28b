CREATE TABLE `fits` (
  `id` int NOT NULL,
  `c01` varchar(1000) NULL,
  `c02` varchar(1000) NULL,
  `c03` varchar(1000) NULL,
  `c04` varchar(1000) NULL,
  `c05` varchar(1000) NULL,
  `c06` varchar(1000) NULL,
  `c07` varchar(1000) NULL,
  `c08` varchar(1000) NULL,
  `c09` varchar(1000) NULL,
  `c10` varchar(1000) NULL,
  `c11` varchar(1000) NULL,
  `c12` varchar(1000) NULL,
  `c13` varchar(1000) NULL,
  `c14` varchar(1000) NULL,
  `c15` varchar(1000) NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
