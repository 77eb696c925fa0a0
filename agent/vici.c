/* VICI message format: encoding, strict decoding, and the errno mapping. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vici.h"

/* ---- encoding ---- */

struct vici_msg *vici_msg_new(void)
{
	return calloc(1, sizeof(struct vici_msg));
}

void vici_msg_free(struct vici_msg *m)
{
	if (!m)
		return;
	if (m->buf)
		explicit_bzero(m->buf, m->cap);
	free(m->buf);
	free(m);
}

int vici_msg_err(const struct vici_msg *m)
{
	return m->err;
}

static int vici_msg_fail(struct vici_msg *m, int err)
{
	if (!m->err)
		m->err = err;
	return m->err;
}

/* Grows by doubling; the old buffer is wiped rather than left to realloc because it may
 * already hold a secret. */
static int vici_msg_room(struct vici_msg *m, size_t n)
{
	size_t cap;
	uint8_t *nb;

	if (m->err)
		return m->err;
	if (m->len + n > VICI_PACKET_MAX)
		return vici_msg_fail(m, -E2BIG);
	if (m->len + n <= m->cap)
		return 0;
	cap = m->cap ? m->cap : 256;
	while (cap < m->len + n)
		cap *= 2;
	nb = malloc(cap);
	if (!nb)
		return vici_msg_fail(m, -ENOMEM);
	if (m->buf) {
		memcpy(nb, m->buf, m->len);
		explicit_bzero(m->buf, m->cap);
		free(m->buf);
	}
	m->buf = nb;
	m->cap = cap;
	return 0;
}

static void vici_msg_put(struct vici_msg *m, const void *p, size_t n)
{
	/* n == 0 on an empty message leaves m->buf NULL: memcpy must not see it. */
	if (!n || vici_msg_room(m, n))
		return;
	memcpy(m->buf + m->len, p, n);
	m->len += n;
}

static void vici_msg_byte(struct vici_msg *m, uint8_t b)
{
	vici_msg_put(m, &b, 1);
}

static void vici_msg_name(struct vici_msg *m, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > VICI_NAME_MAX) {
		vici_msg_fail(m, -EINVAL);
		return;
	}
	vici_msg_byte(m, (uint8_t)n);
	vici_msg_put(m, name, n);
}

static void vici_msg_value(struct vici_msg *m, const void *v, size_t n)
{
	if (n > VICI_VALUE_MAX || (n && !v)) {
		vici_msg_fail(m, -EINVAL);
		return;
	}
	vici_msg_byte(m, (uint8_t)(n >> 8));
	vici_msg_byte(m, (uint8_t)n);
	vici_msg_put(m, v, n);
}

/* Key/values and sections may appear only inside sections (or at top level); items
 * only inside lists. */
static bool vici_msg_in_list(const struct vici_msg *m)
{
	return m->depth > 0 && m->open[m->depth - 1] == VICI_LIST_START;
}

static void vici_msg_open(struct vici_msg *m, uint8_t type, const char *name)
{
	if (m->err)
		return;
	if (vici_msg_in_list(m) || m->depth >= VICI_DEPTH_MAX) {
		vici_msg_fail(m, -EINVAL);
		return;
	}
	vici_msg_byte(m, type);
	vici_msg_name(m, name);
	if (!m->err)
		m->open[m->depth++] = type;
}

static void vici_msg_close(struct vici_msg *m, uint8_t open_type, uint8_t end_type)
{
	if (m->err)
		return;
	if (m->depth == 0 || m->open[m->depth - 1] != open_type) {
		vici_msg_fail(m, -EINVAL);
		return;
	}
	vici_msg_byte(m, end_type);
	if (!m->err)
		m->depth--;
}

void vici_msg_section(struct vici_msg *m, const char *name)
{
	vici_msg_open(m, VICI_SECTION_START, name);
}

void vici_msg_end(struct vici_msg *m)
{
	vici_msg_close(m, VICI_SECTION_START, VICI_SECTION_END);
}

void vici_msg_list(struct vici_msg *m, const char *name)
{
	vici_msg_open(m, VICI_LIST_START, name);
}

void vici_msg_list_end(struct vici_msg *m)
{
	vici_msg_close(m, VICI_LIST_START, VICI_LIST_END);
}

void vici_msg_kvb(struct vici_msg *m, const char *name, const void *value, size_t len)
{
	if (m->err)
		return;
	if (vici_msg_in_list(m)) {
		vici_msg_fail(m, -EINVAL);
		return;
	}
	vici_msg_byte(m, VICI_KEY_VALUE);
	vici_msg_name(m, name);
	vici_msg_value(m, value, len);
}

void vici_msg_kv(struct vici_msg *m, const char *name, const char *value)
{
	vici_msg_kvb(m, name, value, value ? strlen(value) : 0);
}

void vici_msg_kvf(struct vici_msg *m, const char *name, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		vici_msg_fail(m, -EINVAL);
		return;
	}
	vici_msg_kvb(m, name, buf, (size_t)n);
}

