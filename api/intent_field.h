/* The intent's fields, described once (intent_field.c): JSON key, C place, type, range,
 * default, and whether the field is content. The decoder and the jansson encoder
 * (intent.c), the direct encoder (intent_dump.c), the digest (intent_hash.c) and
 * intent_free all walk these tables, so a field added here is decoded, encoded, dumped,
 * hashed and freed alike; the unit tests hold the tables against the JSON Schema and the
 * digest against every field. Table order is JSON order, and the digest's order. */
#ifndef GRESEC_INTENT_FIELD_H
#define GRESEC_INTENT_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "intent.h"

enum intent_field_type {
	INTENT_FT_CONST,	/* a number that has one value (format): checked, not stored */
	INTENT_FT_UINT,		/* an unsigned integer of size bytes, min..max */
	INTENT_FT_BOOL,
	INTENT_FT_ENUM,		/* an enum, its JSON text one of names */
	INTENT_FT_STR,		/* char *: non-empty, no NUL; NULL when absent */
	INTENT_FT_IFNAME,	/* char[INTENT_IFNAME_MAX + 1] */
	INTENT_FT_TIME,		/* char[INTENT_TIME_LEN], intent_time_parse's format; "" absent */
	INTENT_FT_ADDR,		/* struct addr */
	INTENT_FT_PREFIX,	/* struct addr_prefix: no host bits */
	INTENT_FT_IFADDR,	/* struct intent_ifaddr: host bits allowed */
	INTENT_FT_STRV,		/* char **, its count (size_t) at count_off: non-empty */
	INTENT_FT_OBJECT,	/* a JSON object whose members, fields, lie in the same struct */
	INTENT_FT_ARRAY,	/* objects: a pointer at off, size-byte elements, count at count_off */
};

/* Decoding: absence is an error. */
#define INTENT_FF_REQUIRED	0x01u
/* Encoding: left out while 0, NULL or "" (the default); an OBJECT while its bool at
 * count_off is false (then its members are all zero). */
#define INTENT_FF_OMIT		0x02u
/* Not content (when, not what): the digest leaves it out, so it never moves a revision. */
#define INTENT_FF_UNHASHED	0x04u
/* Digested only when not 0, as 1 + value: a field added after digests were first
 * stored, so intents without it keep their digest (and revision). */
#define INTENT_FF_HASH_IF_SET	0x08u
/* A secret: wiped before it is freed. */
#define INTENT_FF_SECRET	0x10u

struct intent_enum {
	const char *name;		/* the C type's suffix, "kind" for enum intent_kind */
	const char *const *names;	/* JSON text by value */
	size_t n;
};

struct intent_field {
	const char *key;
	enum intent_field_type type;
	unsigned flags;			/* INTENT_FF_* */
	size_t off;			/* from the start of the struct the table describes */
	size_t size;			/* of the member; ARRAY: of an element */
	size_t count_off;		/* STRV, ARRAY: the size_t count; OMIT OBJECT: the bool */
	uint64_t min, max;		/* CONST, UINT */
	uint64_t def;			/* CONST, UINT, BOOL, ENUM: the value when absent */
	const struct intent_enum *names;	/* ENUM */
	const struct intent_field *fields;	/* OBJECT, ARRAY */
	size_t nfields;
};

/* The document, and the struct intent it fills. */
extern const struct intent_field intent_field_root[];
extern const size_t intent_field_nroot;

extern const struct intent_enum intent_kind_enum, intent_mode_enum, intent_proto_enum,
	intent_start_enum, intent_dir_enum, intent_psk_encoding_enum, intent_auth_enum;
/* Every enum above, for the tests. */
extern const struct intent_enum *const intent_field_enums[];
extern const size_t intent_field_nenums;

/* The value of an integer, bool or enum member of base (CONST: its value). */
uint64_t intent_field_uint(const void *base, const struct intent_field *f);
void intent_field_set_uint(void *base, const struct intent_field *f, uint64_t v);
/* A string member (STR, IFNAME, TIME) of base; NULL when a STR is absent. */
const char *intent_field_str(const void *base, const struct intent_field *f);
size_t intent_field_count(const void *base, const struct intent_field *f);
/* What an OMIT field must be for the encoders to write it. */
bool intent_field_present(const void *base, const struct intent_field *f);
/* Sets the presence flag of an OMIT object. */
void intent_field_set_present(void *base, const struct intent_field *f);
/* An ADDR, PREFIX or IFADDR member as canonical text; buf holds ADDR_PREFIX_STRLEN. */
void intent_field_text(const void *base, const struct intent_field *f, char *buf, size_t len);
/* The enum value named s, or -EINVAL. NULL when v has no name. */
int intent_enum_value(const struct intent_enum *e, const char *s);
const char *intent_enum_name(const struct intent_enum *e, unsigned v);
/* Releases what the n fields of base own (strings, vectors, arrays), not base itself. */
void intent_field_free(const struct intent_field *fields, size_t n, void *base);

#endif
