/* Liveness verdicts, hold and dampening, and the route view: pure, with a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "intent.h"
#include "liveness.h"

#define T(id, n, start) "{\"id\":\"" id "\",\"ifname\":\"gs" id "\",\"kind\":\"gre\"," \
	"\"local\":\"192.0.2.1\",\"remote\":\"192.0.2." #n "\",\"key\":" #n ",\"mtu\":1400," \
	"\"overlay\":{\"local\":\"169.254." #n ".0/31\",\"peer\":\"169.254." #n ".1/31\"}," \
	"\"reqid\":6553" #n ",\"security\":{\"mode\":\"transport\",\"protocol\":\"esp\"," \
	"\"ike_proposals\":[\"aes128gcm16-prfsha256-ecp256\"],\"child_proposals\":[\"aes128gcm16\"]," \
	"\"start\":\"" start "\"},\"psk\":\"0123456789abcdef0123\"}"
#define R(pfx, via, metric) "{\"prefix\":\"" pfx "\",\"via\":\"" via "\",\"metric\":" #metric "}"

/* h1 and h2: two hubs (on demand), m: a direct always-on tunnel. */
static const char *const doc =
	"{\"format\":1,\"site\":\"s\",\"revision\":1,\"tunnels\":["
	T("h1", 7, "on-demand") "," T("h2", 8, "on-demand") "," T("m", 9, "always") "],"
	"\"routes\":[" R("10.2.0.0/24", "h1", 200) "," R("10.2.0.0/24", "h2", 201) ","
	R("10.3.0.0/24", "h1", 200) "," R("10.3.0.0/24", "h2", 200) ","
	R("10.4.0.0/24", "m", 100) "," R("10.4.0.0/24", "h1", 200) "],\"spd\":[]}";

struct fx {
	struct intent *in;
	struct live *l;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	json_t *j = json_loads(doc, 0, NULL);
	char err[256];

