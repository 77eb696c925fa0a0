/* The IKE plane: makes charon's connections and shared keys match the intent's
 * tunnels over VICI, and starts tunnels (always-on from the initiator side with
 * backoff; on demand when the kernel asks, see acquire.h).
 *
 * One conn per tunnel, named by the tunnel id, with one child named
 * "<id>-<16 hex>": the hex is a SHA-256 prefix over the load-conn message. list-conns
 * echoes child names verbatim, so comparing names tells whether charon's copy is
 * current without reloading anything; it also marks the conn as the agent's own (a
 * conn without such a child is left alone). Shared keys are named "gresec-<id>";
 * charon does not show their data, so the agent remembers a fingerprint of each key it
 * loaded (struct ike) and loads again any it has no fingerprint of (after a restart).
 * A changed conn renegotiates; a changed key does not (see ike_child_name).
 *
 * Like the kernel planner, the IKE plan is data: computed purely from the intent and
 * what charon reported, printable for --dry-run, then applied. */
#ifndef GRESEC_IKE_H
#define GRESEC_IKE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "intent.h"
#include "vici.h"

struct ike_events;

#define IKE_HASH_HEX 16
#define IKE_PSK_FP_LEN 8
#define IKE_NAME_MAX INTENT_ID_MAX
#define IKE_CHILD_MAX (INTENT_ID_MAX + 1 + IKE_HASH_HEX)
#define IKE_SHARED_PREFIX "gresec-"
#define IKE_SHARED_MAX (sizeof(IKE_SHARED_PREFIX) - 1 + INTENT_ID_MAX)
#define IKE_LINE_MAX 384

/* Retries of always-on tunnels: first retry after IKE_RETRY_MIN_MS, doubling. */
#define IKE_RETRY_MIN_MS 2000
#define IKE_RETRY_MAX_MS 60000
/* Least time between a CHILD_SA's rekey and its hard expiry (ike_child_lifetimes). */
#define IKE_CHILD_MARGIN_S 10
/* Acquires for one tunnel closer together than this start one initiation. */
#define IKE_ACQUIRE_HOLD_MS 3000

/* One conn as charon reported it. */
struct ike_cur_conn {
	char name[VICI_NAME_MAX + 1];
	char child[VICI_NAME_MAX + 1];	/* the agent's child, "" for a foreign conn */
	bool owned;			/* name fits an intent id and child is ours */
	bool sa_up;			/* an IKE_SA and a child up (ike_state.h classes) */
	bool sa_connecting;		/* an IKE_SA or CHILD_SA on its way up */
};

/* What charon holds: list-conns, get-shared and list-sas. */
struct ike_cur {
	struct ike_cur_conn *conns;
	size_t n, cap;
	char **shared;			/* shared key ids ("gresec-..." and others) */
	struct ike_cur_fp *shared_fp;	/* parallel to shared */
	size_t n_shared, cap_shared;
};

/* A fingerprint of the key charon holds under a shared id, when the agent knows it. */
struct ike_cur_fp {
	bool known;
	uint8_t fp[IKE_PSK_FP_LEN];
};

/* A key this agent loaded into charon: its shared id and fingerprint. */
struct ike_key {
	char id[IKE_SHARED_MAX + 1];
	uint8_t fp[IKE_PSK_FP_LEN];
};

enum ike_op {
	/* in the order they are applied */
	IKE_OP_TERMINATE,		/* old SAs of a removed or changed tunnel */
	IKE_OP_UNLOAD_CONN,
	IKE_OP_UNLOAD_SHARED,
	IKE_OP_LOAD_SHARED,
	IKE_OP_LOAD_CONN,
	IKE_OP_INITIATE,
};

struct ike_action {
	enum ike_op op;
	int tunnel;			/* intent index; -1 for removals */
	char name[IKE_SHARED_MAX + 1];	/* conn or shared key id */
	char child[IKE_CHILD_MAX + 1];
	int err;			/* after ike_plan_apply: 0 or negative errno */
	char line[IKE_LINE_MAX];	/* the --dry-run text; also the sort key */
};

struct ike_fail {
	int tunnel;
	char msg[160];
};

struct ike_plan {
	struct ike_action *acts;
	size_t n, cap;
	struct ike_fail *fails;
	size_t n_fails, cap_fails;
};

/* Start timers of one tunnel, kept by id across ike_apply passes so that a resync
 * does not reset the backoff of a tunnel that keeps failing. */
struct ike_retry {
	char id[INTENT_ID_MAX + 1];
	int64_t next_ms;		/* 0: nothing scheduled */
	int64_t backoff_ms;
	int64_t last_initiate_ms;
};

/* The IKE plane's state across passes: a request connection to charon, the intent
 * last applied (borrowed: valid until the next ike_apply) and start timers. */
struct ike {
	char *vici_path;
	struct vici_conn *vc;
	struct ike_events *ev;		/* optional: SA state for retries, errors out */
	const struct intent *in;
	struct ike_retry *retry;	/* parallel to in->tunnels */
	size_t n_retry;
	struct ike_key *keys;		/* loaded by this process, kept while charon holds them */
	size_t n_keys;
	/* Certificate tunnels (ike_creds.c): the site's key and certificate (borrowed),
	 * and digests of what charon was last given. */
	const char *key_pem, *cert_pem;
	unsigned char creds_base[32], creds_crl[32];
	bool creds_ok;
};

