CREATE TABLE `user ``order`` [group] "select" ünïcødé` (
  `order` int NOT NULL,
  `Group` varchar(50) NOT NULL,
  `select` varchar(20) NULL DEFAULT 'x''y`z',
  `MixedCase Name` int NULL,
  `back``tick` int NULL,
  `[bracket]` int NULL,
  `quote'd "dq"` int NULL,
  `ключ` int NULL,
  `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx` int NULL,
  PRIMARY KEY (`Group`, `order`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ROW_FORMAT=DYNAMIC;
