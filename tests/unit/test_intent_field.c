/* The intent's field table (api/intent_field.c) against the JSON Schema the project
 * publishes (api/intent.schema.json): the same keys in every object, the same required
 * ones, the same enum names and defaults. And every enum value has its name. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "fixtures.h"
#include "intent_field.h"

#define SCHEMA "api/intent.schema.json"

/* node itself, or the definition its "$ref" names. */
static const json_t *resolve(const json_t *root, const json_t *node)
{
	const char *ref = json_string_value(json_object_get(node, "$ref"));
	const json_t *def;

	if (!ref)
		return node;
	if (strncmp(ref, "#/$defs/", 8))
		fail_msg("%s: only local $defs are followed", ref);
	def = json_object_get(json_object_get(root, "$defs"), ref + 8);
	if (!def)
		fail_msg("%s: no such definition", ref);
	return def;
}

/* A keyword of node, or of what it refers to ("metric": a $ref beside a default). */
static const json_t *keyword(const json_t *root, const json_t *node, const char *k)
{
	const json_t *v = json_object_get(node, k);

	return v ? v : json_object_get(resolve(root, node), k);
}

static const struct intent_field *field_by_key(const struct intent_field *fields, size_t n,
					       const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(fields[i].key, key))
			return &fields[i];
	return NULL;
}

static void check_object(const json_t *root, const json_t *node, const char *path,
			 const struct intent_field *fields, size_t n);

static const char *expected_type(enum intent_field_type t)
{
	switch (t) {
	case INTENT_FT_UINT: return "integer";
	case INTENT_FT_BOOL: return "boolean";
	case INTENT_FT_STRV: case INTENT_FT_ARRAY: return "array";
	case INTENT_FT_OBJECT: return "object";
	case INTENT_FT_CONST: case INTENT_FT_ENUM: return NULL;
	default: return "string";
	}
}

static void check_enum(const json_t *root, const json_t *node, const char *path,
		       const struct intent_field *f)
{
	const json_t *list = keyword(root, node, "enum");

	if (json_array_size(list) != f->names->n)
		fail_msg("%s: %zu names in the schema, %zu in enum intent_%s", path,
			 json_array_size(list), f->names->n, f->names->name);
	for (size_t i = 0; i < f->names->n; i++)
		if (strcmp(json_string_value(json_array_get(list, i)) ?: "", f->names->names[i]))
			fail_msg("%s: the schema's name %zu is not \"%s\"", path, i,
				 f->names->names[i]);
}

/* What the decoder takes when the field is absent, as the schema's "default" says it. */
static void check_default(const json_t *root, const json_t *node, const char *path,
			  const struct intent_field *f)
{
	const json_t *def = keyword(root, node, "default");
	bool numeric = f->type == INTENT_FT_UINT || f->type == INTENT_FT_BOOL ||
		       f->type == INTENT_FT_ENUM;

	if (!numeric || (f->flags & INTENT_FF_REQUIRED)) {
		if (def)
			fail_msg("%s: a default in the schema, none in the decoder", path);
		return;
	}
	if (!def)
		fail_msg("%s: the decoder's default is not in the schema", path);
	if ((f->type == INTENT_FT_UINT && (!json_is_integer(def) ||
					   (uint64_t)json_integer_value(def) != f->def)) ||
	    (f->type == INTENT_FT_BOOL && (!json_is_boolean(def) ||
					   json_is_true(def) != (f->def != 0))) ||
	    (f->type == INTENT_FT_ENUM && strcmp(json_string_value(def) ?: "",
						 intent_enum_name(f->names, (unsigned)f->def))))
		fail_msg("%s: the schema's default is not the decoder's (%llu)", path,
			 (unsigned long long)f->def);
}

static void check_field(const json_t *root, const json_t *node, const char *path,
			const struct intent_field *f)
{
	const char *type = json_string_value(keyword(root, node, "type"));
	const char *want = expected_type(f->type);
	const json_t *c = keyword(root, node, "const"), *items;

	if (want && type && strcmp(type, want))
		fail_msg("%s: \"%s\" in the schema, %s in the decoder", path, type, want);
	if (want && !type && !(f->type == INTENT_FT_UINT && keyword(root, node, "enum")))
		fail_msg("%s: no type in the schema", path);
	if (f->type == INTENT_FT_CONST && (!json_is_integer(c) ||
					   (uint64_t)json_integer_value(c) != f->def))
		fail_msg("%s: the schema's const is not %llu", path, (unsigned long long)f->def);
	if (f->type == INTENT_FT_ENUM)
		check_enum(root, node, path, f);
	check_default(root, node, path, f);
	items = resolve(root, keyword(root, node, "items"));
	if (f->type == INTENT_FT_STRV &&
	    strcmp(json_string_value(json_object_get(items, "type")) ?: "", "string"))
		fail_msg("%s: items are not strings in the schema", path);
	if (f->type == INTENT_FT_OBJECT)
		check_object(root, resolve(root, node), path, f->fields, f->nfields);
	if (f->type == INTENT_FT_ARRAY)
		check_object(root, items, path, f->fields, f->nfields);
}

