-- create every_type
CREATE TABLE [every_type] (
    [id] int NOT NULL,
    [c_bit] bit NULL,
    [c_tinyint] tinyint NULL,
    [c_smallint] smallint NULL,
    [c_bigint] bigint NULL,
    [c_decimal] decimal(38,10) NULL,
    [c_numeric] decimal(18,0) NULL,
    [c_money] money NULL,
    [c_smallmoney] smallmoney NULL,
    [c_float] float NULL,
    [c_real] real NULL,
    [c_date] date NULL,
    [c_time] time(7) NULL,
    [c_time3] time(3) NULL,
    [c_smalldatetime] smalldatetime NULL,
    [c_datetime] datetime NULL,
    [c_datetime2] datetime2(7) NULL,
    [c_datetime2_0] datetime2(0) NULL,
    [c_datetimeoffset] datetimeoffset(7) NULL,
    [c_char] char(10) NULL,
    [c_nchar] nchar(10) NULL,
    [c_varchar] varchar(255) NULL,
    [c_nvarchar] nvarchar(4000) NULL,
    [c_varchar_max] varchar(max) NULL,
    [c_nvarchar_max] nvarchar(max) NULL,
    [c_text] text NULL,
    [c_ntext] ntext NULL,
    [c_binary] binary(16) NULL,
    [c_varbinary] varbinary(8000) NULL,
    [c_varbinary_max] varbinary(max) NULL,
    [c_image] image NULL,
    [c_rowversion] binary(8) NULL,
    [c_uniqueidentifier] uniqueidentifier NULL,
    [c_xml] xml NULL,
    [c_hierarchyid] hierarchyid NULL,
    [c_geography] geography NULL,
    [c_geometry] geometry NULL,
    [c_sql_variant] sql_variant NULL,
    [c_sysname] sysname NOT NULL,
    CONSTRAINT [PK_every_type_f4b0d985] PRIMARY KEY CLUSTERED ([id])
);

-- exists every_type
SELECT CASE WHEN OBJECT_ID(@p1, N'U') IS NULL THEN 0 ELSE 1 END;

-- drop every_type
IF OBJECT_ID(N'[every_type]', N'U') IS NOT NULL DROP TABLE [every_type];

-- truncate every_type
TRUNCATE TABLE [every_type];

-- create defaults
CREATE TABLE [defaults] (
    [tenant] nvarchar(50) NOT NULL,
    [id] bigint NOT NULL,
    [name] nvarchar(100) NOT NULL CONSTRAINT [DF_defaults_name_9defa1b2] DEFAULT (N'it''s "N/A"'),
    [empty] varchar(10) NOT NULL CONSTRAINT [DF_defaults_empty_7eb6c6ed] DEFAULT (N''),
    [flag] bit NOT NULL CONSTRAINT [DF_defaults_flag_f2397e31] DEFAULT (1),
    [amount] decimal(10,2) NULL CONSTRAINT [DF_defaults_amount_b1595a12] DEFAULT (-0.50),
    [nodate] datetime NOT NULL CONSTRAINT [DF_defaults_nodate_b5242f0b] DEFAULT (N'1760-01-01'),
    [maybe] int NULL CONSTRAINT [DF_defaults_maybe_f566a6cf] DEFAULT (NULL),
    [created] datetime NOT NULL CONSTRAINT [DF_defaults_created_3daae6a3] DEFAULT (getdate()),
    [created2] datetime2(7) NOT NULL CONSTRAINT [DF_defaults_created2_c087b59f] DEFAULT (sysdatetime()),
    [created_utc] datetime NOT NULL CONSTRAINT [DF_defaults_created_utc_22ac34c8] DEFAULT (getutcdate()),
    [created_utc2] datetime2(3) NOT NULL CONSTRAINT [DF_defaults_created_utc2_8b3eae85] DEFAULT (sysutcdatetime()),
    [created_off] datetimeoffset(7) NOT NULL CONSTRAINT [DF_defaults_created_off_091b9985] DEFAULT (sysdatetimeoffset()),
    [guid] uniqueidentifier NOT NULL CONSTRAINT [DF_defaults_guid_0fc3e378] DEFAULT (newid()),
    [weird] int NULL,
    [notnumber] int NULL,
    CONSTRAINT [PK_defaults_85a93bba] PRIMARY KEY CLUSTERED ([tenant], [id])
);

-- exists defaults
SELECT CASE WHEN OBJECT_ID(@p1, N'U') IS NULL THEN 0 ELSE 1 END;

-- drop defaults
IF OBJECT_ID(N'[defaults]', N'U') IS NOT NULL DROP TABLE [defaults];

-- truncate defaults
TRUNCATE TABLE [defaults];

-- create Order Details]; DROP TABLE [x] --'
CREATE TABLE [Order Details]]; DROP TABLE [x]] --'] (
    [user] int NOT NULL,
    [order] nvarchar(20) NOT NULL,
    [group] nvarchar(20) NULL CONSTRAINT [DF_Order Details]]; DROP TABLE [x]] --'_group_255ff64a] DEFAULT (N'it''s'),
    [select] int NULL,
    [MixedCase] int NULL,
    [with space] int NULL,
    [quote"double] int NULL,
    [quote'single] int NULL,
    [back`tick] int NULL,
    [brack]]et[s]]] int NULL,
    [ünïcødé_名前] int NULL,
    [dot.ted] hierarchyid NULL,
    [xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx] int NULL,
    CONSTRAINT [PK_Order Details]]; DROP TABLE [x]] --'_3bc40dc7] PRIMARY KEY CLUSTERED ([user], [order])
);

-- exists Order Details]; DROP TABLE [x] --'
SELECT CASE WHEN OBJECT_ID(@p1, N'U') IS NULL THEN 0 ELSE 1 END;

-- drop Order Details]; DROP TABLE [x] --'
IF OBJECT_ID(N'[Order Details]]; DROP TABLE [x]] --'']', N'U') IS NOT NULL DROP TABLE [Order Details]]; DROP TABLE [x]] --'];

-- truncate Order Details]; DROP TABLE [x] --'
TRUNCATE TABLE [Order Details]]; DROP TABLE [x]] --'];

-- dropped defaults (warnings)
weird: default "([dbo].[NextNumber]())" has no SQL Server translation;
notnumber: default "(1; DROP TABLE x)" is not a numeric constant;