void vici_msg_itemb(struct vici_msg *m, const void *value, size_t len)
{
	if (m->err)
		return;
	if (!vici_msg_in_list(m)) {
		vici_msg_fail(m, -EINVAL);
		return;
	}
	vici_msg_byte(m, VICI_LIST_ITEM);
	vici_msg_value(m, value, len);
}

void vici_msg_item(struct vici_msg *m, const char *value)
{
	if (!value) {
		vici_msg_fail(m, -EINVAL);
		return;
	}
	vici_msg_itemb(m, value, strlen(value));
}

int vici_msg_finish(const struct vici_msg *m)
{
	if (m->err)
		return m->err;
	return m->depth ? -EINVAL : 0;
}

/* ---- decoding ---- */

struct vici_rd {
	const uint8_t *p;
	size_t left;
};

static int vici_rd_name(struct vici_rd *r, char **out)
{
	size_t n;

	if (r->left < 1)
		return -EBADMSG;
	n = r->p[0];
	if (n == 0 || r->left < 1 + n || memchr(r->p + 1, 0, n))
		return -EBADMSG;
	*out = strndup((const char *)r->p + 1, n);
	if (!*out)
		return -ENOMEM;
	r->p += 1 + n;
	r->left -= 1 + n;
	return 0;
}

static int vici_rd_value(struct vici_rd *r, struct vici_node *kv)
{
	size_t n;

	if (r->left < 2)
		return -EBADMSG;
	n = ((size_t)r->p[0] << 8) | r->p[1];
	if (r->left < 2 + n)
		return -EBADMSG;
	kv->value = malloc(n + 1);
	if (!kv->value)
		return -ENOMEM;
	memcpy(kv->value, r->p + 2, n);
	kv->value[n] = '\0';
	kv->len = n;
	r->p += 2 + n;
	r->left -= 2 + n;
	return 0;
}

static void vici_node_clear(struct vici_node *n)
{
	for (size_t i = 0; i < n->n_kids; i++)
		vici_node_clear(&n->kids[i]);
	free(n->kids);
	free(n->name);
	if (n->value)
		explicit_bzero(n->value, n->len);
	free(n->value);
}

void vici_node_free(struct vici_node *n)
{
	if (!n)
		return;
	vici_node_clear(n);
	free(n);
}

static struct vici_node *vici_node_add(struct vici_node *parent, enum vici_node_type type)
{
	struct vici_node *k;

	if (parent->n_kids == parent->cap_kids) {
		size_t cap = parent->cap_kids ? parent->cap_kids * 2 : 4;

		k = realloc(parent->kids, cap * sizeof(*k));
		if (!k)
			return NULL;
		parent->kids = k;
		parent->cap_kids = cap;
	}
	k = &parent->kids[parent->n_kids++];
	memset(k, 0, sizeof(*k));
	k->type = type;
	return k;
}

static int vici_parse_list(struct vici_rd *r, struct vici_node *list)
{
	while (r->left) {
		uint8_t t = r->p[0];
		struct vici_node *item;
		int rc;

		r->p++;
		r->left--;
		if (t == VICI_LIST_END)
			return 0;
		if (t != VICI_LIST_ITEM)
			return -EBADMSG;
		item = vici_node_add(list, VICI_NODE_KV);
		if (!item)
			return -ENOMEM;
		rc = vici_rd_value(r, item);
		if (rc)
			return rc;
	}
	return -EBADMSG;
}

/* Elements of one section up to its end (or, at depth 0, up to the end of input). */
static int vici_parse_section(struct vici_rd *r, struct vici_node *sec, int depth)
{
	while (r->left) {
		uint8_t t = r->p[0];
		struct vici_node *k;
		int rc;

		r->p++;
		r->left--;
		if (t == VICI_SECTION_END)
			return depth ? 0 : -EBADMSG;
		if (t != VICI_SECTION_START && t != VICI_KEY_VALUE && t != VICI_LIST_START)
			return -EBADMSG;
		if (t != VICI_KEY_VALUE && depth + 1 >= VICI_DEPTH_MAX)
			return -EBADMSG;
		k = vici_node_add(sec, t == VICI_SECTION_START ? VICI_NODE_SECTION :
				  t == VICI_KEY_VALUE ? VICI_NODE_KV : VICI_NODE_LIST);
		if (!k)
			return -ENOMEM;
		rc = vici_rd_name(r, &k->name);
		if (!rc && t == VICI_KEY_VALUE)
			rc = vici_rd_value(r, k);
		else if (!rc && t == VICI_LIST_START)
			rc = vici_parse_list(r, k);
		else if (!rc)
			rc = vici_parse_section(r, k, depth + 1);
		if (rc)
			return rc;
	}
	return depth ? -EBADMSG : 0;
}

int vici_parse(const uint8_t *buf, size_t len, struct vici_node **out)
{
	struct vici_rd r = { .p = buf, .left = len };
	struct vici_node *root;
	int rc;

	*out = NULL;
	if (len && !buf)
		return -EBADMSG;
	root = calloc(1, sizeof(*root));
	if (!root)
		return -ENOMEM;
	rc = vici_parse_section(&r, root, 0);
	if (rc) {
		vici_node_free(root);
		return rc;
	}
	*out = root;
	return 0;
}

