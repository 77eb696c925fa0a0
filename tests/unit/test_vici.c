/* VICI message format: exact encoding, round trips, builder misuse, every kind of
 * malformed input, packet framing, the errno mapping, and event delivery over a real
 * socket pair (framing split across reads). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "vici.h"

static struct vici_msg *sample(void)
{
	struct vici_msg *m = vici_msg_new();

	assert_non_null(m);
	vici_msg_section(m, "conn");
	vici_msg_kv(m, "version", "2");
	vici_msg_list(m, "addrs");
	vici_msg_item(m, "10.0.0.1");
	vici_msg_item(m, "");
	vici_msg_list_end(m);
	vici_msg_section(m, "children");
	vici_msg_kvf(m, "reqid", "%u", 65537u);
	vici_msg_kvb(m, "bin", "a\0b", 3);
	vici_msg_end(m);
	vici_msg_end(m);
	assert_int_equal(vici_msg_finish(m), 0);
	return m;
}

static void test_encode_exact(void **state)
{
	static const uint8_t want[] = {
		1, 1, 's',			/* section "s" */
		3, 1, 'k', 0, 2, 'v', '1',	/* k = v1 */
		4, 1, 'l', 5, 0, 1, 'x', 6,	/* l = [x] */
		2,
	};
	struct vici_msg *m = vici_msg_new();

	(void)state;
	vici_msg_section(m, "s");
	vici_msg_kv(m, "k", "v1");
	vici_msg_list(m, "l");
	vici_msg_item(m, "x");
	vici_msg_list_end(m);
	vici_msg_end(m);
	assert_int_equal(vici_msg_finish(m), 0);
	assert_int_equal(m->len, sizeof(want));
	assert_memory_equal(m->buf, want, sizeof(want));
	vici_msg_free(m);
}

static void test_round_trip(void **state)
{
	struct vici_msg *m = sample();
	struct vici_node *root = NULL;
	const struct vici_node *conn, *addrs, *kids, *bin;

	(void)state;
	assert_int_equal(vici_parse(m->buf, m->len, &root), 0);
	assert_int_equal(root->n_kids, 1);
	conn = vici_node_get(root, "conn");
	assert_non_null(conn);
	assert_int_equal(conn->type, VICI_NODE_SECTION);
	assert_string_equal(vici_node_str(conn, "version"), "2");
	assert_int_equal(vici_node_u64(conn, "version", 0), 2);
	addrs = vici_node_get(conn, "addrs");
	assert_int_equal(addrs->type, VICI_NODE_LIST);
	assert_int_equal(addrs->n_kids, 2);
	assert_string_equal(addrs->kids[0].value, "10.0.0.1");
	assert_int_equal(addrs->kids[1].len, 0);
	kids = vici_node_get(conn, "children");
	assert_int_equal(vici_node_u64(kids, "reqid", 0), 65537);
	bin = vici_node_get(kids, "bin");
	assert_int_equal(bin->len, 3);
	assert_memory_equal(bin->value, "a\0b", 3);
	/* A value with an embedded NUL is not text. */
	assert_null(vici_node_str(kids, "bin"));
	assert_null(vici_node_get(conn, "nope"));
	assert_int_equal(vici_node_u64(conn, "addrs", 7), 7);
	vici_node_free(root);
	vici_msg_free(m);
}

static void test_empty_message(void **state)
{
	struct vici_node *root = NULL;

	(void)state;
	assert_int_equal(vici_parse(NULL, 0, &root), 0);
	assert_int_equal(root->n_kids, 0);
	vici_node_free(root);
	vici_node_free(NULL);
	vici_msg_free(NULL);
}

