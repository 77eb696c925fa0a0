/* Per-tunnel IKE state from charon's events and list-sas. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exporter.h"
#include "ike_events.h"
#include "log.h"
#include "vici.h"

static const char *const ike_events_names[] = {
	"ike-updown", "child-updown", "ike-rekey", "child-rekey", "log",
};

/* Words of charon's level 0/1 messages that tell an operator why a tunnel is not
 * up (AUTHENTICATION_FAILED, NO_PROPOSAL_CHOSEN, retransmits given up, ...). */
static const char *const ike_events_err_words[] = {
	"fail", "error", "giving up", "not responding", "no proposal", "mismatch",
	"no matching", "unable", "invalid", "unacceptable",
};

/* Passes of "an event arrived while re-reading" before the rest waits for the next
 * dispatch: bounds the work per poll wakeup. */
#define IKE_EVENTS_PASSES 3

struct ike_events *ike_events_new(const char *vici_path)
{
	struct ike_events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return NULL;
	ev->vici_path = vici_path ? strdup(vici_path) : NULL;
	ev->vc = vici_conn_new();
	if ((vici_path && !ev->vici_path) || !ev->vc) {
		ike_events_free(ev);
		return NULL;
	}
	return ev;
}

void ike_events_free(struct ike_events *ev)
{
	if (!ev)
		return;
	vici_conn_free(ev->vc);
	free(ev->vici_path);
	free(ev->st);
	free(ev);
}

struct ike_status *ike_events_get(struct ike_events *ev, const char *id)
{
	for (size_t i = 0; id && i < ev->n; i++)
		if (!strcmp(ev->st[i].id, id))
			return &ev->st[i];
	return NULL;
}

void ike_events_reset(struct ike_status *st)
{
	st->ike_state = IKE_SA_NONE;
	st->child_state = CHILD_SA_NONE;
	st->reqid = 0;
	st->bytes_in = st->bytes_out = st->packets_in = st->packets_out = 0;
}

int ike_events_track(struct ike_events *ev, const struct intent *in)
{
	size_t n = in ? in->n_tunnels : 0;
	struct ike_status *ns = calloc(n ? n : 1, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct ike_status *old = ike_events_get(ev, in->tunnels[i].id);

		if (old) {
			ns[i] = *old;
			continue;
		}
		snprintf(ns[i].id, sizeof(ns[i].id), "%s", in->tunnels[i].id);
		ike_events_reset(&ns[i]);
		ns[i].stale = true;
	}
	free(ev->st);
	ev->st = ns;
	ev->n = n;
	ev->dirty = true;
	return 0;
}

/* Of several SAs of one tunnel (during a rekey, or one per direction of a race), the
 * best state is the tunnel's. */
static void ike_events_set_ike(struct ike_status *st, enum ike_sa_state s)
{
	if (ike_state_ike_rank(s) > ike_state_ike_rank(st->ike_state))
		st->ike_state = s;
}

static void ike_events_set_child(struct ike_status *st, enum child_sa_state s)
{
	if (ike_state_child_rank(s) > ike_state_child_rank(st->child_state))
		st->child_state = s;
}

/* Counters of every SA that still carries traffic (the new one and, during a
 * rekey, the old one). */
static void ike_events_add_child(struct ike_status *st, const struct vici_node *c)
{
	enum child_sa_state s = ike_state_child_parse(vici_node_str(c, "state"));

	ike_events_set_child(st, s);
	if (ike_state_child_class(s) != IKE_STATE_UP)
		return;
	st->reqid = (uint32_t)vici_node_u64(c, "reqid", st->reqid);
	st->bytes_in += vici_node_u64(c, "bytes-in", 0);
	st->bytes_out += vici_node_u64(c, "bytes-out", 0);
	st->packets_in += vici_node_u64(c, "packets-in", 0);
	st->packets_out += vici_node_u64(c, "packets-out", 0);
}

void ike_events_apply_sa(struct ike_events *ev, const struct vici_node *msg)
{
	for (size_t i = 0; msg && i < msg->n_kids; i++) {
		const struct vici_node *sa = &msg->kids[i];
		const struct vici_node *kids = vici_node_get(sa, "child-sas");
		struct ike_status *st;

		if (sa->type != VICI_NODE_SECTION || !(st = ike_events_get(ev, sa->name)))
			continue;
		ike_events_set_ike(st, ike_state_ike_parse(vici_node_str(sa, "state")));
		for (size_t k = 0; kids && k < kids->n_kids; k++)
			if (kids->kids[k].type == VICI_NODE_SECTION)
				ike_events_add_child(st, &kids->kids[k]);
	}
}

