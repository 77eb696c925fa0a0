/* The IKE plan: intent against charon's conns, shared keys and SAs, to the fewest
 * VICI commands; printable for --dry-run, then applied. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike.h"
#include "ike_events.h"
#include "log.h"
#include "vici.h"

static const char *const ike_op_names[] = {
	[IKE_OP_TERMINATE] = "terminate",
	[IKE_OP_UNLOAD_CONN] = "unload-conn",
	[IKE_OP_UNLOAD_SHARED] = "unload-shared",
	[IKE_OP_LOAD_SHARED] = "load-shared",
	[IKE_OP_LOAD_CONN] = "load-conn",
	[IKE_OP_INITIATE] = "initiate",
};

struct ike_plan *ike_plan_new(void)
{
	return calloc(1, sizeof(struct ike_plan));
}

void ike_plan_free(struct ike_plan *p)
{
	if (!p)
		return;
	free(p->acts);
	free(p->fails);
	free(p);
}

static struct ike_action *ike_plan_add(struct ike_plan *p, enum ike_op op, int tunnel,
				       const char *name, const char *child)
{
	struct ike_action *a;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;

		a = realloc(p->acts, cap * sizeof(*a));
		if (!a)
			return NULL;
		p->acts = a;
		p->cap = cap;
	}
	a = &p->acts[p->n++];
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->tunnel = tunnel;
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->child, sizeof(a->child), "%s", child ? child : "");
	return a;
}

static int ike_plan_fail(struct ike_plan *p, int tunnel, const char *msg)
{
	if (p->n_fails == p->cap_fails) {
		size_t cap = p->cap_fails ? p->cap_fails * 2 : 8;
		struct ike_fail *f = realloc(p->fails, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		p->fails = f;
		p->cap_fails = cap;
	}
	p->fails[p->n_fails].tunnel = tunnel;
	snprintf(p->fails[p->n_fails].msg, sizeof(p->fails[0].msg), "%s", msg);
	p->n_fails++;
	return 0;
}

/* The --dry-run text; never the PSK. */
static void ike_plan_line(struct ike_action *a, const struct intent *in)
{
	const struct intent_tunnel *t = a->tunnel >= 0 ? &in->tunnels[a->tunnel] : NULL;
	const char *op = ike_op_names[a->op];
	char l[ADDR_STRLEN], r[ADDR_STRLEN];

	if (!t || a->op == IKE_OP_TERMINATE || a->op == IKE_OP_UNLOAD_SHARED) {
		snprintf(a->line, sizeof(a->line), "ike %s %s", op, a->name);
		return;
	}
	if (a->op == IKE_OP_LOAD_SHARED) {
		snprintf(a->line, sizeof(a->line), "ike %s %s owners %s %s", op, a->name,
			 t->sec.local_id ? t->sec.local_id : (addr_fmt(&t->local, l, sizeof(l)), l),
			 t->sec.remote_id ? t->sec.remote_id : (addr_fmt(&t->remote, r, sizeof(r)), r));
		return;
	}
	if (a->op == IKE_OP_INITIATE) {
		snprintf(a->line, sizeof(a->line), "ike %s %s child %s", op, a->name, a->child);
		return;
	}
	addr_fmt(&t->local, l, sizeof(l));
	addr_fmt(&t->remote, r, sizeof(r));
	snprintf(a->line, sizeof(a->line),
		 "ike %s %s child %s %s->%s %s %s reqid %u start %s%s%s", op, a->name,
		 a->child, l, r, intent_mode_name(t->sec.mode),
		 intent_proto_name(t->sec.protocol), t->reqid, intent_start_name(t->sec.start),
		 t->sec.initiator ? " initiator" : "", t->sec.udp_encap ? " encap" : "");
}

/* charon holds the key id and it is known to be the one with fingerprint fp. */
static bool ike_cur_has_key(const struct ike_cur *cur, const char *id, const uint8_t *fp)
{
	for (size_t i = 0; i < cur->n_shared; i++)
		if (!strcmp(cur->shared[i], id))
			return cur->shared_fp[i].known &&
			       !memcmp(cur->shared_fp[i].fp, fp, IKE_PSK_FP_LEN);
	return false;
}

static const struct ike_cur_conn *ike_cur_conn_get(const struct ike_cur *cur, const char *name)
{
	for (size_t i = 0; i < cur->n; i++)
		if (!strcmp(cur->conns[i].name, name))
			return &cur->conns[i];
	return NULL;
}

/* Adds an action, or -ENOMEM. */
static int ike_plan_push(struct ike_plan *p, enum ike_op op, int tunnel, const char *name,
			 const char *child)
{
	return ike_plan_add(p, op, tunnel, name, child) ? 0 : -ENOMEM;
}