static void test_builder_misuse(void **state)
{
	char longname[VICI_NAME_MAX + 2];
	struct vici_msg *m;

	(void)state;
	m = vici_msg_new();
	vici_msg_item(m, "x");			/* item outside a list */
	assert_int_equal(vici_msg_finish(m), -EINVAL);
	vici_msg_free(m);

	m = vici_msg_new();
	vici_msg_list(m, "l");
	vici_msg_kv(m, "k", "v");		/* key/value inside a list */
	assert_int_equal(vici_msg_err(m), -EINVAL);
	vici_msg_free(m);

	m = vici_msg_new();
	vici_msg_end(m);			/* nothing open */
	assert_int_equal(vici_msg_err(m), -EINVAL);
	vici_msg_free(m);

	m = vici_msg_new();
	vici_msg_section(m, "s");
	vici_msg_list_end(m);			/* wrong closer */
	assert_int_equal(vici_msg_err(m), -EINVAL);
	vici_msg_free(m);

	m = vici_msg_new();
	vici_msg_section(m, "s");		/* left open */
	assert_int_equal(vici_msg_err(m), 0);
	assert_int_equal(vici_msg_finish(m), -EINVAL);
	vici_msg_free(m);

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	m = vici_msg_new();
	vici_msg_kv(m, longname, "v");
	assert_int_equal(vici_msg_err(m), -EINVAL);
	vici_msg_free(m);

	m = vici_msg_new();
	vici_msg_kv(m, "", "v");
	assert_int_equal(vici_msg_err(m), -EINVAL);
	vici_msg_free(m);

	m = vici_msg_new();
	for (int i = 0; i <= VICI_DEPTH_MAX; i++)
		vici_msg_section(m, "d");
	assert_int_equal(vici_msg_err(m), -EINVAL);
	vici_msg_free(m);
}

static void test_value_too_long(void **state)
{
	struct vici_msg *m = vici_msg_new();
	char *big = malloc(VICI_VALUE_MAX + 2);

	(void)state;
	memset(big, 'x', VICI_VALUE_MAX + 1);
	big[VICI_VALUE_MAX + 1] = '\0';
	vici_msg_kv(m, "k", big);
	assert_int_equal(vici_msg_err(m), -EINVAL);
	vici_msg_free(m);
	m = vici_msg_new();
	big[VICI_VALUE_MAX] = '\0';
	vici_msg_kv(m, "k", big);		/* exactly the maximum */
	assert_int_equal(vici_msg_finish(m), 0);
	vici_msg_free(m);
	free(big);
}

/* Every strict prefix of a message wrapped in one section is unbalanced. */
static void test_truncations_rejected(void **state)
{
	struct vici_msg *m = sample();

	(void)state;
	for (size_t n = 1; n < m->len; n++) {
		struct vici_node *root = (struct vici_node *)1;

		assert_int_equal(vici_parse(m->buf, n, &root), -EBADMSG);
		assert_null(root);
	}
	vici_msg_free(m);
}

static void expect_bad(const uint8_t *b, size_t n)
{
	struct vici_node *root = NULL;

	assert_int_equal(vici_parse(b, n, &root), -EBADMSG);
	assert_null(root);
}

static void test_malformed_rejected(void **state)
{
	static const uint8_t bad_type[] = { 9, 1, 'k' };
	static const uint8_t end_top[] = { 2 };
	static const uint8_t item_top[] = { 5, 0, 1, 'x' };
	static const uint8_t list_end_top[] = { 6 };
	static const uint8_t empty_name[] = { 3, 0, 0, 0 };
	static const uint8_t nul_name[] = { 3, 2, 'a', 0, 0, 0 };
	static const uint8_t kv_in_list[] = { 4, 1, 'l', 3, 1, 'k', 0, 0, 6 };
	static const uint8_t sec_in_list[] = { 4, 1, 'l', 1, 1, 's', 2, 6 };
	static const uint8_t value_past_end[] = { 3, 1, 'k', 0, 9, 'v' };
	static const uint8_t trailing_end[] = { 1, 1, 's', 2, 2 };
	uint8_t deep[3 * (VICI_DEPTH_MAX + 1) + VICI_DEPTH_MAX + 1];
	size_t n = 0;

	(void)state;
	expect_bad(bad_type, sizeof(bad_type));
	expect_bad(end_top, sizeof(end_top));
	expect_bad(item_top, sizeof(item_top));
	expect_bad(list_end_top, sizeof(list_end_top));
	expect_bad(empty_name, sizeof(empty_name));
	expect_bad(nul_name, sizeof(nul_name));
	expect_bad(kv_in_list, sizeof(kv_in_list));
	expect_bad(sec_in_list, sizeof(sec_in_list));
	expect_bad(value_past_end, sizeof(value_past_end));
	expect_bad(trailing_end, sizeof(trailing_end));
	for (int i = 0; i <= VICI_DEPTH_MAX; i++) {
		deep[n++] = 1;
		deep[n++] = 1;
		deep[n++] = 'd';
	}
	for (int i = 0; i <= VICI_DEPTH_MAX; i++)
		deep[n++] = 2;
	expect_bad(deep, n);
}

