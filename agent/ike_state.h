/* charon's IKE_SA and CHILD_SA states, read in one place: the state strings of list-sas
 * and of events parsed to enums, one classification of what each state means for a
 * tunnel, a rank for "the best state of several SAs wins", and the words the controller's
 * status report uses. */
#ifndef GRESEC_IKE_STATE_H
#define GRESEC_IKE_STATE_H

#include <stdbool.h>

/* IKE_SA states (strongSwan's ike_sa_state_t). NONE: no IKE_SA ("DOWN"); UNKNOWN: a
 * string this agent does not know, e.g. from a newer charon. */
enum ike_sa_state {
	IKE_SA_UNKNOWN,
	IKE_SA_NONE,
	IKE_SA_CREATED,
	IKE_SA_CONNECTING,
	IKE_SA_ESTABLISHED,
	IKE_SA_PASSIVE,
	IKE_SA_REKEYING,
	IKE_SA_REKEYED,
	IKE_SA_DELETING,
	IKE_SA_DESTROYING,
	IKE_SA_COUNT
};

/* CHILD_SA states (strongSwan's child_sa_state_t), with NONE and UNKNOWN as above. */
enum child_sa_state {
	CHILD_SA_UNKNOWN,
	CHILD_SA_NONE,
	CHILD_SA_CREATED,
	CHILD_SA_ROUTED,
	CHILD_SA_INSTALLING,
	CHILD_SA_INSTALLED,
	CHILD_SA_UPDATING,
	CHILD_SA_REKEYING,
	CHILD_SA_REKEYED,
	CHILD_SA_RETRYING,
	CHILD_SA_DELETING,
	CHILD_SA_DELETED,
	CHILD_SA_DESTROYING,
	CHILD_SA_COUNT
};

/* What a state means for the tunnel. UP: keys negotiated and in use (an IKE_SA that is
 * established or rekeying; a CHILD_SA installed or rekeying: its traffic is counted).
 * CONNECTING: on its way up, charon is working on it (nothing to initiate). GOING_DOWN:
 * being deleted. NONE: no SA (a ROUTED child is only a trap), or a state unknown. */
enum ike_state_class {
	IKE_STATE_NONE,
	IKE_STATE_CONNECTING,
	IKE_STATE_UP,
	IKE_STATE_GOING_DOWN,
};

/* charon's string to the enum: NULL or "DOWN" is NONE, anything unknown UNKNOWN. */
enum ike_sa_state ike_state_ike_parse(const char *s);
enum child_sa_state ike_state_child_parse(const char *s);
/* charon's spelling ("ESTABLISHED", ...), "DOWN" for NONE, "UNKNOWN" for UNKNOWN. */
const char *ike_state_ike_name(enum ike_sa_state s);
const char *ike_state_child_name(enum child_sa_state s);
enum ike_state_class ike_state_ike_class(enum ike_sa_state s);
enum ike_state_class ike_state_child_class(enum child_sa_state s);
/* Of several SAs of one tunnel the highest rank is reported; NONE and UNKNOWN rank 0. */
int ike_state_ike_rank(enum ike_sa_state s);
int ike_state_child_rank(enum child_sa_state s);
/* The status report's words: "established", "connecting", "none" or "down" for the
 * IKE_SA; "installed", "rekeying", "installing", "none" or "down" for the CHILD_SA.
 * Without an SA the word is "none" only while ok (charon reachable, no error), since
 * an idle on-demand tunnel is not a broken one. */
const char *ike_state_ike_word(enum ike_sa_state s, bool ok);
const char *ike_state_child_word(enum child_sa_state s, bool ok);

#endif
