/* The IKE plane: what the agent sends charon for a tunnel, what charon holds, and the
 * start logic (always-on retries, on-demand acquires). Planning is in ike_plan.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <gnutls/crypto.h>

#include "ike.h"
#include "ike_events.h"
#include "log.h"
#include "vici.h"

/* Bumped when the message layout changes meaning, so every conn reloads once. Tag 1
 * also hashed the PSK; a conn named that way with the same message is current (see
 * ike_child_name_legacy). */
#define IKE_HASH_TAG "gresec-ike-2"
#define IKE_HASH_TAG_LEGACY "gresec-ike-1"
/* The longest key charon gets: a string psk of any sane length, or the hex bytes. */
#define IKE_PSK_MAX 1024

int64_t ike_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- messages ---- */

static void ike_id_text(const char *id, const struct addr *a, char *buf, size_t len)
{
	if (id)
		snprintf(buf, len, "%s", id);
	else
		addr_fmt(a, buf, len);
}

static void ike_msg_addr_list(struct vici_msg *m, const char *name, const struct addr *a)
{
	char buf[ADDR_STRLEN];

	addr_fmt(a, buf, sizeof(buf));
	vici_msg_list(m, name);
	vici_msg_item(m, buf);
	vici_msg_list_end(m);
}

static void ike_msg_strs(struct vici_msg *m, const char *name, char **v, size_t n)
{
	if (!n)
		return;			/* charon's defaults */
	vici_msg_list(m, name);
	for (size_t i = 0; i < n; i++)
		vici_msg_item(m, v[i]);
	vici_msg_list_end(m);
}

/* With certificates, charon finds the local certificate by id (its dNSName) among
 * the credentials ike_creds.c loaded, and accepts a peer whose certificate names id
 * and chains to ca, the intent's CA: cacerts pins it, whatever other CAs charon may
 * trust. */
static void ike_msg_auth(struct vici_msg *m, const char *round, const char *id, bool x509,
			 const char *ca)
{
	vici_msg_section(m, round);
	vici_msg_kv(m, "auth", x509 ? "pubkey" : "psk");
	vici_msg_kv(m, "id", id);
	if (x509 && ca) {
		vici_msg_list(m, "cacerts");
		vici_msg_item(m, ca);
		vici_msg_list_end(m);
	}
	vici_msg_end(m);
}

/* GRE carries its own addressing, so the SA covers just GRE between the underlay
 * addresses; a VTI routes whole overlay traffic, IPv4 and IPv6 whatever the
 * underlay's family, through a tunnel-mode SA. */
static void ike_msg_ts(struct vici_msg *m, const struct intent_tunnel *t)
{
	static const char *const gre[] = { "dynamic[gre]", NULL };
	static const char *const vti[] = { "0.0.0.0/0", "::/0", NULL };
	const char *const *ts = t->kind == INTENT_KIND_VTI ? vti : gre;

	for (int side = 0; side < 2; side++) {
		vici_msg_list(m, side ? "remote_ts" : "local_ts");
		for (size_t i = 0; ts[i]; i++)
			vici_msg_item(m, ts[i]);
		vici_msg_list_end(m);
	}
}

/* charon's defaults put the hard expiry 10 % after rekey_time (life_time) and start
 * the rekey up to that much earlier (rand_time): for a short-lived CHILD_SA that is a
 * 1-2 s window, less than charon's first retransmit (4 s by default), so one lost
 * rekey message lets the SA expire before its successor exists. Below 100 s the agent
 * keeps IKE_CHILD_MARGIN_S between the rekey and the expiry, jitter still 10 %; longer
 * lifetimes keep charon's defaults (and their unchanged load-conn messages). */
void ike_child_lifetimes(uint32_t rekey, uint32_t *life, uint32_t *jitter)
{
	*life = *jitter = 0;
	if (!rekey || rekey / 10 >= IKE_CHILD_MARGIN_S)
		return;
	*life = rekey + IKE_CHILD_MARGIN_S;
	*jitter = rekey / 10;
}

