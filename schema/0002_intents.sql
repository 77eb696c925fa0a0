-- gresec schema v2: overlay addresses, per-site intent revisions, agent status.

-- The n-th /31 (IPv4 pool) or /127 (IPv6 pool) of the overlay pool; allocated lowest
-- free first when the tunnel is materialised, kept for the tunnel's life.
ALTER TABLE tunnel ADD COLUMN overlay INTEGER;
CREATE UNIQUE INDEX tunnel_overlay ON tunnel (overlay);

-- One row per site that ever had an intent. The revision only grows: it is bumped when
-- the compiled intent's hash changes, and kept when a site is deleted and re-created,
-- so an agent never sees a revision go backwards.
CREATE TABLE intent (
	site       TEXT PRIMARY KEY,
	revision   INTEGER NOT NULL,
	hash       TEXT NOT NULL,
	updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) WITHOUT ROWID;

-- The latest status report of each site's agent, as posted (validated).
CREATE TABLE site_status (
	site             TEXT PRIMARY KEY,
	reported_at      TEXT NOT NULL,
	reported_epoch   INTEGER NOT NULL,
	applied_revision INTEGER NOT NULL,
	body             TEXT NOT NULL
) WITHOUT ROWID;
