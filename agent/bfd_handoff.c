/* BFD sessions handed from a stopping agent to the next one (see bfd_handoff.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfd_handoff.h"

#define BFD_HANDOFF_FORMAT 1

/* The kernel's id of this boot: CLOCK_MONOTONIC starts again at each boot, so a
 * deadline in it means nothing without the boot it was taken in. "" when unknown. */
static void bfd_handoff_boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

struct bfd_handoff_acc {
	json_t *list;
	int rc;
};

static void bfd_handoff_one(void *ud, const char *id, const char *ifname,
			    const struct addr *local, const struct addr *peer,
			    const struct bfd_session *s)
{
	struct bfd_handoff_acc *acc = ud;
	struct bfd_resume r;
	char l[ADDR_STRLEN], p[ADDR_STRLEN];

	if (acc->rc || !bfd_session_resumable(s, &r))
		return;
	addr_fmt(local, l, sizeof(l));
	addr_fmt(peer, p, sizeof(p));
	if (json_array_append_new(acc->list, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i}",
			"id", id, "ifname", ifname, "local", l, "peer", p,
			"local_discr", (json_int_t)r.local_discr,
			"remote_discr", (json_int_t)r.remote_discr,
			"remote_min_rx_us", (json_int_t)r.remote_min_rx_us,
			"remote_desired_min_tx_us", (json_int_t)r.remote_desired_min_tx_us,
			"remote_detect_mult", (int)r.remote_detect_mult)))
		acc->rc = -ENOMEM;
}

json_t *bfd_handoff_save(const struct bfd_set *bs, int64_t until_us)
{
	struct bfd_handoff_acc acc = { .list = json_array() };
	char boot[64];
	json_t *doc = NULL;

	bfd_handoff_boot_id(boot, sizeof(boot));
	if (!acc.list)
		goto out;
	bfd_set_each(bs, bfd_handoff_one, &acc);
	if (acc.rc)
		goto out;
	doc = json_pack("{s:i, s:s, s:I, s:O}", "format", BFD_HANDOFF_FORMAT, "boot_id", boot,
			"until_us", (json_int_t)until_us, "sessions", acc.list);
out:
	json_decref(acc.list);
	return doc;
}

static int bfd_handoff_u32(const json_t *o, const char *key, uint32_t min, uint32_t max,
			   uint32_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return -EINVAL;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static int bfd_handoff_str(const json_t *o, const char *key, char *buf, size_t len)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || !*s || strlen(s) >= len)
		return -EINVAL;
	strcpy(buf, s);
	return 0;
}

static int bfd_handoff_ent(const json_t *o, struct bfd_expect *x)
{
	char l[ADDR_STRLEN], p[ADDR_STRLEN];
	uint32_t mult;

	if (bfd_handoff_str(o, "id", x->id, sizeof(x->id)) ||
	    bfd_handoff_str(o, "ifname", x->ifname, sizeof(x->ifname)) ||
	    bfd_handoff_str(o, "local", l, sizeof(l)) || addr_parse(l, &x->local) ||
	    bfd_handoff_str(o, "peer", p, sizeof(p)) || addr_parse(p, &x->peer) ||
	    bfd_handoff_u32(o, "local_discr", 1, UINT32_MAX, &x->r.local_discr) ||
	    bfd_handoff_u32(o, "remote_discr", 1, UINT32_MAX, &x->r.remote_discr) ||
	    bfd_handoff_u32(o, "remote_min_rx_us", 0, UINT32_MAX, &x->r.remote_min_rx_us) ||
	    bfd_handoff_u32(o, "remote_desired_min_tx_us", 1, UINT32_MAX,
			    &x->r.remote_desired_min_tx_us) ||
	    bfd_handoff_u32(o, "remote_detect_mult", 1, 255, &mult))
		return -EINVAL;
	x->r.remote_detect_mult = (uint8_t)mult;
	return 0;
}

int bfd_handoff_load(const json_t *doc, int64_t now_us, struct bfd_expect **out, size_t *n)
{
	const json_t *list = json_object_get(doc, "sessions");
	const json_t *until = json_object_get(doc, "until_us");
	const char *boot = json_string_value(json_object_get(doc, "boot_id"));
	struct bfd_expect *v = NULL;
	char here[64];
	int rc = -EINVAL;

	*out = NULL;
	*n = 0;
	if (json_integer_value(json_object_get(doc, "format")) != BFD_HANDOFF_FORMAT ||
	    !json_is_array(list) || !json_is_integer(until) || !boot)
		goto out;
	rc = -ENOMEM;
	if (json_array_size(list) && !(v = calloc(json_array_size(list), sizeof(*v))))
		goto out;
	rc = 0;
	for (size_t i = 0; i < json_array_size(list) && !rc; i++)
		rc = bfd_handoff_ent(json_array_get(list, i), &v[i]);
	if (rc)
		goto out;
	/* Checked last, so that a damaged file is told apart from an old one. */
	bfd_handoff_boot_id(here, sizeof(here));
	rc = -ESTALE;
	if (!*here || strcmp(boot, here) || json_integer_value(until) <= now_us)
		goto out;
	rc = 0;
	*out = v;
	*n = json_array_size(list);
	v = NULL;
out:
	free(v);
	return rc;
}
