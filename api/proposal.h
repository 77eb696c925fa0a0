/* The algorithms gresec lets charon negotiate: one allow-list for the controller (which
 * refuses a profile outside it with 422) and the agent (which refuses an intent outside
 * it, whatever its controller says). */
#ifndef GRESEC_PROPOSAL_H
#define GRESEC_PROPOSAL_H

#include <stddef.h>

enum proposal_kind { PROPOSAL_IKE, PROPOSAL_ESP, PROPOSAL_AH };

/* One strongSwan proposal ("aes256gcm16-prfsha384-ecp384") against the allowed set.
 * 0, or -EPERM with the reason in why ("IKE proposal: 'sha1' is SHA-1"). */
int proposal_policy(const char *prop, enum proposal_kind kind, char *why, size_t len);

#endif