	assert_non_null(j);
	if (intent_from_json(j, &f->in, err, sizeof(err)) || intent_validate(f->in, err, sizeof(err)))
		fail_msg("fixture intent: %s", err);
	json_decref(j);
	f->l = live_new(0);
	assert_int_equal(live_track(f->l, f->in, 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	live_free(f->l);
	intent_free(f->in);
	free(f);
	return 0;
}

static const struct live_input up_in = { .bfd_enabled = true, .bfd_session = true,
					 .bfd = BFD_UP, .bfd_remote = BFD_UP, .sa_up = true,
					 .on_demand = true };

static struct live_input bfd_down(void)
{
	struct live_input in = up_in;

	in.bfd = BFD_DOWN;
	in.bfd_remote = BFD_DOWN;
	return in;
}

/* After the start grace, tunnel 0 up and forwarding since `at`. */
static void bring_up(struct fx *f, int64_t at)
{
	live_update(f->l, 0, &up_in, at);
	assert_int_equal(f->l->t[0].state, LIVE_UP);
	assert_true(f->l->t[0].forwarding);
}

static void test_idle_then_up(void **state)
{
	struct fx *f = *state;
	struct live_input idle = { .bfd_enabled = true, .on_demand = true };

	assert_int_equal(f->l->t[0].state, LIVE_IDLE);
	assert_true(f->l->t[0].forwarding);
	assert_false(live_update(f->l, 0, &idle, 10000));
	assert_int_equal(f->l->t[0].state, LIVE_IDLE);
	assert_false(live_wants_bfd(f->l, 0, &idle));
	/* Idle to up: it was forwarding already, no hold. */
	assert_false(live_update(f->l, 0, &up_in, 10100));
	assert_int_equal(f->l->t[0].state, LIVE_UP);
	assert_true(f->l->t[0].forwarding);
	assert_true(live_wants_bfd(f->l, 0, &up_in));
}

static void test_bfd_timeout_then_hold(void **state)
{
	struct fx *f = *state;
	struct live_input in = bfd_down();

	bring_up(f, 10000);
	assert_true(live_update(f->l, 0, &in, 10500));
	assert_int_equal(f->l->t[0].state, LIVE_DOWN);
	assert_int_equal(f->l->t[0].reason, LIVE_R_BFD_TIMEOUT);
	assert_false(f->l->t[0].forwarding);
	assert_int_equal(f->l->t[0].flaps, 1);
	/* Still down while BFD is: sticky, and the SA being up does not help. */
	assert_false(live_update(f->l, 0, &in, 11000));
	assert_true(live_wants_bfd(f->l, 0, &in));
	/* Up again: out of forwarding for the hold time, then back. */
	assert_false(live_update(f->l, 0, &up_in, 12000));
	assert_int_equal(f->l->t[0].state, LIVE_UP);
	assert_false(f->l->t[0].forwarding);
	assert_int_equal(live_next_ms(f->l, 12000), 12000 + LIVE_HOLD_MS);
	assert_false(live_update(f->l, 0, &up_in, 12000 + LIVE_HOLD_MS - 1));
	assert_true(live_update(f->l, 0, &up_in, 12000 + LIVE_HOLD_MS));
	assert_true(f->l->t[0].forwarding);
}

static void test_flaps_suppress(void **state)
{
	struct fx *f = *state;
	struct live_input in = bfd_down();
	int64_t t = 10000;

	bring_up(f, t);
	for (int k = 0; k < LIVE_FLAP_MAX; k++) {
		live_update(f->l, 0, &in, t += 300);
		live_update(f->l, 0, &up_in, t += 300);
	}
	assert_int_equal(f->l->t[0].flaps, LIVE_FLAP_MAX);
	assert_true(f->l->t[0].suppressed);
	assert_false(live_update(f->l, 0, &up_in, t + LIVE_HOLD_MS));
	assert_false(f->l->t[0].forwarding);
	assert_true(live_update(f->l, 0, &up_in, t + LIVE_SUPPRESS_MS));
	assert_true(f->l->t[0].forwarding);
	assert_false(f->l->t[0].suppressed);
}

/* Downs spread wider than the window never suppress. */
static void test_slow_flaps_do_not_suppress(void **state)
{
	struct fx *f = *state;
	struct live_input in = bfd_down();
	int64_t t = 10000;

	bring_up(f, t);
	for (int k = 0; k < 2 * LIVE_FLAP_MAX; k++) {
		live_update(f->l, 0, &in, t += LIVE_FLAP_WINDOW_MS / 2);
		live_update(f->l, 0, &up_in, t += 100);
		live_update(f->l, 0, &up_in, t += LIVE_HOLD_MS);
		assert_false(f->l->t[0].suppressed);
		assert_true(f->l->t[0].forwarding);
	}
}

static void test_initiation_timeout(void **state)
{
	struct fx *f = *state;
	struct live_input in = { .bfd_enabled = true, .on_demand = true, .connecting = true,
				 .initiated_ms = 10000 };

	live_update(f->l, 0, &in, 10000);
	assert_int_equal(f->l->t[0].state, LIVE_IDLE);
	assert_int_equal(live_next_ms(f->l, 10000), 10000 + LIVE_INIT_TIMEOUT_MS);
	assert_false(live_update(f->l, 0, &in, 10000 + LIVE_INIT_TIMEOUT_MS - 1));
	assert_true(live_update(f->l, 0, &in, 10000 + LIVE_INIT_TIMEOUT_MS));
	assert_int_equal(f->l->t[0].state, LIVE_DOWN);
	assert_int_equal(f->l->t[0].reason, LIVE_R_IKE_TIMEOUT);
	/* The initiation produced its SA later: up, but only after the hold. */
	live_update(f->l, 0, &up_in, 13000);
	assert_int_equal(f->l->t[0].state, LIVE_UP);
	assert_false(f->l->t[0].forwarding);
}

static void test_sa_lost_is_down_whatever_bfd_says(void **state)
{
	struct fx *f = *state;
	struct live_input in = up_in;

	bring_up(f, 10000);
	in.sa_up = false;
	assert_true(live_update(f->l, 0, &in, 10100));
	assert_int_equal(f->l->t[0].state, LIVE_DOWN);
	assert_int_equal(f->l->t[0].reason, LIVE_R_IKE_FAILED);
}

static void test_ike_failure_and_interface(void **state)
{
	struct fx *f = *state;
	struct live_input ike = { .bfd_enabled = true, .on_demand = true, .ike_failed = true };
	struct live_input ifc = up_in;

	assert_true(live_update(f->l, 1, &ike, 10000));
	assert_int_equal(f->l->t[1].reason, LIVE_R_IKE_FAILED);
	ifc.iface_failed = true;
	assert_true(live_update(f->l, 0, &ifc, 10000));
	assert_int_equal(f->l->t[0].reason, LIVE_R_INTERFACE);
	assert_false(live_wants_bfd(f->l, 0, &ifc));
}

static void test_peer_admin_down(void **state)
{
	struct fx *f = *state;
	struct live_input in = bfd_down();

	bring_up(f, 10000);
	in.bfd_remote = BFD_ADMIN_DOWN;
	assert_true(live_update(f->l, 0, &in, 10100));
	assert_int_equal(f->l->t[0].state, LIVE_ADMIN_DOWN);
	assert_int_equal(f->l->t[0].reason, LIVE_R_PEER_ADMIN_DOWN);
}

/* An SA whose BFD never answers: kept through the start grace, then down. */
static void test_bfd_no_reply_after_grace(void **state)
{
	struct fx *f = *state;
	struct live_input in = bfd_down();

	assert_false(live_update(f->l, 0, &in, 100));
	assert_int_equal(f->l->t[0].state, LIVE_IDLE);
	assert_false(live_update(f->l, 0, &in, LIVE_START_GRACE_MS - 1));
	assert_true(live_update(f->l, 0, &in, LIVE_START_GRACE_MS));
	assert_int_equal(f->l->t[0].reason, LIVE_R_BFD_NO_REPLY);
}

static void test_always_on_without_sa(void **state)
{
	struct fx *f = *state;
	struct live_input in = { .bfd_enabled = true, .on_demand = false };

	assert_false(live_update(f->l, 2, &in, 1000));
	in.connecting = true;
	assert_false(live_update(f->l, 2, &in, LIVE_START_GRACE_MS + 10));
	in.connecting = false;
	assert_true(live_update(f->l, 2, &in, LIVE_START_GRACE_MS + 20));
	assert_int_equal(f->l->t[2].reason, LIVE_R_IKE_TIMEOUT);
}

static void test_retry_backoff(void **state)
{
	struct fx *f = *state;
	struct live_input in = bfd_down();
	int64_t t = 20000, want[] = { 1000, 2000, 4000, 4000 };

	bring_up(f, 10000);
	live_update(f->l, 0, &in, t);
	in.sa_up = false;
	assert_false(live_retry_due(f->l, 0, &in, t + LIVE_RETRY_MIN_MS - 1));
	t += LIVE_RETRY_MIN_MS;
	for (size_t k = 1; k < sizeof(want) / sizeof(want[0]); k++) {
		assert_true(live_retry_due(f->l, 0, &in, t));
		assert_false(live_retry_due(f->l, 0, &in, t + want[k] - 1));
		t += want[k];
	}
	in.connecting = true;	/* charon is on it: no second initiation */
	assert_false(live_retry_due(f->l, 0, &in, t + 100000));
}

static size_t routes_via(const struct intent *v, const char *pfx, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < v->n_routes; i++) {
		char p[64];

		addr_prefix_fmt(&v->routes[i].prefix, p, sizeof(p));
		if (strcmp(p, pfx))
			continue;
		n++;
		strncat(out, v->routes[i].via, len - strlen(out) - 1);
		strncat(out, " ", len - strlen(out) - 1);
	}
	return n;
}

static void test_route_view(void **state)
{
	struct fx *f = *state;
	struct intent v;
	char via[64];

	assert_int_equal(live_route_view(f->l, f->in, &v), 0);
	assert_int_equal(v.n_routes, 6);
	live_view_clear(&v);
	f->l->t[0].forwarding = false;		/* h1 out */
	assert_int_equal(live_route_view(f->l, f->in, &v), 0);
	assert_int_equal(routes_via(&v, "10.2.0.0/24", via, sizeof(via)), 1);
	assert_string_equal(via, "h2 ");	/* the backup hub carries it */
	assert_int_equal(routes_via(&v, "10.3.0.0/24", via, sizeof(via)), 1);
	assert_string_equal(via, "h2 ");	/* h1 left the ECMP route */
	assert_int_equal(routes_via(&v, "10.4.0.0/24", via, sizeof(via)), 1);
	assert_string_equal(via, "m ");
	live_view_clear(&v);
	f->l->t[1].forwarding = false;		/* both hubs out: keep them (no clear path) */
	assert_int_equal(live_route_view(f->l, f->in, &v), 0);
	assert_int_equal(routes_via(&v, "10.2.0.0/24", via, sizeof(via)), 2);
	assert_int_equal(routes_via(&v, "10.3.0.0/24", via, sizeof(via)), 2);
	live_view_clear(&v);
	f->l->t[2].forwarding = false;		/* and the direct one: 10.4 keeps both */
	f->l->t[1].forwarding = true;
	assert_int_equal(live_route_view(f->l, f->in, &v), 0);
	assert_int_equal(routes_via(&v, "10.4.0.0/24", via, sizeof(via)), 2);
	live_view_clear(&v);
}

static void test_restart_keeps_dead_out(void **state)
{
	struct fx *f = *state;
	struct live_input in = bfd_down();
	struct live *l2 = live_new(50000);
	json_t *saved;

	bring_up(f, 10000);
	live_update(f->l, 0, &in, 10500);
	saved = live_save_json(f->l);
	assert_non_null(json_object_get(saved, "h1"));
	assert_null(json_object_get(saved, "h2"));	/* forwarding: nothing to keep */
	assert_int_equal(live_track(l2, f->in, 50000), 0);
	live_load_json(l2, saved, 50000);
	assert_false(l2->t[0].forwarding);
	assert_int_equal(l2->t[0].state, LIVE_DOWN);
	assert_int_equal(l2->t[0].reason, LIVE_R_BFD_TIMEOUT);
	assert_true(l2->t[1].forwarding);
	/* Within the grace, still down: the dead one stays out. */
	assert_false(live_update(l2, 0, &in, 50100));
	assert_false(l2->t[0].forwarding);
	json_decref(saved);
	live_free(l2);
}

/* A new intent keeps the verdicts of the tunnels it keeps, by id. */
static void test_track_by_id(void **state)
{
	struct fx *f = *state;
	struct intent *in2 = NULL;
	json_t *j = json_loads(doc, 0, NULL);
	char err[256];

	bring_up(f, 10000);
	f->l->t[1].forwarding = false;
	assert_int_equal(intent_from_json(j, &in2, err, sizeof(err)), 0);
	/* Drop h1: the others move up one place. */
	in2->tunnels[0].id[1] = 'x';
	assert_int_equal(live_track(f->l, in2, 20000), 0);
	assert_int_equal(f->l->t[0].state, LIVE_IDLE);		/* "hx": new */
	assert_false(f->l->t[1].forwarding);			/* h2 kept its verdict */
	json_decref(j);
	intent_free(in2);
}

static void test_names_and_json(void **state)
{
	struct fx *f = *state;
	struct live_input in = bfd_down();
	json_t *j;

	assert_string_equal(live_state_name(LIVE_ADMIN_DOWN), "admin-down");
	assert_null(live_reason_name(LIVE_R_NONE));
	for (int r = LIVE_R_BFD_TIMEOUT; r <= LIVE_R_INTERFACE; r++)
		assert_non_null(live_reason_name((enum live_reason)r));
	bring_up(f, 10000);
	live_update(f->l, 0, &in, 10500);
	j = live_tunnel_json(&f->l->t[0], &in);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "down");
	assert_string_equal(json_string_value(json_object_get(j, "reason")), "bfd-timeout");
	assert_string_equal(json_string_value(json_object_get(j, "bfd")), "down");
	assert_true(json_is_false(json_object_get(j, "forwarding")));
	assert_int_equal(json_integer_value(json_object_get(j, "flaps")), 1);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "since"))), 20);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_then_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bfd_timeout_then_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flaps_suppress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_flaps_do_not_suppress, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initiation_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sa_lost_is_down_whatever_bfd_says, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ike_failure_and_interface, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_admin_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bfd_no_reply_after_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_always_on_without_sa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_dead_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_track_by_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_and_json, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
