/* A site's intent: the complete, self-contained description of what one site's
 * gateway must do (tunnels, routes, SPD). The controller compiles it, the agent
 * enforces it; both use these types, the JSON codec and the validator below.
 * docs/intent.md describes the format, api/intent.schema.json is its JSON Schema. */
#ifndef GRESEC_INTENT_H
#define GRESEC_INTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "addr.h"

#define INTENT_FORMAT 1

/* Ownership rules the agent relies on to recognise its own kernel objects. The
 * validator enforces them, so an intent can never name something the agent would not
 * later recognise as its own. */
#define INTENT_IFNAME_PREFIX "gs"	/* interface names: "gs" + 1..13 of [a-z0-9-] */
#define INTENT_IFNAME_MAX 15		/* IFNAMSIZ - 1 */
#define INTENT_REQID_MIN 0x10000u	/* below: left to charon's own allocation */
#define INTENT_REQID_MAX 0xffffffu
#define INTENT_SPD_PRIO_MIN 10000u	/* the agent's XFRM policy priority band */
#define INTENT_SPD_PRIO_MAX 10999u
#define INTENT_ID_MAX 63
#define INTENT_PSK_MIN 16
#define INTENT_PSK_HEX_MIN 16		/* bytes of a hex-encoded psk */
#define INTENT_PSK_HEX_MAX 128
#define INTENT_ECMP_MAX 8		/* equal-cost paths of one route (prefix, metric) */
/* BFD on the tunnel (RFC 5880/5881): ranges and defaults of the profile's "bfd". */
#define INTENT_BFD_INTERVAL_MIN 50	/* ms */
#define INTENT_BFD_INTERVAL_MAX 10000
#define INTENT_BFD_INTERVAL_DEFAULT 100
#define INTENT_BFD_MULT_MIN 2
#define INTENT_BFD_MULT_MAX 50
#define INTENT_BFD_MULT_DEFAULT 3

/* Each enum is a list of (value, JSON text): the enum and its names (intent_field.c) are
 * made from the one list, so no value can lack its name. */
#define INTENT_ENUM_VALUE(v, text) v,
#define INTENT_KIND_LIST(X) X(INTENT_KIND_GRE, "gre") X(INTENT_KIND_VTI, "vti")
#define INTENT_MODE_LIST(X) \
	X(INTENT_MODE_TRANSPORT, "transport") X(INTENT_MODE_TUNNEL, "tunnel")
#define INTENT_PROTO_LIST(X) X(INTENT_PROTO_ESP, "esp") X(INTENT_PROTO_AH, "ah")
#define INTENT_START_LIST(X) \
	X(INTENT_START_ON_DEMAND, "on-demand") X(INTENT_START_ALWAYS, "always")
#define INTENT_DIR_LIST(X) \
	X(INTENT_DIR_IN, "in") X(INTENT_DIR_OUT, "out") X(INTENT_DIR_FWD, "fwd")
/* What charon's key is: "string", the psk's characters as they are (what agents before
 * psk_encoding did; the JSON leaves the field out), or "hex", the bytes its hex digits
 * after "0x" denote (what ipsec.secrets and swanctl.conf make of "0x..."). */
#define INTENT_PSK_ENCODING_LIST(X) X(INTENT_PSK_STRING, "string") X(INTENT_PSK_HEX, "hex")
/* How the ends authenticate: the tunnel's PSK, or certificates of the intent's CA
 * (the identities local_id/remote_id are then the sites' names). */
#define INTENT_AUTH_LIST(X) X(INTENT_AUTH_PSK, "psk") X(INTENT_AUTH_X509, "x509")

enum intent_kind { INTENT_KIND_LIST(INTENT_ENUM_VALUE) };
enum intent_mode { INTENT_MODE_LIST(INTENT_ENUM_VALUE) };
enum intent_proto { INTENT_PROTO_LIST(INTENT_ENUM_VALUE) };
enum intent_start { INTENT_START_LIST(INTENT_ENUM_VALUE) };
enum intent_dir { INTENT_DIR_LIST(INTENT_ENUM_VALUE) };
enum intent_psk_encoding { INTENT_PSK_ENCODING_LIST(INTENT_ENUM_VALUE) };
enum intent_auth { INTENT_AUTH_LIST(INTENT_ENUM_VALUE) };
/* What an agent that decodes psk_encoding "hex" says in its status reports'
 * "features": the controller uses the hex form for a tunnel once both ends say it. */
#define INTENT_FEATURE_PSK_HEX "psk-hex"

/* IKE and CHILD_SA parameters of the tunnel's profile, as charon needs them. */
struct intent_security {
	enum intent_mode mode;
	enum intent_proto protocol;
	char **ike_proposals;		/* strongSwan proposal strings, in preference order */
	size_t n_ike_proposals;
	char **child_proposals;
	size_t n_child_proposals;
	uint32_t ike_lifetime;		/* seconds until IKE_SA rekey */
	uint32_t child_lifetime;	/* seconds until CHILD_SA rekey */
	uint32_t dpd_delay;		/* seconds; 0 disables DPD */
	enum intent_start start;
	bool initiator;
	bool udp_encap;
	char *local_id;			/* IKE identities; NULL = the underlay address */
	char *remote_id;
	enum intent_auth auth;		/* "auth" in JSON, absent for psk */
};

