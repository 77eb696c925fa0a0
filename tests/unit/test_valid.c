/* controller/valid.c: names and strongSwan proposal strings. The proposal cases were
 * cross-checked against charon 5.9.8's own parser (proposal_create_from_string): every
 * proposal accepted here is accepted there. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "valid.h"

static void test_name(void **state)
{
	static const char *const good[] = {
		"a", "0", "paris", "site-1", "a-b-c", "1-2",
		"abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz",	/* 63 */
	};
	static const char *const bad[] = {
		"", "-a", "a-", "-", "Paris", "a_b", "a.b", "a b", " a", "a\n", "caf\xc3\xa9",
		"abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz0",	/* 64 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!valid_name(good[i]))
			fail_msg("rejected '%s'", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (valid_name(bad[i]))
			fail_msg("accepted '%s'", bad[i]);
	assert_false(valid_name(NULL));
}

struct prop_case {
	enum valid_proposal_kind kind;
	const char *s;
	const char *why;	/* NULL: valid; else a substring of the reason */
};

#define IKE VALID_PROPOSAL_IKE
#define ESP VALID_PROPOSAL_ESP
#define AH VALID_PROPOSAL_AH

static const struct prop_case prop_cases[] = {
	/* the profile defaults */
	{ IKE, "aes256gcm16-prfsha384-ecp384", NULL },
	{ ESP, "aes256gcm16-ecp384", NULL },
	{ AH, "sha256-ecp384", NULL },
	/* well-formed classics */
	{ IKE, "aes128-sha256-modp2048", NULL },
	{ IKE, "aes256-aes128-sha512-sha256-prfsha512-ecp521-curve25519-modp3072", NULL },
	{ IKE, "3des-sha1-modp1024", NULL },
	{ IKE, "aes128ctr-aesxcbc-x25519", NULL },
	{ IKE, "chacha20poly1305-prfsha256-x25519", NULL },
	{ IKE, "aes256gcm16-sha384-ecp384", NULL },	/* PRF derived from sha384 */
	{ IKE, "aes128-sha256-modp2048-none", NULL },	/* none is dropped, modp2048 stays */
	{ IKE, "camellia256-sha2_384-ecp384bp", NULL },
	{ ESP, "aes128gcm16", NULL },
	{ ESP, "aes128-sha256", NULL },
	{ ESP, "aes128-sha256-modp2048-esn", NULL },
	{ ESP, "aes256gcm16-ecp384-noesn-esn", NULL },
	{ ESP, "aes128gcm16-sha256", NULL },	/* charon drops the integrity */
	{ ESP, "null-sha256", NULL },
	{ ESP, "aes128gmac", NULL },
	{ ESP, "aes128-sha256-none", NULL },
	{ ESP, "aes128-sha256_96", NULL },
	{ AH, "sha256", NULL },
	{ AH, "aes256gmac-ecp256", NULL },	/* GMAC is integrity in AH */
	{ AH, "sha512-sha256-md5_128-noesn", NULL },
	/* unknown tokens, with the token named */
	{ IKE, "aes999-sha256-modp2048", "unknown keyword 'aes999' in proposal" },
	{ IKE, "AES128-sha256-modp2048", "unknown keyword 'AES128' in proposal (keywords are lower case)" },
	{ IKE, "aes128-sha256-modpnull", "unknown keyword 'modpnull'" },
	{ ESP, "aes128 -sha256", "unknown keyword 'aes128 '" },
	{ ESP, "aes128,sha256", "unknown keyword 'aes128,sha256'" },
	{ ESP, "aes128-sha256-mlkem768", "unknown keyword 'mlkem768'" },
	{ ESP, "aes128-sha3_256", "unknown keyword 'sha3_256'" },
	/* structure */
	{ IKE, "", "empty proposal" },
	{ IKE, "aes128--sha256-modp2048", "stray '-'" },
	{ IKE, "-aes128-sha256-modp2048", "stray '-'" },
	{ IKE, "aes128-sha256-modp2048-", "stray '-'" },
	{ ESP, "-", "stray '-'" },
	{ IKE, "aes128-sha256-sha256-modp2048", "'sha256' appears twice" },
	{ IKE, "sha256-prfsha256-modp2048", "IKE proposal needs an encryption algorithm" },
	{ IKE, "aes128-prfsha256-modp2048", "IKE proposal with 'aes128' needs an integrity algorithm" },
	{ IKE, "aes256gcm16-ecp384", "IKE proposal needs a PRF" },
	{ IKE, "aes128-sha256_96-modp2048", "IKE proposal needs a PRF" },
	{ IKE, "aes128-sha256", "IKE proposal needs a key exchange method" },
	{ IKE, "aes128-sha256-none", "IKE proposal needs a key exchange method" },
	{ IKE, "aes128-aes128gcm16-sha256-modp2048", "'aes128' and AEAD 'aes128gcm16' cannot be mixed" },
	{ IKE, "null-sha256-modp2048", "'null' does not encrypt: IKE must be encrypted" },
	{ IKE, "aes128gmac-prfsha256-modp2048", "'aes128gmac' does not encrypt" },
	{ IKE, "aes128-sha256-modp2048-esn", "'esn' applies to ESP and AH proposals, not IKE" },
	{ ESP, "sha256", "ESP proposal needs an encryption algorithm" },
	{ ESP, "modp2048-esn", "ESP proposal needs an encryption algorithm" },
	{ ESP, "aes128gmac-aes128-sha256", "'aes128' and AEAD 'aes128gmac' cannot be mixed" },
	{ ESP, "aes128-sha256-prfsha256", "'prfsha256' is a PRF: only IKE proposals take one" },
	{ AH, "sha256-prfsha256", "'prfsha256' is a PRF" },
	{ AH, "aes128-sha256", "'aes128' is an encryption algorithm: AH does not encrypt" },
	{ AH, "aes128gcm16-sha256", "'aes128gcm16' is an encryption algorithm" },
	{ AH, "null-sha256", "'null' is an encryption algorithm" },
	{ AH, "modp2048", "AH proposal needs an integrity algorithm" },
	{ AH, "esn", "AH proposal needs an integrity algorithm" },
};

