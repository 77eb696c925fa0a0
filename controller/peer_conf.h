/* Configuration for a third-party IKE peer: an unmanaged site's compiled intent
 * rendered as what stock strongSwan (swanctl.conf) or libreswan (ipsec.conf and
 * ipsec.secrets) needs to meet its gresec peers, plus a shell script of the `ip`
 * commands for the tunnel interfaces, addresses, routes and the cleartext-GRE guard.
 * docs/interop.md says what each line must match and why. Pure: no store, no I/O. */
#ifndef GRESEC_PEER_CONF_H
#define GRESEC_PEER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "intent.h"
#include "proposal.h"

enum peer_conf_format { PEER_CONF_SWANCTL, PEER_CONF_LIBRESWAN };

/* The guard's XFRM policies: numerically above (weaker than) any priority strongSwan or
 * libreswan gives its own, so they only act while the daemon has no policy installed. */
#define PEER_CONF_GUARD_PRIO 2000000000u

/* "swanctl" or "libreswan"; -EINVAL for anything else. */
int peer_conf_format_parse(const char *s, enum peer_conf_format *out);
const char *peer_conf_format_name(enum peer_conf_format f);

/* {"site", "revision", "format", "files": {name: text}}, the PSKs in it. -ENOTSUP with
 * the reason in why when the intent cannot be expressed in that format (422), -ENOMEM. */
int peer_conf_render(const struct intent *in, enum peer_conf_format f, json_t **out,
		     char *why, size_t wlen);

/* peer_alg.c: one strongSwan proposal in libreswan's spelling; has_ke says whether it
 * carries a key exchange (PFS for a child). 0 or -ENOTSUP with the reason in why. */
int peer_alg_libreswan(const char *prop, enum proposal_kind kind, char *out, size_t len,
		       bool *has_ke, char *why, size_t wlen);

#endif
