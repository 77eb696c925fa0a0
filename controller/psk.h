/* Tunnel pre-shared keys (psk.c): made, rotated by hand (POST
 * /v1/tunnels/{id}/rotate-psk) or by age (the profile's psk_max_age). A key is
 * "0x" + 64 lowercase hex digits: 256 random bits, which agents that report the
 * psk-hex feature hand to charon as those 32 bytes (docs/intent.md, psk_encoding). */
#ifndef GRESEC_PSK_H
#define GRESEC_PSK_H

#include <jansson.h>
#include "store.h"

#define PSK_BYTES 32
#define PSK_TEXT_LEN (2 + 2 * PSK_BYTES + 1)

/* A new random key as text. 0 or -EIO (no randomness). */
int psk_new(char out[PSK_TEXT_LEN]);
/* Gives tunnel id a new key in one transaction (audited as actor, reason in the record),
 * recompiles its two sites and wakes their agents. *out (may be NULL) gets
 * {"id", "a", "b", "psk_set_at"}. 0, -ENOENT (no such tunnel) or negative errno. */
int psk_rotate(struct store *s, long long id, const char *actor, const char *reason,
	       json_t **out);
/* Recompiles site and the sites it has tunnels with (what its agent's features change),
 * bumping the revisions of those whose intents changed and waking their agents.
 * 0, -EINVAL (one does not compile; nothing changed) or negative errno. */
int psk_recompile_site(struct store *s, const char *site);
/* Rotates every tunnel of site whose profile's psk_max_age has passed since its key
 * was set. The number rotated, or negative errno. */
int psk_rotate_due(struct store *s, const char *site);

#endif