static void test_proposal_table(void **state)
{
	char why[256];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(prop_cases) / sizeof(prop_cases[0]); i++) {
		const struct prop_case *c = &prop_cases[i];

		memset(why, 'x', sizeof(why));
		r = valid_proposal(c->s, c->kind, why, sizeof(why));
		if (!c->why && r)
			fail_msg("'%s' (kind %d) rejected: %s", c->s, c->kind, why);
		if (c->why && r != -EINVAL)
			fail_msg("'%s' (kind %d) accepted, expected '%s'", c->s, c->kind, c->why);
		if (c->why && !strstr(why, c->why))
			fail_msg("'%s': reason '%s' lacks '%s'", c->s, why, c->why);
		if (!c->why)
			assert_string_equal(why, "");
	}
}

/* Every keyword of each class, in a proposal that needs it. */
static void test_proposal_keywords(void **state)
{
	static const char *const enc[] = {
		"des", "3des", "cast128", "aes", "aes192ctr", "blowfish256", "camellia",
		"camellia192ctr", "serpent128", "twofish",
	};
	static const char *const aead[] = {
		"aes128ccm8", "aes192ccm96", "aes256ccm", "aes128gcm64", "aes192gcm12",
		"aes256gcm128", "camellia128ccm8", "camellia256ccm128", "chacha20poly1305compat",
	};
	static const char *const ke[] = {
		"modp768", "modp1536", "modp6144", "modp8192", "modp1024s160", "modp2048s224",
		"modp2048s256", "ecp192", "ecp224", "ecp224bp", "ecp256bp", "ecp512bp",
		"curve448", "x448", "ntru112", "ntru256", "newhope128",
	};
	static const char *const integ[] = {
		"sha", "sha1", "sha1_160", "sha2_256", "sha2_512", "md5", "md5_128",
		"camelliaxcbc", "aescmac",
	};
	static const char *const prf[] = {
		"prfsha1", "prfmd5", "prfaesxcbc", "prfcamelliaxcbc", "prfaescmac",
	};
	char s[128], why[128];
	size_t i;

	(void)state;
#define TRY(kind, fmt, v) do { \
		snprintf(s, sizeof(s), fmt, v); \
		if (valid_proposal(s, kind, why, sizeof(why))) \
			fail_msg("'%s' rejected: %s", s, why); \
	} while (0)
	for (i = 0; i < sizeof(enc) / sizeof(enc[0]); i++)
		TRY(IKE, "%s-sha256-modp2048", enc[i]);
	for (i = 0; i < sizeof(aead) / sizeof(aead[0]); i++)
		TRY(IKE, "%s-prfsha256-ecp256", aead[i]);
	for (i = 0; i < sizeof(ke) / sizeof(ke[0]); i++)
		TRY(IKE, "aes128-sha256-%s", ke[i]);
	for (i = 0; i < sizeof(integ) / sizeof(integ[0]); i++)
		TRY(IKE, "aes128-%s-ecp256", integ[i]);	/* each implies a PRF */
	for (i = 0; i < sizeof(integ) / sizeof(integ[0]); i++)
		TRY(AH, "%s", integ[i]);
	for (i = 0; i < sizeof(prf) / sizeof(prf[0]); i++)
		TRY(IKE, "aes128gcm16-%s-ecp256", prf[i]);