static void test_packet_parse(void **state)
{
	static const uint8_t ev[] = { VICI_EVENT, 3, 'l', 'o', 'g', 3, 1, 'k', 0, 0 };
	static const uint8_t resp[] = { VICI_CMD_RESPONSE, 1, 1, 's', 2 };
	static const uint8_t bad[] = { 8 };
	static const uint8_t noname[] = { VICI_EVENT, 0 };
	static const uint8_t shortname[] = { VICI_EVENT_REGISTER, 5, 'a' };
	char name[VICI_NAME_MAX + 1];
	const uint8_t *pl;
	size_t plen;
	uint8_t type;

	(void)state;
	assert_int_equal(vici_packet_parse(ev, sizeof(ev), &type, name, &pl, &plen), 0);
	assert_int_equal(type, VICI_EVENT);
	assert_string_equal(name, "log");
	assert_int_equal(plen, 5);
	assert_ptr_equal(pl, ev + 5);
	assert_int_equal(vici_packet_parse(resp, sizeof(resp), &type, name, &pl, &plen), 0);
	assert_int_equal(type, VICI_CMD_RESPONSE);
	assert_string_equal(name, "");
	assert_int_equal(plen, 4);
	assert_int_equal(vici_packet_parse(bad, sizeof(bad), &type, name, &pl, &plen), -EBADMSG);
	assert_int_equal(vici_packet_parse(noname, sizeof(noname), &type, name, &pl, &plen), -EBADMSG);
	assert_int_equal(vici_packet_parse(shortname, sizeof(shortname), &type, name, &pl, &plen),
			 -EBADMSG);
	assert_int_equal(vici_packet_parse(bad, 0, &type, name, &pl, &plen), -EBADMSG);
}

static struct vici_node *reply(const char *success, const char *errmsg)
{
	struct vici_msg *m = vici_msg_new();
	struct vici_node *n = NULL;

	if (success)
		vici_msg_kv(m, "success", success);
	if (errmsg)
		vici_msg_kv(m, "errmsg", errmsg);
	assert_int_equal(vici_parse(m->buf, m->len, &n), 0);
	vici_msg_free(m);
	return n;
}

static void test_errno_mapping(void **state)
{
	struct { const char *ok, *msg; int want; } cases[] = {
		{ "yes", NULL, 0 },
		{ "no", "connection 'x' not found", -ENOENT },
		{ "no", "no matching SAs to terminate found", -ESRCH },
		{ "no", "CHILD_SA 'c' not established after 10ms", -ETIMEDOUT },
		{ "no", "establishing CHILD_SA 'c' not possible at the moment due to limits", -EBUSY },
		{ "no", "establishing CHILD_SA 'c' failed", -EIO },
		{ "no", NULL, -EIO },
		{ NULL, NULL, -EPROTO },
	};
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vici_node *r = reply(cases[i].ok, cases[i].msg);

		err[0] = '\0';
		assert_int_equal(vici_check(r, err, sizeof(err)), cases[i].want);
		if (cases[i].msg)
			assert_string_equal(err, cases[i].msg);
		vici_node_free(r);
	}
	assert_int_equal(vici_errno(VICI_FAIL_UNKNOWN_CMD, NULL), -EOPNOTSUPP);
	assert_int_equal(vici_errno(VICI_FAIL_UNKNOWN_EVENT, NULL), -EOPNOTSUPP);
	assert_int_equal(vici_errno(VICI_FAIL_CLOSED, NULL), -EPIPE);
	assert_int_equal(vici_errno(VICI_FAIL_TIMEOUT, NULL), -ETIMEDOUT);
	assert_int_equal(vici_errno(VICI_FAIL_PROTOCOL, "x"), -EPROTO);
}

static void test_fmt_redacts(void **state)
{
	struct vici_msg *m = vici_msg_new();
	struct vici_node *n = NULL;
	char buf[256];

	(void)state;
	vici_msg_kv(m, "id", "gresec-t1");
	vici_msg_kv(m, "data", "topsecret-psk");
	vici_msg_list(m, "owners");
	vici_msg_item(m, "a");
	vici_msg_item(m, "b");
	vici_msg_list_end(m);
	assert_int_equal(vici_parse(m->buf, m->len, &n), 0);
	vici_node_fmt(n, buf, sizeof(buf));
	assert_string_equal(buf, "{id=gresec-t1 data=<redacted> owners=[a b]}");
	assert_null(strstr(buf, "topsecret"));
	vici_node_fmt(n, buf, 8);		/* truncation stays terminated */
	assert_int_equal(strlen(buf), 7);
	vici_node_free(n);
	vici_msg_free(m);
}