/* on-demand: the agent's acquire listener starts the child (charon sees no policy of
 * its own, policies = no); always: the initiator's agent starts it, and charon
 * restarts it itself when DPD finds the peer dead. */
static void ike_msg_child(struct vici_msg *m, const struct intent_tunnel *t, const char *child,
			  bool marks)
{
	const struct intent_security *s = &t->sec;
	bool restart = s->start == INTENT_START_ALWAYS && s->initiator;
	uint32_t life, jitter;

	vici_msg_section(m, "children");
	vici_msg_section(m, child);
	vici_msg_kv(m, "mode", s->mode == INTENT_MODE_TUNNEL ? "tunnel" : "transport");
	vici_msg_kv(m, "policies", "no");
	vici_msg_kvf(m, "reqid", "%u", t->reqid);
	ike_msg_strs(m, s->protocol == INTENT_PROTO_AH ? "ah_proposals" : "esp_proposals",
		     s->child_proposals, s->n_child_proposals);
	ike_msg_ts(m, t);
	ike_child_lifetimes(s->child_lifetime, &life, &jitter);
	if (s->child_lifetime)
		vici_msg_kvf(m, "rekey_time", "%u", s->child_lifetime);
	if (life) {
		vici_msg_kvf(m, "life_time", "%u", life);
		vici_msg_kvf(m, "rand_time", "%u", jitter);
	}
	/* A VTI's SAs and policies carry its key as mark (the kernel looks its inbound
	 * SAs up by it): charon, which reads the policies' use times, must name them
	 * with it, or every query fails ("querying policy failed"). */
	if (marks && t->kind == INTENT_KIND_VTI) {
		vici_msg_kvf(m, "mark_in", "%u/0xffffffff", t->key);
		vici_msg_kvf(m, "mark_out", "%u/0xffffffff", t->key);
	}
	vici_msg_kv(m, "start_action", "none");
	vici_msg_kv(m, "dpd_action", restart ? "restart" : "clear");
	vici_msg_kv(m, "close_action", "none");
	vici_msg_end(m);
	vici_msg_end(m);
}

/* marks: false for the message the agents before VTI marks sent (ike_child_hash); ca
 * (the intent's, may be NULL) is the CA a certificate tunnel's peer must chain to. */
static struct vici_msg *ike_conn_msg_v(const struct intent_tunnel *t, const char *ca,
				       const char *child, bool marks)
{
	const struct intent_security *s = &t->sec;
	struct vici_msg *m = vici_msg_new();
	char lid[256], rid[256];

	if (!m)
		return NULL;
	ike_id_text(s->local_id, &t->local, lid, sizeof(lid));
	ike_id_text(s->remote_id, &t->remote, rid, sizeof(rid));
	vici_msg_section(m, t->id);
	vici_msg_kv(m, "version", "2");
	ike_msg_addr_list(m, "local_addrs", &t->local);
	ike_msg_addr_list(m, "remote_addrs", &t->remote);
	ike_msg_strs(m, "proposals", s->ike_proposals, s->n_ike_proposals);
	if (s->ike_lifetime)
		vici_msg_kvf(m, "rekey_time", "%u", s->ike_lifetime);
	vici_msg_kv(m, "reauth_time", "0");
	if (s->dpd_delay)
		vici_msg_kvf(m, "dpd_delay", "%u", s->dpd_delay);
	vici_msg_kv(m, "encap", s->udp_encap ? "yes" : "no");
	vici_msg_kv(m, "mobike", "no");
	/* A restarted peer's new IKE_SA replaces the one it left behind. */
	vici_msg_kv(m, "unique", "replace");
	/* One attempt per initiate: the agent owns retries and their backoff. */
	vici_msg_kv(m, "keyingtries", "1");
	if (s->auth == INTENT_AUTH_X509)
		vici_msg_kv(m, "send_cert", "always");	/* no reliance on CERTREQs */
	ike_msg_auth(m, "local", lid, s->auth == INTENT_AUTH_X509, NULL);
	ike_msg_auth(m, "remote", rid, s->auth == INTENT_AUTH_X509, ca);
	ike_msg_child(m, t, child, marks);
	vici_msg_end(m);
	if (vici_msg_finish(m)) {
		vici_msg_free(m);
		return NULL;
	}
	return m;
}