#undef TRY
}

static void test_proposal_why_buffer(void **state)
{
	char small[8];
	char big[1100];

	(void)state;
	/* no reason buffer: still a verdict */
	assert_int_equal(valid_proposal("aes999", ESP, NULL, 0), -EINVAL);
	assert_int_equal(valid_proposal("aes128", ESP, NULL, 0), 0);
	/* a short buffer is cut, not overrun */
	assert_int_equal(valid_proposal("aes999", ESP, small, sizeof(small)), -EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	/* no kind outside the enum, no NULL proposal */
	assert_int_equal(valid_proposal("aes128", (enum valid_proposal_kind)7, NULL, 0), -EINVAL);
	assert_int_equal(valid_proposal(NULL, ESP, NULL, 0), -EINVAL);
	/* overlong proposal */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(valid_proposal(big, ESP, small, sizeof(small)), -EINVAL);
}

/* Echoed tokens are printable and bounded, whatever the input. */
static void test_proposal_token_echo(void **state)
{
	char why[256], tok[200];

	(void)state;
	assert_int_equal(valid_proposal("aes\x01\x7f", ESP, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "'aes?" "?'"));
	memset(tok, 'z', sizeof(tok) - 1);
	tok[sizeof(tok) - 1] = '\0';
	assert_int_equal(valid_proposal(tok, ESP, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz...'"));
	assert_true(strlen(why) < 100);
}

/* The longest possible proposal of distinct keywords fits the token bookkeeping. */
static void test_proposal_many_tokens(void **state)
{
	static const char *const many[] = {
		"aes", "des", "3des", "aes128", "aes192", "aes256", "sha", "sha1", "md5",
		"sha256", "sha384", "sha512", "esn", "noesn", "none", "ecp256", "ecp384",
		"ecp521", "x25519", "x448", "modp2048", "modp3072", "modp4096",
	};
	char s[1100] = "", why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(many) / sizeof(many[0]); i++) {
		strcat(s, i ? "-" : "");
		strcat(s, many[i]);
	}
	assert_int_equal(valid_proposal(s, ESP, why, sizeof(why)), 0);
	strcat(s, "-aes");
	assert_int_equal(valid_proposal(s, ESP, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "'aes' appears twice"));
}

/* ---- valid_object: the reader every kind is built on ---- */

static const char *const colours[] = { "red", "green", NULL };
static const char *const defprops[] = { "aes128gcm16", "aes128-sha256", NULL };
static const struct valid_field fields[] = {
	{ .key = "name", .type = VALID_NAME, .required = true },
	{ .key = "text", .type = VALID_STRING, .max = 5 },
	{ .key = "flag", .type = VALID_BOOL, .def = 1 },
	{ .key = "num", .type = VALID_INT, .min = -3, .max = 3, .def = -1 },
	{ .key = "bit", .type = VALID_INT, .min = 0, .max = 1 },
	{ .key = "colour", .type = VALID_ENUM, .choices = colours, .def_str = "green" },
	{ .key = "addr", .type = VALID_ADDR, .required = true },
	{ .key = "nets", .type = VALID_PREFIXES },
	{ .key = "names", .type = VALID_NAMES },
	{ .key = "tags", .type = VALID_TAGS },
	{ .key = "props", .type = VALID_PROPOSALS, .proposal = VALID_PROPOSAL_ESP,
	  .choices = defprops },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* Reads in (JSON text, or j when in is NULL) under path; returns the error details and
 * leaves the body, if any, in *body. */
static json_t *rd(const char *in, json_t *j, const char *path, int want, json_t **body)
{
	struct verr *errs = verr_new();
	json_error_t e;
	json_t *out = NULL, *d;

	if (in && !(j = json_loads(in, JSON_DECODE_ANY, &e)))
		fail_msg("bad test JSON '%s': %s", in, e.text);
	assert_int_equal(valid_object(j, path, fields, NFIELDS, errs, &out), want);
	d = verr_json(errs);
	if (body)
		*body = out;
	else
		json_decref(out);
	json_decref(j);
	verr_free(errs);
	return d;
}

static bool has_err(const json_t *d, const char *path, const char *msg)
{
	const json_t *e;
	size_t i;

	json_array_foreach(d, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "path")), path) &&
		    strstr(json_string_value(json_object_get(e, "message")), msg))
			return true;
	return false;
}