static void check_required(const json_t *node, const char *path,
			   const struct intent_field *fields, size_t n)
{
	const json_t *req = json_object_get(node, "required");
	size_t want = 0;

	for (size_t i = 0; i < n; i++) {
		bool listed = false;

		for (size_t k = 0; k < json_array_size(req); k++)
			listed |= !strcmp(json_string_value(json_array_get(req, k)) ?: "",
					  fields[i].key);
		if (listed != !!(fields[i].flags & INTENT_FF_REQUIRED))
			fail_msg("%s.%s: required in the %s only", path, fields[i].key,
				 listed ? "schema" : "decoder");
		want += listed;
	}
	if (want != json_array_size(req))
		fail_msg("%s: the schema requires a field the decoder does not know", path);
}

/* The same members, both ways; then each member. */
static void check_object(const json_t *root, const json_t *node, const char *path,
			 const struct intent_field *fields, size_t n)
{
	const json_t *props = json_object_get(node, "properties");
	const char *key;
	json_t *v;
	char p[160];

	if (!json_is_object(props))
		fail_msg("%s: no properties in the schema", path);
	if (!json_is_false(json_object_get(node, "additionalProperties")))
		fail_msg("%s: the schema allows unknown members, the decoder refuses them", path);
	json_object_foreach((json_t *)props, key, v)
		if (!field_by_key(fields, n, key))
			fail_msg("%s.%s: in the schema, not in the decoder", path, key);
	for (size_t i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s.%s", path, fields[i].key);
		v = json_object_get(props, fields[i].key);
		if (!v)
			fail_msg("%s: in the decoder, not in the schema", p);
		check_field(root, v, p, &fields[i]);
	}
	check_required(node, path, fields, n);
}

static void test_schema(void **state)
{
	json_t *root = fixture_json(SCHEMA);

	(void)state;
	check_object(root, root, "intent", intent_field_root, intent_field_nroot);
	json_decref(root);
}

/* The per-enum functions intent.h declares, each of which must agree with the table. */
static const char *typed_name(const struct intent_enum *e, unsigned v)
{
	if (e == &intent_kind_enum)
		return intent_kind_name((enum intent_kind)v);
	if (e == &intent_mode_enum)
		return intent_mode_name((enum intent_mode)v);
	if (e == &intent_proto_enum)
		return intent_proto_name((enum intent_proto)v);
	if (e == &intent_start_enum)
		return intent_start_name((enum intent_start)v);
	if (e == &intent_dir_enum)
		return intent_dir_name((enum intent_dir)v);
	if (e == &intent_psk_encoding_enum)
		return intent_psk_encoding_name((enum intent_psk_encoding)v);
	if (e == &intent_auth_enum)
		return intent_auth_name((enum intent_auth)v);
	fail_msg("enum intent_%s: no intent_%s_name in this test", e->name, e->name);
	return NULL;
}

/* name -> value -> name for every value of every enum; names distinct. */
static void test_enum_names(void **state)
{
	(void)state;
	for (size_t k = 0; k < intent_field_nenums; k++) {
		const struct intent_enum *e = intent_field_enums[k];

		assert_true(e->n >= 2);
		for (unsigned v = 0; v < e->n; v++) {
			const char *name = intent_enum_name(e, v);

			if (!name || !*name)
				fail_msg("enum intent_%s: value %u has no name", e->name, v);
			assert_int_equal(intent_enum_value(e, name), (int)v);
			assert_string_equal(typed_name(e, v), name);
		}
		assert_null(intent_enum_name(e, (unsigned)e->n));
		assert_int_equal(intent_enum_value(e, "no-such-name"), -EINVAL);
	}
	/* The values code names by hand: what the agent and the controller compare with. */
	assert_string_equal(intent_kind_name(INTENT_KIND_VTI), "vti");
	assert_string_equal(intent_dir_name(INTENT_DIR_FWD), "fwd");
	assert_string_equal(intent_psk_encoding_name(INTENT_PSK_HEX), "hex");
	assert_int_equal(intent_enum_value(&intent_auth_enum, "x509"), INTENT_AUTH_X509);
}

/* Keys unique per object and plain (the direct dump writes them unescaped); each enum
 * field's names are among intent_field_enums. */
static void check_table(const struct intent_field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct intent_field *f = &fields[i];
		size_t k = 0;

		if (strspn(f->key, "abcdefghijklmnopqrstuvwxyz_") != strlen(f->key) || !*f->key)
			fail_msg("%s: not a plain key", f->key);
		if (field_by_key(fields, n, f->key) != f)
			fail_msg("%s: twice in one object", f->key);
		while (f->type == INTENT_FT_ENUM && k < intent_field_nenums &&
		       intent_field_enums[k] != f->names)
			k++;
		if (k == intent_field_nenums)
			fail_msg("%s: its enum is not in intent_field_enums", f->key);
		if (f->fields)
			check_table(f->fields, f->nfields);
	}
}

static void test_table(void **state)
{
	(void)state;
	check_table(intent_field_root, intent_field_nroot);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_enum_names),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
