-- only if fan_in
ALTER TABLE {{meta}} ADD COLUMN IF NOT EXISTS tenant varchar(50) COLLATE "C" NOT NULL DEFAULT ''
--;
-- only if fan_in
ALTER TABLE {{meta}} ADD COLUMN IF NOT EXISTS storedin varchar(128) NOT NULL DEFAULT ''
--;
-- only if fan_in
ALTER TABLE {{meta}} ADD COLUMN IF NOT EXISTS conflict text NOT NULL DEFAULT ''
--;
-- only if fan_in
ALTER TABLE {{meta}} DROP CONSTRAINT IF EXISTS {{meta_pkey}}, ADD PRIMARY KEY (tenant, tablename)
--;
-- only if fan_in
ALTER TABLE {{cycles}} ADD COLUMN IF NOT EXISTS tenant varchar(50) COLLATE "C" NOT NULL DEFAULT ''
--;
-- only if fan_in
ALTER TABLE {{cycles}} DROP CONSTRAINT IF EXISTS {{cycles_pkey}}, ADD PRIMARY KEY (tenant, id)
--;
-- only if fan_in
ALTER TABLE {{pause}} ADD COLUMN IF NOT EXISTS tenant varchar(50) COLLATE "C" NOT NULL DEFAULT ''
--;
-- only if fan_in
ALTER TABLE {{pause}} DROP CONSTRAINT IF EXISTS {{pause_pkey}}, ADD PRIMARY KEY (tenant, id)
--;
-- only if fan_in
ALTER TABLE {{failures}} ADD COLUMN IF NOT EXISTS tenant varchar(50) COLLATE "C" NOT NULL DEFAULT ''
--;
-- only if fan_in
ALTER TABLE {{failures}} DROP CONSTRAINT IF EXISTS {{failures_pkey}}, ADD PRIMARY KEY (tenant, id)
--;
-- only if fan_in
CREATE INDEX IF NOT EXISTS mirrorsink_mirroring_bytable ON {{meta}} (tablename, schemahash, storedin)
--;
-- only if citus
SELECT create_distributed_table({{meta_literal}}, 'tenant')
--;
-- only if citus
SELECT create_distributed_table({{cycles_literal}}, 'tenant', colocate_with => {{meta_literal}})
--;
-- only if citus
SELECT create_distributed_table({{pause_literal}}, 'tenant', colocate_with => {{meta_literal}})
--;
-- only if citus
SELECT create_distributed_table({{failures_literal}}, 'tenant', colocate_with => {{meta_literal}})
