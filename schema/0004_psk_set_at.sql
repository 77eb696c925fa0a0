-- gresec schema v4: when each tunnel's PSK was set, for rotation (POST
-- /v1/tunnels/{id}/rotate-psk and the profile's psk_max_age). NULL: the PSK is the one
-- the tunnel was created with, so its age counts from created_at.
ALTER TABLE tunnel ADD COLUMN psk_set_at TEXT;