struct vici_msg *ike_conn_msg(const struct intent_tunnel *t, const char *ca, const char *child)
{
	return ike_conn_msg_v(t, ca, child, true);
}

void ike_shared_name(const struct intent_tunnel *t, char *buf, size_t len)
{
	snprintf(buf, len, IKE_SHARED_PREFIX "%s", t->id);
}

/* load-shared's data is binary: the bytes of a hex psk, not its characters. */
struct vici_msg *ike_shared_msg(const struct intent_tunnel *t)
{
	struct vici_msg *m = vici_msg_new();
	char name[IKE_SHARED_MAX + 1], lid[256], rid[256];
	uint8_t key[IKE_PSK_MAX];
	size_t len = 0;
	int rc = t->psk ? intent_psk_bytes(t, key, sizeof(key), &len) : -EINVAL;

	if (!m || rc)
		goto fail;
	ike_shared_name(t, name, sizeof(name));
	ike_id_text(t->sec.local_id, &t->local, lid, sizeof(lid));
	ike_id_text(t->sec.remote_id, &t->remote, rid, sizeof(rid));
	vici_msg_kv(m, "id", name);
	vici_msg_kv(m, "type", "IKE");
	vici_msg_kvb(m, "data", key, len);
	vici_msg_list(m, "owners");
	vici_msg_item(m, lid);
	vici_msg_item(m, rid);
	vici_msg_list_end(m);
	if (vici_msg_finish(m))
		goto fail;
	explicit_bzero(key, sizeof(key));
	return m;
fail:
	explicit_bzero(key, sizeof(key));
	vici_msg_free(m);
	return NULL;
}

int ike_psk_fp(const struct intent_tunnel *t, uint8_t fp[IKE_PSK_FP_LEN])
{
	uint8_t key[IKE_PSK_MAX], d[32];
	size_t len = 0;
	int rc = t->psk ? intent_psk_bytes(t, key, sizeof(key), &len) : -EINVAL;

	if (!rc && gnutls_hash_fast(GNUTLS_DIG_SHA256, key, len, d) < 0)
		rc = -ENOMEM;
	if (!rc)
		memcpy(fp, d, IKE_PSK_FP_LEN);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(d, sizeof(d));
	return rc;
}

/* "<id>-<16 hex>" of SHA-256 over tag, the conn message (built with a fixed child
 * name, since the real one contains the hash) and, for the legacy name, the psk (and
 * the message without the VTI marks, which that agent did not send). */
static int ike_child_hash(const struct intent_tunnel *t, const char *ca, const char *tag,
			  bool legacy, char *buf, size_t len)
{
	struct vici_msg *m = ike_conn_msg_v(t, ca, "_", !legacy);
	gnutls_hash_hd_t h = NULL;
	uint8_t d[32];
	size_t off;
	int rc = -ENOMEM;

	if (!m)
		goto out;
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		h = NULL;
		goto out;
	}
	gnutls_hash(h, tag, strlen(tag) + 1);
	gnutls_hash(h, m->buf, m->len);
	if (legacy && t->psk)
		gnutls_hash(h, t->psk, strlen(t->psk));
	gnutls_hash_deinit(h, d);
	h = NULL;
	rc = -ENAMETOOLONG;
	off = (size_t)snprintf(buf, len, "%s-", t->id);
	if (off + IKE_HASH_HEX >= len)
		goto out;
	for (size_t i = 0; i < IKE_HASH_HEX / 2; i++)
		snprintf(buf + off + 2 * i, 3, "%02x", d[i]);
	rc = 0;
out:
	if (h)
		gnutls_hash_deinit(h, NULL);
	explicit_bzero(d, sizeof(d));
	vici_msg_free(m);
	return rc;
}

/* The key is not part of the hash: a new key (rotation, or the move to the hex form)
 * is a load-shared only, and established SAs stay (IKEv2 rekeys do not authenticate
 * again; the next IKE_SA uses the new key). */