static int ike_plan_tunnel(const struct intent *in, size_t i, const struct ike_cur *cur,
			   struct ike_plan *p)
{
	const struct intent_tunnel *t = &in->tunnels[i];
	const struct ike_cur_conn *c = ike_cur_conn_get(cur, t->id);
	bool start = t->sec.start == INTENT_START_ALWAYS && t->sec.initiator;
	char child[IKE_CHILD_MAX + 1], legacy[IKE_CHILD_MAX + 1], shared[IKE_SHARED_MAX + 1];
	char msg[160];
	uint8_t fp[IKE_PSK_FP_LEN];
	bool load, renamed = false;
	int rc;

	if (c && !c->owned) {
		snprintf(msg, sizeof(msg), "charon has a connection named %s that the agent "
			 "does not own", t->id);
		return ike_plan_fail(p, (int)i, msg);
	}
	rc = ike_child_name(t, in->ca, child, sizeof(child));
	if (!rc)
		rc = ike_psk_fp(t, fp);
	if (rc)
		return rc;
	ike_shared_name(t, shared, sizeof(shared));
	load = !c || strcmp(c->child, child);
	/* Loaded by an agent whose child names hashed the psk too: the same conn. */
	if (load && c && !ike_child_name_legacy(t, legacy, sizeof(legacy)))
		renamed = !strcmp(c->child, legacy);
	if (load || !ike_cur_has_key(cur, shared, fp))
		rc = ike_plan_push(p, IKE_OP_LOAD_SHARED, (int)i, shared, NULL);
	if (!rc && load)
		rc = ike_plan_push(p, IKE_OP_LOAD_CONN, (int)i, t->id, child);
	/* SAs negotiated under the old parameters go, so the new ones apply now. */
	if (!rc && load && !renamed && c && (c->sa_up || c->sa_connecting))
		rc = ike_plan_push(p, IKE_OP_TERMINATE, (int)i, t->id, NULL);
	if (!rc && start && ((load && !renamed) || (!c->sa_up && !c->sa_connecting)))
		rc = ike_plan_push(p, IKE_OP_INITIATE, (int)i, t->id, child);
	return rc;
}

static int ike_plan_removals(const struct intent *in, const struct ike_cur *cur,
			     struct ike_plan *p)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < cur->n; i++) {
		const struct ike_cur_conn *c = &cur->conns[i];

		if (!c->owned || (in && intent_tunnel_by_id(in, c->name)))
			continue;
		if (c->sa_up || c->sa_connecting)
			rc = ike_plan_push(p, IKE_OP_TERMINATE, -1, c->name, NULL);
		if (!rc)
			rc = ike_plan_push(p, IKE_OP_UNLOAD_CONN, -1, c->name, NULL);
	}
	for (size_t i = 0; !rc && i < cur->n_shared; i++) {
		const char *id = cur->shared[i];
		size_t pl = sizeof(IKE_SHARED_PREFIX) - 1;

		if (strncmp(id, IKE_SHARED_PREFIX, pl) || strlen(id) > IKE_SHARED_MAX ||
		    (in && intent_tunnel_by_id(in, id + pl)))
			continue;
		rc = ike_plan_push(p, IKE_OP_UNLOAD_SHARED, -1, id, NULL);
	}
	return rc;
}

static int ike_action_cmp(const void *a, const void *b)
{
	const struct ike_action *x = a, *y = b;

	if (x->op != y->op)
		return x->op < y->op ? -1 : 1;
	return strcmp(x->line, y->line);
}

int ike_plan_compute(const struct intent *in, const struct ike_cur *cur, struct ike_plan *p)
{
	int rc = 0;

	for (size_t i = 0; !rc && in && i < in->n_tunnels; i++)
		rc = ike_plan_tunnel(in, i, cur, p);
	if (!rc)
		rc = ike_plan_removals(in, cur, p);
	if (rc)
		return rc;
	for (size_t i = 0; i < p->n; i++)
		ike_plan_line(&p->acts[i], in);
	if (p->n)
		qsort(p->acts, p->n, sizeof(*p->acts), ike_action_cmp);
	return 0;
}

void ike_plan_print(const struct ike_plan *p, const struct intent *in, FILE *f)
{
	for (size_t i = 0; i < p->n_fails; i++)
		fprintf(f, "fail tunnel %s: %s\n", in->tunnels[p->fails[i].tunnel].id,
			p->fails[i].msg);
	for (size_t i = 0; i < p->n; i++)
		fprintf(f, "%s\n", p->acts[i].line);
}

static struct vici_msg *ike_name_msg(const char *key, const char *name, bool async)
{
	struct vici_msg *m = vici_msg_new();

	if (!m)
		return NULL;
	vici_msg_kv(m, key, name);
	if (async)
		vici_msg_kv(m, "timeout", "-1");
	return m;
}