/* Liveness of the tunnel: BFD between the two overlay addresses, over the tunnel. */
struct intent_bfd {
	bool enabled;
	uint32_t interval_ms;		/* desired transmit and required receive interval */
	uint8_t multiplier;		/* detection time = multiplier x interval */
};

/* An interface address with its prefix length: host bits are meaningful here. */
struct intent_ifaddr {
	struct addr addr;
	uint8_t len;
};

struct intent_tunnel {
	char *id;			/* stable for the tunnel's life; [A-Za-z0-9._-] */
	char ifname[INTENT_IFNAME_MAX + 1];
	enum intent_kind kind;
	struct addr local;		/* underlay */
	struct addr remote;
	uint32_t key;			/* GRE key; for VTI also the XFRM mark */
	uint8_t ttl;			/* 0 = inherit */
	uint32_t mtu;
	struct intent_ifaddr overlay_local;	/* /31 or /127 */
	struct intent_ifaddr overlay_peer;
	uint32_t reqid;
	struct intent_security sec;
	struct intent_bfd bfd;
	char *psk;			/* secret: never logged */
	enum intent_psk_encoding psk_encoding;
};

struct intent_route {
	struct addr_prefix prefix;
	char *via;			/* tunnel id */
	uint32_t metric;
};

struct intent_spd {
	char *tunnel;			/* tunnel id */
	struct addr_prefix src;
	struct addr_prefix dst;
	uint8_t proto;			/* 47 (GRE) or 0 (all) */
	enum intent_dir dir;
	enum intent_mode tmpl_mode;
	enum intent_proto tmpl_proto;
	uint32_t tmpl_reqid;
	uint32_t priority;
	bool has_mark;			/* VTI: selects the policy by the tunnel's key */
	uint32_t mark;
	uint32_t mark_mask;
};

#define INTENT_TIME_LEN 32

struct intent {
	char *site;
	uint64_t revision;
	/* When the controller committed this revision, "2026-12-01T10:00:00.123Z" (UTC, ms);
	 * "" when not known (a file, an older controller). Like the revision it is not part
	 * of the content: the hash leaves it out. */
	char committed_at[INTENT_TIME_LEN];
	struct intent_tunnel *tunnels;
	size_t n_tunnels;
	struct intent_route *routes;
	size_t n_routes;
	struct intent_spd *spd;
	size_t n_spd;
	/* The controller's CA certificate and its current CRL (PEM; NULL when absent): what
	 * the site's IKE certificate chains to and what charon checks peers against. */
	char *ca;
	char *crl;
};

struct intent *intent_new(void);
/* The committed_at format: ms since the epoch to text and back (-EINVAL for anything
 * but YYYY-MM-DDTHH:MM:SS[.fff]Z). */
void intent_time_fmt(int64_t ms, char out[INTENT_TIME_LEN]);
int intent_time_parse(const char *s, int64_t *ms);
void intent_free(struct intent *in);

/* Decodes j into a new intent. Unknown fields are errors. On error returns -EINVAL
 * (or -ENOMEM) and writes "path: message" into err (e.g. "tunnels[2].mtu: out of
 * range"). Decoding checks types and syntax only; call intent_validate for the rules
 * that span fields. */
int intent_from_json(const json_t *j, struct intent **out, char *err, size_t errlen);
/* Canonical, deterministic encoding (fixed key order, canonical address text):
 * the same intent always dumps to the same bytes with json_dumps(.., JSON_COMPACT).
 * Returns a new reference, NULL on OOM. */
json_t *intent_to_json(const struct intent *in);
/* Cross-field rules: unique ids and names, references, ownership ranges, overlay /31 or
 * /127 pairs, template/profile agreement. 0, or -EINVAL with "path: message" in err. */
int intent_validate(const struct intent *in, char *err, size_t errlen);
/* Parse + validate a file. 0, or negative errno with a message in err. */
int intent_load_file(const char *path, struct intent **out, char *err, size_t errlen);

/* The same bytes as json_dumps(intent_to_json(in), JSON_COMPACT), written directly
 * (intent_dump.c). *out is malloc'd and NUL-terminated; len may be NULL. */
int intent_dump(const struct intent *in, char **out, size_t *len);

/* SHA-256 over every field intent_to_json emits except revision and committed_at
 * (intent_hash.c): equal digests, equal JSON but for those. 0 or negative errno. */
int intent_hash(const struct intent *in, unsigned char out[32]);

const struct intent_tunnel *intent_tunnel_by_id(const struct intent *in, const char *id);

const char *intent_kind_name(enum intent_kind k);
const char *intent_mode_name(enum intent_mode m);
const char *intent_proto_name(enum intent_proto p);
const char *intent_dir_name(enum intent_dir d);
const char *intent_start_name(enum intent_start s);
const char *intent_psk_encoding_name(enum intent_psk_encoding e);
/* The key charon gets for t: its psk's characters, or the bytes of its hex digits.
 * Writes at most cap bytes; 0 (with *len) or -EINVAL (not hex when it must be). */
int intent_psk_bytes(const struct intent_tunnel *t, uint8_t *buf, size_t cap, size_t *len);
const char *intent_auth_name(enum intent_auth a);

/* "10.0.0.1/31" style; host bits allowed. 0 or -EINVAL. */
int intent_ifaddr_parse(const char *s, struct intent_ifaddr *out);
void intent_ifaddr_fmt(const struct intent_ifaddr *a, char *buf, size_t len);

#endif