struct seen {
	int n;
	char name[64];
	char val[64];
};

static void on_event(const char *name, const struct vici_node *ev, void *data)
{
	struct seen *s = data;

	s->n++;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->val, sizeof(s->val), "%s", ev && vici_node_str(ev, "k") ? vici_node_str(ev, "k") : "");
}

/* Events written into a socket pair in pieces, as charon's writes may arrive. */
static void test_dispatch_framing(void **state)
{
	static const uint8_t pkt[] = {
		0, 0, 0, 17, VICI_EVENT, 10, 'i', 'k', 'e', '-', 'u', 'p', 'd', 'o', 'w', 'n',
		3, 1, 'k', 0, 0,
	};
	struct vici_conn *c = vici_conn_new();
	struct seen s = { 0 };
	int sv[2];

	(void)state;
	/* the declared length covers type, name and the (empty-valued) key */
	assert_int_equal(sizeof(pkt) - 4, pkt[3]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	c->fd = sv[0];
	vici_conn_set_cb(c, on_event, &s);
	{
		const uint8_t *p = pkt;

		assert_int_equal(write(sv[1], p, 7), 7);
		assert_int_equal(vici_dispatch(c), 0);
		assert_int_equal(s.n, 0);
		assert_int_equal(write(sv[1], p + 7, sizeof(pkt) - 7), (ssize_t)(sizeof(pkt) - 7));
		assert_int_equal(write(sv[1], p, sizeof(pkt)), (ssize_t)sizeof(pkt));
		assert_int_equal(vici_dispatch(c), 0);
		assert_int_equal(s.n, 2);
		assert_string_equal(s.name, "ike-updown");
	}
	/* an unasked response is a lost sync: the connection is dropped */
	{
		static const uint8_t resp[] = { 0, 0, 0, 1, VICI_CMD_RESPONSE };

		assert_int_equal(write(sv[1], resp, sizeof(resp)), (ssize_t)sizeof(resp));
		assert_int_equal(vici_dispatch(c), -EPROTO);
		assert_int_equal(vici_conn_fd(c), -1);
	}
	close(sv[1]);
	vici_conn_free(c);
}

static void test_dispatch_eof_and_oversize(void **state)
{
	static const uint8_t huge[] = { 0x7f, 0, 0, 0, VICI_EVENT };
	struct vici_conn *c = vici_conn_new();
	struct seen s = { 0 };
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	c->fd = sv[0];
	vici_conn_set_cb(c, on_event, &s);
	assert_int_equal(write(sv[1], huge, sizeof(huge)), (ssize_t)sizeof(huge));
	assert_int_equal(vici_dispatch(c), -EPROTO);
	assert_int_equal(vici_conn_fd(c), -1);
	close(sv[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	c->fd = sv[0];
	close(sv[1]);
	assert_int_equal(vici_dispatch(c), -EPIPE);
	assert_int_equal(s.n, 0);
	vici_conn_free(c);
}

static void test_open_errors(void **state)
{
	struct vici_conn *c = vici_conn_new();

	(void)state;
	assert_int_equal(vici_conn_open(c, "unix:///nonexistent/gresec/charon.vici"), -ENOENT);
	assert_int_equal(vici_conn_open(c, "unix://"), -EINVAL);
	assert_int_equal(vici_call(c, "version", NULL, NULL), -ENOTCONN);
	vici_conn_free(c);
	vici_conn_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_exact),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_builder_misuse),
		cmocka_unit_test(test_value_too_long),
		cmocka_unit_test(test_truncations_rejected),
		cmocka_unit_test(test_malformed_rejected),
		cmocka_unit_test(test_packet_parse),
		cmocka_unit_test(test_errno_mapping),
		cmocka_unit_test(test_fmt_redacts),
		cmocka_unit_test(test_dispatch_framing),
		cmocka_unit_test(test_dispatch_eof_and_oversize),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