/* Exactly one error, at path, saying msg. */
static void bad1(const char *in, const char *path, const char *msg)
{
	json_t *d = rd(in, NULL, "", -EINVAL, NULL);

	if (json_array_size(d) != 1 || !has_err(d, path, msg))
		fail_msg("%s: want '%s' at '%s', got %s", in, msg, path, json_dumps(d, JSON_COMPACT));
	json_decref(d);
}

#define BASE "{\"name\":\"n\",\"addr\":\"192.0.2.1\""

static void test_object_defaults(void **state)
{
	json_t *body, *d;
	char *s;

	(void)state;
	d = rd(BASE "}", NULL, "", 0, &body);
	assert_int_equal(json_array_size(d), 0);
	s = json_dumps(body, JSON_COMPACT);
	assert_string_equal(s, "{\"name\":\"n\",\"text\":\"\",\"flag\":true,\"num\":-1,\"bit\":0,"
			    "\"colour\":\"green\",\"addr\":\"192.0.2.1\",\"nets\":[],\"names\":[],"
			    "\"tags\":{},\"props\":[\"aes128gcm16\",\"aes128-sha256\"]}");
	free(s);
	json_decref(body);
	json_decref(d);
}

static void test_object_types(void **state)
{
	(void)state;
	bad1(BASE ",\"text\":5}", "text", "must be a string");
	bad1(BASE ",\"text\":null}", "text", "must be a string");
	bad1(BASE ",\"flag\":\"yes\"}", "flag", "must be true or false");
	bad1(BASE ",\"flag\":0}", "flag", "must be true or false");
	bad1(BASE ",\"num\":\"1\"}", "num", "must be an integer from -3 to 3");
	bad1(BASE ",\"num\":1.0}", "num", "must be an integer from -3 to 3");
	bad1(BASE ",\"num\":4}", "num", "from -3 to 3");
	bad1(BASE ",\"num\":-4}", "num", "from -3 to 3");
	bad1(BASE ",\"bit\":2}", "bit", "must be 0 or 1");
	bad1(BASE ",\"colour\":\"blue\"}", "colour", "must be one of: red, green");
	bad1(BASE ",\"colour\":true}", "colour", "must be one of: red, green");
	bad1(BASE ",\"nets\":{}}", "nets", "must be an array");
	bad1(BASE ",\"names\":\"a\"}", "names", "must be an array");
	bad1(BASE ",\"tags\":[]}", "tags", "must be an object");
	bad1(BASE ",\"props\":{}}", "props", "must be an array of proposal strings");
	bad1("{\"name\":\"n\",\"addr\":5}", "addr", "must be a string");
	bad1("{\"name\":\"-n\",\"addr\":\"192.0.2.1\"}", "name", VALID_NAME_MSG);
}

