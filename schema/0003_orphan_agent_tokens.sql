-- gresec schema v3: no agent token outlives its site.
-- Before v3, POST /v1/import?mode=replace deleted sites without revoking their agent
-- tokens, so a site re-created under the same name handed its intent (PSKs included) to
-- the old gateway's token. Revoke every agent token whose site is gone; from v3 on,
-- store_delete revokes them in the transaction that deletes the site.
UPDATE token SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE role = 'agent' AND revoked_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM object WHERE kind = 'site' AND name = token.site);