int ike_child_name(const struct intent_tunnel *t, const char *ca, char *buf, size_t len)
{
	return ike_child_hash(t, ca, IKE_HASH_TAG, false, buf, len);
}

/* Agents before psk_encoding had no CA either: their conns were PSK ones. */
int ike_child_name_legacy(const struct intent_tunnel *t, char *buf, size_t len)
{
	return ike_child_hash(t, NULL, IKE_HASH_TAG_LEGACY, true, buf, len);
}

/* ---- what charon holds ---- */

struct ike_cur *ike_cur_new(void)
{
	return calloc(1, sizeof(struct ike_cur));
}

void ike_cur_free(struct ike_cur *cur)
{
	if (!cur)
		return;
	for (size_t i = 0; i < cur->n_shared; i++)
		free(cur->shared[i]);
	free(cur->shared);
	free(cur->shared_fp);
	free(cur->conns);
	free(cur);
}

/* The agent's conns have exactly one child, "<conn>-<16 lowercase hex>". */
static bool ike_child_is_ours(const char *conn, const char *child)
{
	size_t n = strlen(conn);

	if (n == 0 || n > INTENT_ID_MAX)
		return false;
	if (strncmp(child, conn, n) || child[n] != '-' || strlen(child + n + 1) != IKE_HASH_HEX)
		return false;
	for (const char *p = child + n + 1; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

struct ike_cur_conn *ike_cur_add_conn(struct ike_cur *cur, const char *name, const char *child)
{
	struct ike_cur_conn *c;

	if (strlen(name) > VICI_NAME_MAX || (child && strlen(child) > VICI_NAME_MAX))
		return NULL;
	if (cur->n == cur->cap) {
		size_t cap = cur->cap ? cur->cap * 2 : 16;

		c = realloc(cur->conns, cap * sizeof(*c));
		if (!c)
			return NULL;
		cur->conns = c;
		cur->cap = cap;
	}
	c = &cur->conns[cur->n++];
	memset(c, 0, sizeof(*c));
	strcpy(c->name, name);
	if (child && ike_child_is_ours(name, child)) {
		strcpy(c->child, child);
		c->owned = true;
	}
	return c;
}

int ike_cur_add_shared(struct ike_cur *cur, const char *id)
{
	if (cur->n_shared == cur->cap_shared) {
		size_t cap = cur->cap_shared ? cur->cap_shared * 2 : 16;
		char **v = realloc(cur->shared, cap * sizeof(*v));
		struct ike_cur_fp *f;

		if (!v)
			return -ENOMEM;
		cur->shared = v;
		f = realloc(cur->shared_fp, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		cur->shared_fp = f;
		cur->cap_shared = cap;
	}
	cur->shared[cur->n_shared] = strdup(id);
	if (!cur->shared[cur->n_shared])
		return -ENOMEM;
	cur->shared_fp[cur->n_shared] = (struct ike_cur_fp){ .known = false };
	cur->n_shared++;
	return 0;
}

void ike_cur_set_shared_fp(struct ike_cur *cur, const char *id, const uint8_t *fp)
{
	for (size_t i = 0; i < cur->n_shared; i++) {
		if (strcmp(cur->shared[i], id))
			continue;
		cur->shared_fp[i].known = true;
		memcpy(cur->shared_fp[i].fp, fp, IKE_PSK_FP_LEN);
	}
}

int ike_key_note(struct ike *ike, const char *id, const uint8_t *fp)
{
	struct ike_key *k = NULL;

	for (size_t i = 0; i < ike->n_keys; i++)
		if (!strcmp(ike->keys[i].id, id))
			k = &ike->keys[i];
	if (!fp) {
		if (k)
			*k = ike->keys[--ike->n_keys];
		return 0;
	}
	if (!k) {
		k = realloc(ike->keys, (ike->n_keys + 1) * sizeof(*k));
		if (!k)
			return -ENOMEM;
		ike->keys = k;
		k = &ike->keys[ike->n_keys++];
		snprintf(k->id, sizeof(k->id), "%s", id);
	}
	memcpy(k->fp, fp, IKE_PSK_FP_LEN);
	return 0;
}

/* What the agent remembers of charon's keys; keys charon no longer holds (it was
 * restarted) are forgotten, so a later key of the same id is loaded again. */
static void ike_cur_apply_keys(struct ike *ike, struct ike_cur *cur)
{
	for (size_t i = 0; i < ike->n_keys;) {
		bool held = false;

		for (size_t j = 0; j < cur->n_shared && !held; j++)
			held = !strcmp(cur->shared[j], ike->keys[i].id);
		if (!held) {
			ike->keys[i] = ike->keys[--ike->n_keys];
			continue;
		}
		ike_cur_set_shared_fp(cur, ike->keys[i].id, ike->keys[i].fp);
		i++;
	}
}

struct ike_read {
	struct ike_cur *cur;
	int err;
};

/* list-conn: { <conn> { ... children { <child> { ... } } } } */
static void ike_cur_on_conn(const char *name, const struct vici_node *ev, void *data)
{
	struct ike_read *r = data;

	(void)name;
	if (!ev) {
		r->err = vici_errno(VICI_FAIL_PROTOCOL, NULL);
		return;
	}
	for (size_t i = 0; i < ev->n_kids; i++) {
		const struct vici_node *conn = &ev->kids[i];
		const struct vici_node *kids = vici_node_get(conn, "children");
		const char *child = NULL;

		if (conn->type != VICI_NODE_SECTION)
			continue;
		if (kids && kids->type == VICI_NODE_SECTION && kids->n_kids == 1)
			child = kids->kids[0].name;
		if (!ike_cur_add_conn(r->cur, conn->name, child))
			r->err = -ENOMEM;
	}
}

static struct ike_cur_conn *ike_cur_find(struct ike_cur *cur, const char *name)
{
	for (size_t i = 0; i < cur->n; i++)
		if (!strcmp(cur->conns[i].name, name))
			return &cur->conns[i];
	return NULL;
}

/* list-sa: { <ike name> { state=.. child-sas { <x> { state=.. } } } } */
static void ike_cur_on_sa(const char *name, const struct vici_node *ev, void *data)
{
	struct ike_read *r = data;

	(void)name;
	for (size_t i = 0; ev && i < ev->n_kids; i++) {
		const struct vici_node *sa = &ev->kids[i];
		struct ike_cur_conn *c = ike_cur_find(r->cur, sa->name ? sa->name : "");
		const struct vici_node *kids = vici_node_get(sa, "child-sas");
		enum ike_state_class st =
			ike_state_ike_class(ike_state_ike_parse(vici_node_str(sa, "state")));
		bool installed = false;

		if (!c || sa->type != VICI_NODE_SECTION)
			continue;
		for (size_t k = 0; kids && k < kids->n_kids; k++) {
			enum ike_state_class cs = ike_state_child_class(
				ike_state_child_parse(vici_node_str(&kids->kids[k], "state")));

			if (cs == IKE_STATE_UP)
				installed = true;
			else if (cs == IKE_STATE_CONNECTING)
				c->sa_connecting = true;
		}
		if (st == IKE_STATE_UP && installed)
			c->sa_up = true;
		else if (st == IKE_STATE_UP || st == IKE_STATE_CONNECTING)
			c->sa_connecting = true;
	}
}

static int ike_cur_read_shared(struct vici_conn *vc, struct ike_cur *cur)
{
	struct vici_node *reply = NULL;
	const struct vici_node *keys;
	int rc = vici_call(vc, "get-shared", NULL, &reply);

	if (rc)
		goto out;
	keys = vici_node_get(reply, "keys");
	for (size_t i = 0; keys && keys->type == VICI_NODE_LIST && i < keys->n_kids; i++) {
		rc = ike_cur_add_shared(cur, keys->kids[i].value);
		if (rc)
			goto out;
	}
out:
	vici_node_free(reply);
	return rc;
}

int ike_cur_read(struct vici_conn *vc, struct ike_cur *cur)
{
	struct ike_read r = { .cur = cur };
	int rc;

	rc = vici_call_stream(vc, "list-conns", NULL, "list-conn", ike_cur_on_conn, &r);
	if (!rc)
		rc = r.err;
	if (!rc)
		rc = ike_cur_read_shared(vc, cur);
	if (!rc)
		rc = vici_call_stream(vc, "list-sas", NULL, "list-sa", ike_cur_on_sa, &r);
	return rc ? rc : r.err;
}

/* ---- the plane's context ---- */

struct ike *ike_new(const char *vici_path)
{
	struct ike *ike = calloc(1, sizeof(*ike));

	if (!ike)
		return NULL;
	ike->vici_path = vici_path ? strdup(vici_path) : NULL;
	ike->vc = vici_conn_new();
	if ((vici_path && !ike->vici_path) || !ike->vc) {
		ike_free(ike);
		return NULL;
	}
	return ike;
}

void ike_free(struct ike *ike)
{
	if (!ike)
		return;
	vici_conn_free(ike->vc);
	free(ike->vici_path);
	free(ike->retry);
	free(ike->keys);
	free(ike);
}

void ike_set_events(struct ike *ike, struct ike_events *ev)
{
	ike->ev = ev;
}

/* (Re)connects lazily: charon may have been restarted since the last call. */
static int ike_connect(struct ike *ike)
{
	if (vici_conn_fd(ike->vc) >= 0)
		return 0;
	/* A new connection may be a new charon: it has none of our credentials. */
	ike->creds_ok = false;
	return vici_conn_open(ike->vc, ike->vici_path);
}

/* New timers for in's tunnels, keeping those of tunnels that stay. */
static int ike_retry_track(struct ike *ike, const struct intent *in)
{
	size_t n = in ? in->n_tunnels : 0;
	struct ike_retry *nr = calloc(n ? n : 1, sizeof(*nr));

	if (!nr)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		snprintf(nr[i].id, sizeof(nr[i].id), "%s", in->tunnels[i].id);
		for (size_t j = 0; j < ike->n_retry; j++)
			if (!strcmp(ike->retry[j].id, nr[i].id))
				nr[i] = ike->retry[j];
	}
	free(ike->retry);
	ike->retry = nr;
	ike->n_retry = n;
	ike->in = in;
	return 0;
}

void ike_retry_reset(struct ike *ike, size_t i)
{
	if (i < ike->n_retry) {
		ike->retry[i].next_ms = 0;
		ike->retry[i].backoff_ms = 0;
		ike->retry[i].last_initiate_ms = 0;
	}
}

/* A command on tunnel i's CHILD_SA ("initiate", "rekey"): its child and IKE names,
 * extra options, charon's refusal kept as the tunnel's error. */
static int ike_child_cmd(struct ike *ike, size_t i, const char *cmd, bool async)
{
	const struct intent_tunnel *t = &ike->in->tunnels[i];
	struct vici_msg *m = NULL;
	char child[IKE_CHILD_MAX + 1], err[160];
	int rc = ike_child_name(t, ike->in->ca, child, sizeof(child));

	if (!rc)
		rc = ike_connect(ike);
	if (rc)
		goto out;
	rc = -ENOMEM;
	if (!(m = vici_msg_new()))
		goto out;
	vici_msg_kv(m, "child", child);
	vici_msg_kv(m, "ike", t->id);
	if (async) {
		/* Negative timeout: charon queues the initiation and answers at once. */
		vici_msg_kv(m, "timeout", "-1");
		vici_msg_kv(m, "init-limits", "no");
	}
	rc = vici_call_check(ike->vc, cmd, m, err, sizeof(err));
	if (rc && ike->ev)
		ike_events_set_error(ike->ev, t->id, "%s: %s", cmd, err);
out:
	vici_msg_free(m);
	return rc;
}

int ike_initiate(struct ike *ike, size_t i, int64_t now_ms)
{
	struct ike_retry *r;

	if (!ike->in || i >= ike->in->n_tunnels || i >= ike->n_retry)
		return -EINVAL;
	r = &ike->retry[i];
	r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : IKE_RETRY_MIN_MS;
	if (r->backoff_ms > IKE_RETRY_MAX_MS)
		r->backoff_ms = IKE_RETRY_MAX_MS;
	r->next_ms = now_ms + r->backoff_ms;
	r->last_initiate_ms = now_ms;
	return ike_child_cmd(ike, i, "initiate", true);
}

int ike_rekey(struct ike *ike, size_t i)
{
	if (!ike->in || i >= ike->in->n_tunnels)
		return -EINVAL;
	return ike_child_cmd(ike, i, "rekey", false);
}

int ike_acquire(struct ike *ike, uint32_t reqid, int64_t now_ms)
{
	size_t i;

	for (i = 0; ike->in && i < ike->in->n_tunnels; i++)
		if (ike->in->tunnels[i].reqid == reqid)
			break;
	if (!ike->in || i == ike->in->n_tunnels)
		return -ENOENT;
	/* The kernel acquires per flow and direction; one initiation serves them all. */
	if (ike->retry[i].last_initiate_ms &&
	    now_ms - ike->retry[i].last_initiate_ms < IKE_ACQUIRE_HOLD_MS)
		return 0;
	if (ike->ev && !ike_events_refresh_one(ike->ev, ike->in->tunnels[i].id) &&
	    (ike_events_up(ike->ev, ike->in->tunnels[i].id) ||
	     ike_events_connecting(ike->ev, ike->in->tunnels[i].id)))
		return 0;
	ike->retry[i].backoff_ms = 0;
	return ike_initiate(ike, i, now_ms);
}

static bool ike_wants_start(const struct intent_tunnel *t)
{
	return t->sec.start == INTENT_START_ALWAYS && t->sec.initiator;
}

/* Needs the events table: without live state a retry could duplicate an SA. */
int ike_tick(struct ike *ike, int64_t now_ms)
{
	int first = 0;

	if (!ike->in || !ike->ev)
		return 0;
	for (size_t i = 0; i < ike->in->n_tunnels && i < ike->n_retry; i++) {
		const struct intent_tunnel *t = &ike->in->tunnels[i];
		struct ike_retry *r = &ike->retry[i];
		int rc;

		if (!ike_wants_start(t) || !r->next_ms || now_ms < r->next_ms)
			continue;
		rc = ike_events_refresh_one(ike->ev, t->id);
		if (!rc && ike_events_up(ike->ev, t->id)) {
			ike_retry_reset(ike, i);
			continue;
		}
		if (!rc && ike_events_connecting(ike->ev, t->id)) {
			r->next_ms = now_ms + IKE_RETRY_MIN_MS;
			continue;
		}
		rc = ike_initiate(ike, i, now_ms);
		if (rc && !first)
			first = rc;
	}
	return first;
}

int64_t ike_next_timeout_ms(const struct ike *ike, int64_t now_ms)
{
	int64_t best = -1;

	for (size_t i = 0; ike->in && i < ike->in->n_tunnels && i < ike->n_retry; i++) {
		int64_t d;

		if (!ike_wants_start(&ike->in->tunnels[i]) || !ike->retry[i].next_ms)
			continue;
		d = ike->retry[i].next_ms - now_ms;
		if (d < 0)
			d = 0;
		if (best < 0 || d < best)
			best = d;
	}
	return best;
}

int ike_apply(struct ike *ike, const struct intent *in, FILE *dry)
{
	struct ike_cur *cur = ike_cur_new();
	struct ike_plan *p = ike_plan_new();
	int rc = -ENOMEM;

	if (!cur || !p)
		goto out;
	rc = ike_connect(ike);
	if (!rc && !dry)
		rc = ike_creds_sync(ike, in);
	if (!rc)
		rc = ike_cur_read(ike->vc, cur);
	if (!rc)
		ike_cur_apply_keys(ike, cur);
	if (!rc)
		rc = ike_plan_compute(in, cur, p);
	if (rc)
		goto out;
	if (dry) {
		ike_plan_print(p, in, dry);
		goto out;
	}
	rc = ike_retry_track(ike, in);
	if (!rc && ike->ev)
		rc = ike_events_track(ike->ev, in);
	if (!rc)
		rc = ike_plan_apply(ike, in, p);
out:
	ike_plan_free(p);
	ike_cur_free(cur);
	return rc;
}