static void test_object_required_unknown(void **state)
{
	json_t *d;

	(void)state;
	d = rd("{}", NULL, "", -EINVAL, NULL);
	assert_true(has_err(d, "name", "required"));
	assert_true(has_err(d, "addr", "required"));
	assert_int_equal(json_array_size(d), 2);
	json_decref(d);
	bad1(BASE ",\"colur\":\"red\"}", "colur", "unknown field; did you mean 'colour'?");
	bad1(BASE ",\"nmes\":[]}", "nmes", "did you mean 'names'?");
	d = rd(BASE ",\"weather\":1}", NULL, "", -EINVAL, NULL);
	assert_true(has_err(d, "weather", "unknown field"));
	assert_false(has_err(d, "weather", "did you mean"));
	json_decref(d);
}

/* Errors sit under the caller's path; a non-object is one error at the path itself. */
static void test_object_paths(void **state)
{
	json_t *d, *body = (json_t *)1;

	(void)state;
	d = rd("{\"addr\":\"x\",\"nets\":[\"10.0.0.1/8\"],\"tags\":{\"k\":1}}", NULL, "sites[3]",
	       -EINVAL, NULL);
	assert_true(has_err(d, "sites[3].name", "required"));
	assert_true(has_err(d, "sites[3].addr", "not an IPv4 or IPv6 address"));
	assert_true(has_err(d, "sites[3].nets[0]", "host bits set: did you mean 10.0.0.0/8?"));
	assert_true(has_err(d, "sites[3].tags.k", "must be a string"));
	assert_int_equal(json_array_size(d), 4);
	json_decref(d);
	d = rd("[1]", NULL, "sites[3]", -EINVAL, &body);
	assert_true(has_err(d, "sites[3]", "must be an object"));
	assert_null(body);
	json_decref(d);
	d = rd("\"x\"", NULL, "", -EINVAL, NULL);
	assert_true(has_err(d, "", "must be an object"));
	json_decref(d);
}

/* On errors the body still holds every valid field, for rules across fields. */
static void test_object_partial(void **state)
{
	json_t *d, *body;

	(void)state;
	d = rd(BASE ",\"num\":9,\"bit\":1,\"nets\":[\"x\"]}", NULL, "", -EINVAL, &body);
	assert_non_null(body);
	assert_null(json_object_get(body, "num"));
	assert_null(json_object_get(body, "nets"));
	assert_int_equal(json_integer_value(json_object_get(body, "bit")), 1);
	assert_string_equal(json_string_value(json_object_get(body, "addr")), "192.0.2.1");
	json_decref(d);
	json_decref(body);
}