/* charon's life_time and rand_time for a CHILD_SA rekeyed after rekey seconds; both
 * 0 where charon's defaults (110 % and 10 %) leave enough margin. */
void ike_child_lifetimes(uint32_t rekey, uint32_t *life, uint32_t *jitter);
/* Child name "<id>-<hash>" for t of an intent whose CA is ca (NULL: none). 0 or
 * negative errno. */
int ike_child_name(const struct intent_tunnel *t, const char *ca, char *buf, size_t len);
/* The name agents before psk_encoding gave the same conn (their hash covered the psk
 * too): a conn so named is current but for its name, and its SAs stay. */
int ike_child_name_legacy(const struct intent_tunnel *t, char *buf, size_t len);
/* The first IKE_PSK_FP_LEN bytes of SHA-256 over the key charon gets for t. */
int ike_psk_fp(const struct intent_tunnel *t, uint8_t fp[IKE_PSK_FP_LEN]);
/* The load-conn message for t, its child named child; ca (the intent's, may be NULL)
 * is the CA a certificate tunnel's peer must chain to. NULL on OOM/invalid. */
struct vici_msg *ike_conn_msg(const struct intent_tunnel *t, const char *ca, const char *child);
/* The load-shared message for t (holds the PSK: free it promptly). */
struct vici_msg *ike_shared_msg(const struct intent_tunnel *t);
void ike_shared_name(const struct intent_tunnel *t, char *buf, size_t len);

struct ike_cur *ike_cur_new(void);
void ike_cur_free(struct ike_cur *cur);
/* Appends a conn (zeroed apart from name/child/owned). NULL on OOM. */
struct ike_cur_conn *ike_cur_add_conn(struct ike_cur *cur, const char *name,
				      const char *child);
int ike_cur_add_shared(struct ike_cur *cur, const char *id);
/* Records the fingerprint of the key charon holds as id (if it holds one). */
void ike_cur_set_shared_fp(struct ike_cur *cur, const char *id, const uint8_t *fp);
/* Remembers (or, fp NULL, forgets) the key loaded as id. 0 or -ENOMEM. */
int ike_key_note(struct ike *ike, const char *id, const uint8_t *fp);
/* Reads charon's state over vc. 0 or negative errno. */
int ike_cur_read(struct vici_conn *vc, struct ike_cur *cur);

struct ike_plan *ike_plan_new(void);
void ike_plan_free(struct ike_plan *p);
/* Pure diff; in == NULL plans the removal of everything the agent owns in charon.
 * Actions sorted by op, then text. 0 or -ENOMEM. */
int ike_plan_compute(const struct intent *in, const struct ike_cur *cur, struct ike_plan *p);
void ike_plan_print(const struct ike_plan *p, const struct intent *in, FILE *f);
/* Applies p; every action gets its err. Returns 0 when all succeeded, else the first
 * failure's errno (the others still ran). */
int ike_plan_apply(struct ike *ike, const struct intent *in, struct ike_plan *p);

struct ike *ike_new(const char *vici_path);
void ike_free(struct ike *ike);
void ike_set_events(struct ike *ike, struct ike_events *ev);
/* Reads charon, plans, and (unless dry is given: then prints the plan there and
 * changes nothing) applies. Keeps in for later ike_acquire/ike_tick calls.
 * 0, or negative errno of the first failure (per-tunnel errors are also logged and
 * reported through the events table). */
int ike_apply(struct ike *ike, const struct intent *in, FILE *dry);
/* An XFRM acquire for reqid: starts the matching tunnel's child. -ENOENT when no
 * tunnel has the reqid (not ours), 0 when started or already coming up. */
int ike_acquire(struct ike *ike, uint32_t reqid, int64_t now_ms);
/* Starts always-on tunnels that are down (initiator side only), with backoff. */
int ike_tick(struct ike *ike, int64_t now_ms);
/* Milliseconds until ike_tick has something to do, -1 for nothing. */
int64_t ike_next_timeout_ms(const struct ike *ike, int64_t now_ms);
/* Async initiate of tunnel i's child (charon answers at once; the outcome arrives as
 * events). 0 or negative errno. */
int ike_initiate(struct ike *ike, size_t i, int64_t now_ms);
/* Async rekey of tunnel i's CHILD_SAs: fresh SAs on both ends replace SAs that carry
 * nothing (agent/liveness.h, live_rekey_due). 0 or negative errno. */
int ike_rekey(struct ike *ike, size_t i);
/* Forgets tunnel i's backoff (a new or changed conn starts at once). */
void ike_retry_reset(struct ike *ike, size_t i);
int64_t ike_now_ms(void);
/* The site's key and certificate (PEM, borrowed; NULL until enrolled). */
void ike_set_creds(struct ike *ike, const char *key_pem, const char *cert_pem);
/* Loads the CA, the CRL and the site's key and certificate into charon when the
 * intent has a CA and any of them changed. 0 or negative errno. */
int ike_creds_sync(struct ike *ike, const struct intent *in);

#endif