static void ike_events_on_sa(const char *name, const struct vici_node *msg, void *data)
{
	(void)name;
	ike_events_apply_sa(data, msg);
}

static bool ike_events_is_error(const char *msg)
{
	for (size_t i = 0; msg && i < sizeof(ike_events_err_words) / sizeof(ike_events_err_words[0]); i++)
		if (strcasestr(msg, ike_events_err_words[i]))
			return true;
	return false;
}

static void ike_events_on_log(struct ike_events *ev, const struct vici_node *msg)
{
	struct ike_status *st = ike_events_get(ev, vici_node_str(msg, "ikesa-name"));
	const char *text = vici_node_str(msg, "msg");

	if (!st || vici_node_u64(msg, "level", 99) > 1 || !ike_events_is_error(text))
		return;
	snprintf(st->last_error, sizeof(st->last_error), "%s", text);
	st->errors++;
	st->up_since_error = false;
	ev->dirty = true;
}

/* An SA of the tunnel came up or was rekeyed: what the tunnel does after an error. */
static bool ike_events_is_progress(const char *name, const struct vici_node *msg)
{
	if (!strcmp(name, "ike-rekey") || !strcmp(name, "child-rekey"))
		return true;
	return (!strcmp(name, "ike-updown") || !strcmp(name, "child-updown")) &&
	       !strcmp(vici_node_str(msg, "up") ? vici_node_str(msg, "up") : "", "yes");
}

bool ike_events_clear_error(struct ike_status *st)
{
	if (!st->last_error[0] || !st->up_since_error ||
	    ike_state_ike_class(st->ike_state) != IKE_STATE_UP ||
	    ike_state_child_class(st->child_state) != IKE_STATE_UP)
		return false;
	log_info("tunnel %s: up since its last error (\"%s\"), cleared; %u error(s) so far",
		 st->id, st->last_error, st->errors);
	st->last_error[0] = '\0';
	st->up_since_error = false;
	return true;
}

/* Marks the tunnels an event names for a re-read; never calls charon from here (the
 * connection is in the middle of reading). */
static void ike_events_on_event(const char *name, const struct vici_node *msg, void *data)
{
	struct ike_events *ev = data;

	if (!msg)
		return;
	agent_counters.charon_events++;
	if (!strcmp(name, "log")) {
		ike_events_on_log(ev, msg);
		return;
	}
	for (size_t i = 0; i < msg->n_kids; i++) {
		struct ike_status *st;

		if (msg->kids[i].type != VICI_NODE_SECTION ||
		    !(st = ike_events_get(ev, msg->kids[i].name)))
			continue;
		if (!strcmp(name, "ike-rekey"))
			st->ike_rekeys++;
		else if (!strcmp(name, "child-rekey"))
			st->child_rekeys++;
		if (st->last_error[0] && ike_events_is_progress(name, msg))
			st->up_since_error = true;
		st->stale = true;
		ev->dirty = true;
	}
}

int ike_events_open(struct ike_events *ev)
{
	int rc;

	if (vici_conn_fd(ev->vc) >= 0)
		return 0;
	rc = vici_conn_open(ev->vc, ev->vici_path);
	if (rc)
		return rc;
	vici_conn_set_cb(ev->vc, ike_events_on_event, ev);
	for (size_t i = 0; !rc && i < sizeof(ike_events_names) / sizeof(ike_events_names[0]); i++)
		rc = vici_register(ev->vc, ike_events_names[i]);
	if (!rc)
		rc = ike_events_refresh(ev);
	if (rc)
		vici_conn_close(ev->vc);
	return rc;
}

int ike_events_fd(const struct ike_events *ev)
{
	return vici_conn_fd(ev->vc);
}

static void ike_events_down(struct ike_events *ev)
{
	for (size_t i = 0; i < ev->n; i++) {
		ike_events_reset(&ev->st[i]);
		ev->st[i].stale = false;
	}
	ev->dirty = true;
}

static bool ike_events_same(const struct ike_status *a, const struct ike_status *b)
{
	return a->ike_state == b->ike_state && a->child_state == b->child_state;
}

