-- gresec schema v5: the site certificates the controller's CA has signed.
-- Only what revocation and mTLS need: the serial (hex, as in the certificate), the site
-- it names, its validity (unix seconds), and when it was revoked. The private keys never
-- leave the gateways; the certificates themselves are public and not kept. Harmless to
-- re-run on a database stamped older (IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS cert (
	serial     TEXT PRIMARY KEY,
	site       TEXT NOT NULL,
	not_after  INTEGER NOT NULL,
	issued_at  INTEGER NOT NULL,
	revoked_at INTEGER			-- NULL while valid
);
CREATE INDEX IF NOT EXISTS cert_site ON cert (site);