static void test_object_strings(void **state)
{
	char in[256];
	json_t *j, *d;

	(void)state;
	/* the limit counts characters: five two-byte ones fit */
	d = rd(BASE ",\"text\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", NULL, "", 0, NULL);
	json_decref(d);
	bad1(BASE ",\"text\":\"abcdef\"}", "text", "must be at most 5 characters");
	snprintf(in, sizeof(in), BASE ",\"text\":\"%s\"}", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x");
	bad1(in, "text", "at most 5");
	/* an embedded NUL would cut a value short without a word */
	j = json_pack("{s:s, s:s%}", "addr", "192.0.2.1", "name", "ab\0cd", (size_t)5);
	d = rd(NULL, j, "", -EINVAL, NULL);
	assert_true(has_err(d, "name", "must not contain NUL characters"));
	json_decref(d);
	j = json_pack("{s:s, s:s, s:[s%]}", "addr", "192.0.2.1", "name", "n", "names", "a\0b",
		      (size_t)3);
	d = rd(NULL, j, "", -EINVAL, NULL);
	assert_true(has_err(d, "names[0]", "must not contain NUL characters"));
	json_decref(d);
}

static void test_object_lists(void **state)
{
	json_t *d, *body, *both;
	char *s;

	(void)state;
	d = rd(BASE ",\"nets\":[\"2001:DB8::/32\",\"10.0.0.0/8\",\"::/0\",\"9.0.0.0/8\","
	       "\"10.0.0.0/7\"],\"names\":[\"b\",\"a\",\"c\"]}", NULL, "", 0, &body);
	both = json_pack("[O,O]", json_object_get(body, "nets"), json_object_get(body, "names"));
	s = json_dumps(both, JSON_COMPACT);
	json_decref(both);
	assert_string_equal(s, "[[\"9.0.0.0/8\",\"10.0.0.0/7\",\"10.0.0.0/8\",\"::/0\","
			    "\"2001:db8::/32\"],[\"a\",\"b\",\"c\"]]");
	free(s);
	json_decref(body);
	json_decref(d);
	d = rd(BASE ",\"nets\":[\"10.0.0.0/8\",\"10.0.0.0/8\",\"10.0.0.0/8\",\"2001:db8::/32\","
	       "\"2001:DB8::/32\"],\"names\":[\"b\",\"a\",\"b\"]}", NULL, "", -EINVAL, NULL);
	assert_true(has_err(d, "nets[1]", "duplicate prefix 10.0.0.0/8 (also nets[0])"));
	assert_true(has_err(d, "nets[2]", "duplicate prefix 10.0.0.0/8 (also nets[0])"));
	assert_true(has_err(d, "nets[4]", "duplicate prefix 2001:db8::/32 (also nets[3])"));
	assert_true(has_err(d, "names[2]", "duplicate name b (also names[0])"));
	assert_int_equal(json_array_size(d), 4);
	json_decref(d);
	bad1(BASE ",\"nets\":[\"10.0.0.0\"]}", "nets[0]", "not a CIDR prefix");
	bad1(BASE ",\"nets\":[\"10.0.0.0/8\",5]}", "nets[1]", "must be a string");
}

static void test_object_tags(void **state)
{
	char in[2048], v[300];
	size_t i, n;

	(void)state;
	bad1(BASE ",\"tags\":{\"a b\":\"x\"}}", "tags", "key 'a b' must be 1\u201363 characters");
	bad1(BASE ",\"tags\":{\"\":\"x\"}}", "tags", "key '' must be");
	bad1(BASE ",\"tags\":{\"k=v\":\"x\"}}", "tags", "key 'k=v'");
	bad1(BASE ",\"tags\":{\"env\":true}}", "tags.env", "must be a string");
	bad1(BASE ",\"tags\":{\"env\":\"a\\nb\"}}", "tags.env", "control characters");
	memset(v, 'v', 256);
	v[256] = '\0';
	snprintf(in, sizeof(in), BASE ",\"tags\":{\"k\":\"%s\"}}", v);
	bad1(in, "tags.k", "at most 255 characters");
	json_decref(rd(BASE ",\"tags\":{\"Env.x_y/z:w-1\":\"\"}}", NULL, "", 0, NULL));
	n = (size_t)snprintf(in, sizeof(in), BASE ",\"tags\":{");
	for (i = 0; i < 65; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "%s\"k%zu\":\"v\"", i ? "," : "", i);
	snprintf(in + n, sizeof(in) - n, "}}");
	bad1(in, "tags", "at most 64 tags");
}

static void test_finish(void **state)
{
	struct verr *errs = verr_new();
	json_t *out = NULL;

	(void)state;
	assert_int_equal(valid_finish(0, errs, 0, json_object(), &out), 0);
	assert_non_null(out);
	json_decref(out);
	out = NULL;
	verr_add(errs, "x", "bad");
	/* errors since errs_before: the body goes, -EINVAL comes back */
	assert_int_equal(valid_finish(0, errs, 0, json_object(), &out), -EINVAL);
	assert_null(out);
	/* errors from before this object do not count against it */
	assert_int_equal(valid_finish(0, errs, 1, json_object(), &out), 0);
	json_decref(out);
	out = NULL;
	assert_int_equal(valid_finish(-ENOMEM, errs, 1, json_object(), &out), -ENOMEM);
	assert_int_equal(valid_finish(0, errs, 1, NULL, &out), -EINVAL);
	assert_null(out);
	verr_free(errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_proposal_table),
		cmocka_unit_test(test_proposal_keywords),
		cmocka_unit_test(test_proposal_why_buffer),
		cmocka_unit_test(test_proposal_token_echo),
		cmocka_unit_test(test_proposal_many_tokens),
		cmocka_unit_test(test_object_defaults),
		cmocka_unit_test(test_object_types),
		cmocka_unit_test(test_object_required_unknown),
		cmocka_unit_test(test_object_paths),
		cmocka_unit_test(test_object_partial),
		cmocka_unit_test(test_object_strings),
		cmocka_unit_test(test_object_lists),
		cmocka_unit_test(test_object_tags),
		cmocka_unit_test(test_finish),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
