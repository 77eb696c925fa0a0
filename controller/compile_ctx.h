/* The compile context's insides, shared by compile.c (which builds intents from it),
 * revision.c (which decides which sites a write affects) and tunnel_delta.c (which reads
 * the committed sites' roles). Not for other modules. */
#ifndef GRESEC_COMPILE_CTX_H
#define GRESEC_COMPILE_CTX_H

#include <stdint.h>
#include <jansson.h>
#include "addr.h"

struct compile_tun {
	long long id;
	size_t a, b;			/* site indices */
	int vti;
	const json_t *profile;
	char *psk;
	long long overlay;
};

struct compile_ctx {
	json_t *sites, *profiles, *topos;	/* canonical bodies, sorted by name */
	const char **names;
	size_t n;
	struct compile_tun *tuns;
	size_t ntuns;
	size_t *adj_off, *adj;			/* tunnels of site i: adj[adj_off[i] .. adj_off[i+1]) */
	unsigned char *roles;			/* roles[t * n + i]: site i in topology t */
	unsigned char *psk_hex;			/* site i's agent reported INTENT_FEATURE_PSK_HEX */
	struct addr_prefix pool;
	char *ca, *crl;				/* PEM for every intent; NULL when absent */
	/* While refreshing inside a write: where a site's errors go (see store_finish). */
	const char *(*path_of)(void *ctx, const char *kind, const char *name);
	void *path_ctx;
	/* Left by the refresh that built this context: the new intents of the sites whose
	 * agents were waiting, at text_rev[i]; taken (and freed) by whoever serves them. */
	char **text;
	uint64_t *text_rev;
};

/* Index of a site by name in c->names; -1 when absent. */
long compile_site_index(const struct compile_ctx *c, const char *name);

#endif
