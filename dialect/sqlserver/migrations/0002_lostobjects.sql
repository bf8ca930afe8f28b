IF COL_LENGTH({{meta_literal}}, N'lostobjects') IS NULL
ALTER TABLE {{meta}} ADD lostobjects nvarchar(max) NOT NULL DEFAULT N''
