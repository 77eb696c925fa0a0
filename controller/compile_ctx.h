/* The compile context's insides, shared by compile.c (which builds intents from it),
 * revision.c (which decides which sites a write affects) and tunnel_delta.c (which reads
 * the committed sites' roles). Not for other modules. */
#ifndef GRESEC_COMPILE_CTX_H
#define GRESEC_COMPILE_CTX_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "addr.h"
#include "intent.h"
#include "db.h"
#include "store.h"

struct compile_tun {
	long long id;
	size_t a, b;			/* site indices */
	int vti;
	const json_t *profile;
	const char *psk;		/* in one of the context's key blocks */
	long long overlay;
};

/* Tunnels' keys, in blocks shared by successive contexts: a write's context keeps the
 * committed one's blocks and adds one for the keys it loads. Wiped when freed. */
struct compile_keys {
	int refs;
	size_t len, cap;
	char *text;			/* the keys, each NUL-terminated */
};

/* What compiling a tunnel reads of each of its sites, decoded once per context. */
struct compile_site_info {
	struct addr underlay, reach;	/* reach: where peers send to (a NAT's address) */
	bool underlay_ok, reach_ok;	/* the text parsed */
	bool nat, unmanaged;
	uint32_t mtu;
	const char *underlay_text;	/* borrowed from the site's body */
};

/* What compiling a tunnel reads of its profile, decoded once per context. */
struct compile_prof_info {
	const json_t *body;
	bool tunnel_mode, ah, always, x509;
	uint32_t ike_lifetime, sa_lifetime, dpd;
	struct intent_bfd bfd;		/* each field absent taken as its default */
};

struct compile_ctx {
	json_t *sites, *profiles, *topos;	/* canonical bodies, sorted by name */
	const char **names;
	size_t n;
	struct compile_tun *tuns;
	size_t ntuns;
	struct compile_keys **keys;
	size_t nkeys;
	/* How many contexts share tuns, keys, adj_off and adj (NULL: this one alone): a
	 * write that changes no tunnel, site set or profile keeps them as they are. */
	int *links;
	size_t *adj_off, *adj;			/* tunnels of site i: adj[adj_off[i] .. adj_off[i+1]) */
	unsigned char *roles;			/* roles[t * n + i]: site i in topology t */
	unsigned char *psk_hex;			/* site i's agent reported INTENT_FEATURE_PSK_HEX */
	struct compile_site_info *info;		/* of site i */
	struct compile_prof_info *pinfo;	/* of profiles[j] */
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
const json_t *compile_profile(const struct compile_ctx *c, const char *name);

void compile_site_info(const json_t *site, struct compile_site_info *info);
/* c->pinfo for c->profiles. */
int compile_prof_infos(struct compile_ctx *c);
/* c->info for c->sites: copied from old (may be NULL) for the sites old_of maps to it. */
int compile_infos(struct compile_ctx *c, const struct compile_ctx *old, const long *old_of);

/* compile_keys.c */
struct compile_keys *compile_keys_new(void);
/* Appends a key; its offset goes to *off (the block may move until it is complete). */
int compile_keys_add(struct compile_keys *k, const char *psk, size_t *off);
void compile_keys_unref(struct compile_keys *k);
/* The tunnels st yields (id, site_a, site_b, tunnel_type, profile, psk, overlay) between
 * sites of c, appended to *tuns (*n of them; the array grows as needed),
 * their keys to k: until compile_keys_attach, each psk is an offset into k. */
int compile_tunnels_read(const struct compile_ctx *c, sqlite3_stmt *st, struct compile_keys *k,
			 struct compile_tun **tuns, size_t *n);
/* Takes k into c and points the keys of tuns[0..n) into it. */
int compile_keys_attach(struct compile_ctx *c, struct compile_keys *k, struct compile_tun *tuns,
			size_t n);
/* c->adj_off and c->adj from c->tuns. */
int compile_adjacency(struct compile_ctx *c);
/* The CA and CRL every intent carries, copied from the store. */
int compile_pki(struct store *s, struct compile_ctx *c);
/* compile_delta.c: the context after a write, from the committed one (old): the sites
 * the write log changed and the tunnels of the sites in dirty are read again, the rest
 * is kept. 1 (nothing made) when the write is beyond it (a topology, many sites). */
int compile_delta_new(struct store *s, const struct compile_ctx *old, const json_t *changes,
		      const json_t *dirty, struct compile_ctx **out);

#endif