const struct vici_node *vici_node_get(const struct vici_node *n, const char *name)
{
	if (!n)
		return NULL;
	for (size_t i = 0; i < n->n_kids; i++)
		if (n->kids[i].name && !strcmp(n->kids[i].name, name))
			return &n->kids[i];
	return NULL;
}

const char *vici_node_str(const struct vici_node *n, const char *name)
{
	const struct vici_node *k = vici_node_get(n, name);

	if (!k || k->type != VICI_NODE_KV || strlen(k->value) != k->len)
		return NULL;
	return k->value;
}

uint64_t vici_node_u64(const struct vici_node *n, const char *name, uint64_t def)
{
	const char *s = vici_node_str(n, name);
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return def;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return def;
	return v;
}

struct vici_out {
	char *buf;
	size_t len, pos;
};

static void vici_out(struct vici_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void vici_out(struct vici_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->pos >= o->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

static bool vici_secret_key(const char *name)
{
	return name && (!strcmp(name, "data") || !strcmp(name, "secret"));
}

static void vici_fmt_node(const struct vici_node *n, struct vici_out *o)
{
	if (n->type == VICI_NODE_KV) {
		if (n->name)
			vici_out(o, "%s=", n->name);
		if (vici_secret_key(n->name))
			vici_out(o, "<redacted>");
		else
			vici_out(o, "%.*s", (int)strnlen(n->value, n->len), n->value);
		return;
	}
	if (n->name)
		vici_out(o, "%s", n->name);
	vici_out(o, n->type == VICI_NODE_LIST ? "=[" : "{");
	for (size_t i = 0; i < n->n_kids; i++) {
		if (i)
			vici_out(o, " ");
		vici_fmt_node(&n->kids[i], o);
	}
	vici_out(o, n->type == VICI_NODE_LIST ? "]" : "}");
}

void vici_node_fmt(const struct vici_node *n, char *buf, size_t len)
{
	struct vici_out o = { .buf = buf, .len = len };

	if (!len)
		return;
	buf[0] = '\0';
	if (n)
		vici_fmt_node(n, &o);
}

static bool vici_type_named(uint8_t type)
{
	return type == VICI_CMD_REQUEST || type == VICI_EVENT_REGISTER ||
	       type == VICI_EVENT_UNREGISTER || type == VICI_EVENT;
}

int vici_packet_parse(const uint8_t *buf, size_t len, uint8_t *type,
		      char name[VICI_NAME_MAX + 1], const uint8_t **payload, size_t *plen)
{
	size_t off = 1;

	if (len < 1 || buf[0] > VICI_EVENT)
		return -EBADMSG;
	*type = buf[0];
	name[0] = '\0';
	if (vici_type_named(*type)) {
		size_t n;

		if (len < 2)
			return -EBADMSG;
		n = buf[1];
		if (n == 0 || len < 2 + n || memchr(buf + 2, 0, n))
			return -EBADMSG;
		memcpy(name, buf + 2, n);
		name[n] = '\0';
		off = 2 + n;
	}
	*payload = buf + off;
	*plen = len - off;
	return 0;
}

/* ---- errors: the one place VICI failures become errno values ---- */

struct vici_errmap {
	const char *needle;
	int err;
};

/* charon's error texts (vici_config.c, vici_control.c, vici_cred.c) by meaning. */
static const struct vici_errmap vici_errmap[] = {
	{ "not found", ENOENT },
	{ "no matching", ESRCH },
	{ "not established after", ETIMEDOUT },
	{ "due to limits", EBUSY },
	{ "missing", EINVAL },
	{ "invalid", EINVAL },
	{ "unknown", EINVAL },
	{ "failed to parse", EINVAL },
	{ "parsing", EINVAL },
	{ "unsupported", EOPNOTSUPP },
};

int vici_errno(enum vici_fail what, const char *errmsg)
{
	switch (what) {
	case VICI_FAIL_UNKNOWN_CMD:
	case VICI_FAIL_UNKNOWN_EVENT:
		return -EOPNOTSUPP;
	case VICI_FAIL_PROTOCOL:
		return -EPROTO;
	case VICI_FAIL_CLOSED:
		return -EPIPE;
	case VICI_FAIL_TIMEOUT:
		return -ETIMEDOUT;
	case VICI_FAIL_REPLY:
		break;
	}
	for (size_t i = 0; errmsg && i < sizeof(vici_errmap) / sizeof(vici_errmap[0]); i++)
		if (strstr(errmsg, vici_errmap[i].needle))
			return -vici_errmap[i].err;
	return -EIO;
}

int vici_check(const struct vici_node *reply, char *err, size_t errlen)
{
	const char *ok = vici_node_str(reply, "success");
	const char *msg = vici_node_str(reply, "errmsg");

	if (ok && !strcmp(ok, "yes"))
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "%s", msg ? msg : (ok ? "failed" : "no success in reply"));
	if (!ok)
		return vici_errno(VICI_FAIL_PROTOCOL, NULL);
	return vici_errno(VICI_FAIL_REPLY, msg);
}
