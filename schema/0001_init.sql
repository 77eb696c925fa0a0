-- gresec schema v1: the topology and policy store.
-- Objects of every kind keep their canonical JSON body; the columns beside it are what
-- queries need (references, etags). Derived tunnels are materialised with identifiers
-- that never change while the pair of sites stays joined.

CREATE TABLE object (
	kind       TEXT NOT NULL,		-- site, profile, topology, tunnel
	name       TEXT NOT NULL,
	body       TEXT NOT NULL,		-- canonical JSON (sorted keys, compact)
	etag       TEXT NOT NULL,		-- hash of body
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	PRIMARY KEY (kind, name)
) WITHOUT ROWID;

-- Who refers to whom: rebuilt for an object whenever its body is written.
CREATE TABLE ref (
	from_kind TEXT NOT NULL,
	from_name TEXT NOT NULL,
	field     TEXT NOT NULL,		-- path inside the referring body
	to_kind   TEXT NOT NULL,
	to_name   TEXT NOT NULL,
	PRIMARY KEY (from_kind, from_name, field),
	FOREIGN KEY (from_kind, from_name) REFERENCES object (kind, name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX ref_to ON ref (to_kind, to_name);

-- Materialised tunnels, one per joined pair of sites (site_a < site_b).
-- id is never reused (AUTOINCREMENT), so the GRE key, reqid and interface names derived
-- from it stay unique across the life of the database.
CREATE TABLE tunnel (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	site_a      TEXT NOT NULL,
	site_b      TEXT NOT NULL,
	origin      TEXT NOT NULL,		-- 'explicit' or 'topology'
	source      TEXT NOT NULL,		-- winning definition: 'tunnel/x' or 'topology/y'
	sources     TEXT NOT NULL,		-- JSON array of every definition joining the pair
	tunnel_type TEXT NOT NULL,
	profile     TEXT NOT NULL,
	psk         TEXT NOT NULL,		-- secret: never logged, redacted for viewers
	created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	UNIQUE (site_a, site_b),
	CHECK (site_a < site_b)
);
CREATE INDEX tunnel_b ON tunnel (site_b);

CREATE TABLE token (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer', 'agent')),
	site       TEXT,			-- agent tokens only
	hash       TEXT NOT NULL UNIQUE,	-- hex SHA-256 of the secret; the secret is never stored
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	revoked_at TEXT
);

CREATE TABLE audit (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	time   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	actor  TEXT NOT NULL,
	action TEXT NOT NULL,
	kind   TEXT NOT NULL,
	name   TEXT NOT NULL,
	before TEXT,				-- redacted JSON or NULL
	after  TEXT
);
