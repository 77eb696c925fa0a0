/* POST /v1/tunnels/{id}/rotate-psk: a new key for one materialised tunnel. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "psk.h"

/* The materialised tunnel's id, as GET /v1/tunnels lists it. */
static int api_psk_id(struct api_req *r, long long *id)
{
	const char *p = r->param;
	char *end;

	errno = 0;
	*id = strtoll(p, &end, 10);
	if (!*p || *end || errno || *id <= 0 || strspn(p, "0123456789") != strlen(p)) {
		api_error(r, 404, NULL, NULL, "no tunnel with id '%s' (ids are the numbers "
			  "GET /v1/tunnels lists)", p);
		return -ENOENT;
	}
	return 0;
}

void api_psk_rotate(struct api_req *r)
{
	json_t *out = NULL;
	long long id;
	int rc;

	if (api_psk_id(r, &id) < 0)
		return;
	rc = psk_rotate(r->api->store, id, r->actor, "operator", &out);
	if (rc == -ENOENT)
		api_error(r, 404, NULL, NULL, "no tunnel with id %lld", id);
	else if (rc == -EINVAL)
		/* The key is not what breaks it: a site of the tunnel does not compile. */
		api_error(r, 409, "conflict", NULL, "tunnel %lld: its sites do not compile; "
			  "fix them, then rotate", id);
	else if (rc < 0)
		api_fail(r, rc, "rotating the PSK");
	else
		api_reply(r, 200, out);
}
