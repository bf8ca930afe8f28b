CREATE TABLE `ck` (
  `a` varchar(300) NOT NULL,
  `b` text NULL,
  `c` varchar(4000) NULL,
  `d` varchar(4000) NULL,
  `e` varchar(4000) NULL,
  `k2` varchar(400) NOT NULL,
  PRIMARY KEY (`k2`, `a`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
