#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verr.h"

struct verr {
	json_t *list;
	int oom;
};

struct verr *verr_new(void)
{
	struct verr *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->list = json_array();
	if (!v->list) {
		free(v);
		return NULL;
	}
	return v;
}

void verr_free(struct verr *v)
{
	if (!v)
		return;
	json_decref(v->list);
	free(v);
}

void verr_add(struct verr *v, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = json_pack("{s:s, s:s}", "path", path ? path : "", "message", msg);
	if (!e || json_array_append_new(v->list, e) < 0)
		v->oom++;
}

size_t verr_count(const struct verr *v)
{
	return json_array_size(v->list) + (size_t)v->oom;
}

json_t *verr_json(const struct verr *v)
{
	json_t *out = json_deep_copy(v->list);

	if (out && v->oom)
		json_array_append_new(out, json_pack("{s:s, s:s}", "path", "",
						     "message", "further errors lost: out of memory"));
	return out;
}

const char *verr_path_key(char *buf, size_t len, const char *base, const char *key)
{
	snprintf(buf, len, "%s%s%s", base ? base : "", base && *base ? "." : "", key);
	return buf;
}

const char *verr_path_idx(char *buf, size_t len, const char *base, size_t idx)
{
	snprintf(buf, len, "%s[%zu]", base ? base : "", idx);
	return buf;
}

void verr_append(struct verr *dst, const struct verr *src)
{
	size_t i;
	json_t *e;

	json_array_foreach(src->list, i, e)
		verr_add(dst, json_string_value(json_object_get(e, "path")), "%s",
			 json_string_value(json_object_get(e, "message")));
	dst->oom += src->oom;
}