/* One action; err gets charon's errmsg. */
static int ike_plan_do(struct ike *ike, const struct intent *in, struct ike_action *a,
		       char *err, size_t errlen)
{
	const struct intent_tunnel *t = a->tunnel >= 0 ? &in->tunnels[a->tunnel] : NULL;
	static const char *const cmds[] = {
		[IKE_OP_TERMINATE] = "terminate", [IKE_OP_UNLOAD_CONN] = "unload-conn",
		[IKE_OP_UNLOAD_SHARED] = "unload-shared", [IKE_OP_LOAD_SHARED] = "load-shared",
		[IKE_OP_LOAD_CONN] = "load-conn",
	};
	struct vici_msg *m = NULL;
	int rc;

	if (a->op == IKE_OP_INITIATE)
		return ike_initiate(ike, (size_t)a->tunnel, ike_now_ms());
	if (a->op == IKE_OP_TERMINATE)
		m = ike_name_msg("ike", a->name, true);
	else if (a->op == IKE_OP_UNLOAD_CONN)
		m = ike_name_msg("name", a->name, false);
	else if (a->op == IKE_OP_UNLOAD_SHARED)
		m = ike_name_msg("id", a->name, false);
	else if (a->op == IKE_OP_LOAD_SHARED && t)
		m = ike_shared_msg(t);
	else if (t)
		m = ike_conn_msg(t, in->ca, a->child);
	if (!m)
		return -ENOMEM;
	rc = vici_call_check(ike->vc, cmds[a->op], m, err, errlen);
	vici_msg_free(m);
	/* Gone already is what a removal wants. */
	if ((rc == -ESRCH || rc == -ENOENT) && a->op != IKE_OP_LOAD_SHARED &&
	    a->op != IKE_OP_LOAD_CONN)
		rc = 0;
	return rc;
}

static bool ike_plan_loads(const struct ike_plan *p, int tunnel)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->acts[i].tunnel == tunnel && p->acts[i].op == IKE_OP_LOAD_CONN)
			return true;
	return false;
}

/* A new or changed conn starts at once; a tunnel that merely is still down keeps
 * its backoff, so a resync every few seconds does not hammer an unreachable peer. */
static bool ike_plan_start_due(struct ike *ike, const struct ike_plan *p,
			       const struct ike_action *a)
{
	size_t i = (size_t)a->tunnel;

	if (ike_plan_loads(p, a->tunnel)) {
		ike_retry_reset(ike, i);
		return true;
	}
	return i >= ike->n_retry || ike->retry[i].next_ms <= ike_now_ms();
}

/* Keeps ike's record of charon's keys: a loaded key's fingerprint, nothing for one
 * unloaded or whose load failed (charon's copy is then unknown). */
static void ike_plan_note_key(struct ike *ike, const struct intent *in,
			      const struct ike_action *a)
{
	uint8_t fp[IKE_PSK_FP_LEN];
	bool known = a->op == IKE_OP_LOAD_SHARED && !a->err && a->tunnel >= 0 &&
		     !ike_psk_fp(&in->tunnels[a->tunnel], fp);

	if (a->op != IKE_OP_LOAD_SHARED && a->op != IKE_OP_UNLOAD_SHARED)
		return;
	if (ike_key_note(ike, a->name, known ? fp : NULL))
		ike_key_note(ike, a->name, NULL);	/* OOM: unknown, loaded again next pass */
}

static bool ike_plan_tunnel_failed(const struct ike_plan *p, int tunnel, size_t upto)
{
	for (size_t i = 0; i < upto; i++)
		if (p->acts[i].tunnel == tunnel && p->acts[i].err)
			return true;
	return false;
}

int ike_plan_apply(struct ike *ike, const struct intent *in, struct ike_plan *p)
{
	int first = 0;

	for (size_t i = 0; i < p->n_fails; i++) {
		const char *id = in->tunnels[p->fails[i].tunnel].id;

		log_err("tunnel %s: %s", id, p->fails[i].msg);
		if (ike->ev)
			ike_events_set_error(ike->ev, id, "%s", p->fails[i].msg);
	}
	for (size_t i = 0; i < p->n; i++) {
		struct ike_action *a = &p->acts[i];
		char err[160] = "";

		/* A tunnel whose key or conn failed to load is not started. */
		if (a->tunnel >= 0 && ike_plan_tunnel_failed(p, a->tunnel, i)) {
			a->err = -ECANCELED;
			continue;
		}
		if (a->op == IKE_OP_INITIATE && !ike_plan_start_due(ike, p, a))
			continue;
		log_debug("%s", a->line);
		a->err = ike_plan_do(ike, in, a, err, sizeof(err));
		ike_plan_note_key(ike, in, a);
		if (!a->err)
			continue;
		if (!first)
			first = a->err;
		log_warn("tunnel %s: %s failed: %s", a->name, ike_op_names[a->op],
			 err[0] ? err : strerror(-a->err));
		if (ike->ev && a->tunnel >= 0)
			ike_events_set_error(ike->ev, in->tunnels[a->tunnel].id, "%s: %s",
					     ike_op_names[a->op], err[0] ? err : strerror(-a->err));
	}
	return first;
}