int ike_events_refresh_one(struct ike_events *ev, const char *id)
{
	struct ike_status *st = ike_events_get(ev, id);
	struct ike_status before;
	struct vici_msg *m;
	int rc;

	if (!st)
		return -ENOENT;
	if (vici_conn_fd(ev->vc) < 0)
		return -ENOTCONN;
	m = vici_msg_new();
	if (!m)
		return -ENOMEM;
	vici_msg_kv(m, "ike", id);
	vici_msg_kv(m, "noblock", "yes");
	before = *st;
	st->stale = false;
	ike_events_reset(st);
	rc = vici_call_stream(ev->vc, "list-sas", m, "list-sa", ike_events_on_sa, ev);
	vici_msg_free(m);
	st = ike_events_get(ev, id);
	if (rc && vici_conn_fd(ev->vc) < 0)
		ike_events_down(ev);
	else if (st && !ike_events_same(&before, st))
		ev->dirty = true;
	if (!rc && st && ike_events_clear_error(st))
		ev->dirty = true;
	return rc;
}

int ike_events_refresh(struct ike_events *ev)
{
	struct vici_msg *m = vici_msg_new();
	int rc;

	if (!m)
		return -ENOMEM;
	vici_msg_kv(m, "noblock", "yes");
	for (size_t i = 0; i < ev->n; i++) {
		ike_events_reset(&ev->st[i]);
		ev->st[i].stale = false;
	}
	rc = vici_call_stream(ev->vc, "list-sas", m, "list-sa", ike_events_on_sa, ev);
	vici_msg_free(m);
	if (rc && vici_conn_fd(ev->vc) < 0)
		ike_events_down(ev);
	ev->dirty = true;
	return rc;
}

int ike_events_dispatch(struct ike_events *ev)
{
	int rc = vici_dispatch(ev->vc);

	if (rc) {
		ike_events_down(ev);
		return rc;
	}
	for (int pass = 0; pass < IKE_EVENTS_PASSES; pass++) {
		bool any = false;

		for (size_t i = 0; !rc && i < ev->n; i++) {
			if (!ev->st[i].stale)
				continue;
			any = true;
			rc = ike_events_refresh_one(ev, ev->st[i].id);
		}
		if (rc || !any)
			break;
	}
	return rc;
}

bool ike_events_take_dirty(struct ike_events *ev)
{
	bool d = ev->dirty;

	ev->dirty = false;
	return d;
}

bool ike_events_up(struct ike_events *ev, const char *id)
{
	const struct ike_status *st = ike_events_get(ev, id);

	return st && ike_state_ike_class(st->ike_state) == IKE_STATE_UP &&
	       ike_state_child_class(st->child_state) == IKE_STATE_UP;
}

/* On its way up: an IKE_SA negotiating, or an established one creating the child. */
bool ike_events_connecting(struct ike_events *ev, const char *id)
{
	const struct ike_status *st = ike_events_get(ev, id);

	if (!st || ike_events_up(ev, id))
		return false;
	return ike_state_ike_class(st->ike_state) == IKE_STATE_CONNECTING ||
	       ike_state_child_class(st->child_state) == IKE_STATE_CONNECTING;
}

void ike_events_set_error(struct ike_events *ev, const char *id, const char *fmt, ...)
{
	struct ike_status *st = ike_events_get(ev, id);
	va_list ap;

	if (!st)
		return;
	va_start(ap, fmt);
	vsnprintf(st->last_error, sizeof(st->last_error), fmt, ap);
	va_end(ap);
	st->errors++;
	st->up_since_error = false;
	ev->dirty = true;
}

json_t *ike_events_status_json(struct ike_events *ev, const char *id)
{
	const struct ike_status *st = ike_events_get(ev, id);

	if (!st)
		return NULL;
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?}",
			 "ike_state", ike_state_ike_name(st->ike_state),
			 "child_state", ike_state_child_name(st->child_state),
			 "reqid", (json_int_t)st->reqid,
			 "bytes_in", (json_int_t)st->bytes_in,
			 "bytes_out", (json_int_t)st->bytes_out,
			 "packets_in", (json_int_t)st->packets_in,
			 "packets_out", (json_int_t)st->packets_out,
			 "ike_rekeys", (json_int_t)st->ike_rekeys,
			 "child_rekeys", (json_int_t)st->child_rekeys,
			 "errors", (json_int_t)st->errors,
			 "last_error", st->last_error[0] ? st->last_error : NULL);
}
