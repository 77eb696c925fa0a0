/* charon's SA states: one table per kind, indexed by the enum. */
#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "ike_state.h"

struct ike_state_info {
	const char *name;		/* charon's spelling */
	enum ike_state_class cls;
	int rank;			/* higher wins among SAs of one tunnel */
	const char *word;		/* the report's; NULL: "none" while ok, else "down" */
};

/* Both kinds share the layout of their first two values, so one lookup serves both. */
static_assert(IKE_SA_UNKNOWN == 0 && CHILD_SA_UNKNOWN == 0, "UNKNOWN first");
static_assert(IKE_SA_NONE == 1 && CHILD_SA_NONE == 1, "NONE second");
#define IKE_STATE_NONE_IDX 1

/* The ranks are those the agent has always used: established beats rekeying beats
 * rekeyed beats the ways up, and any of those beats the ways down. */
static const struct ike_state_info ike_state_ike[IKE_SA_COUNT] = {
	[IKE_SA_UNKNOWN]	= { "UNKNOWN", IKE_STATE_NONE, 0, "down" },
	[IKE_SA_NONE]		= { "DOWN", IKE_STATE_NONE, 0, NULL },
	[IKE_SA_CREATED]	= { "CREATED", IKE_STATE_CONNECTING, 3, "connecting" },
	[IKE_SA_CONNECTING]	= { "CONNECTING", IKE_STATE_CONNECTING, 4, "connecting" },
	[IKE_SA_ESTABLISHED]	= { "ESTABLISHED", IKE_STATE_UP, 8, "established" },
	[IKE_SA_PASSIVE]	= { "PASSIVE", IKE_STATE_CONNECTING, 5, "connecting" },
	[IKE_SA_REKEYING]	= { "REKEYING", IKE_STATE_UP, 7, "established" },
	[IKE_SA_REKEYED]	= { "REKEYED", IKE_STATE_UP, 6, "established" },
	[IKE_SA_DELETING]	= { "DELETING", IKE_STATE_GOING_DOWN, 2, "down" },
	[IKE_SA_DESTROYING]	= { "DESTROYING", IKE_STATE_GOING_DOWN, 1, "down" },
};

/* UPDATING (a MOBIKE address change) is on its way back to INSTALLED: the report has
 * always said "installing" for it, and its counters were never added. */
static const struct ike_state_info ike_state_child[CHILD_SA_COUNT] = {
	[CHILD_SA_UNKNOWN]	= { "UNKNOWN", IKE_STATE_NONE, 0, "down" },
	[CHILD_SA_NONE]		= { "DOWN", IKE_STATE_NONE, 0, NULL },
	[CHILD_SA_CREATED]	= { "CREATED", IKE_STATE_CONNECTING, 6, "installing" },
	[CHILD_SA_ROUTED]	= { "ROUTED", IKE_STATE_NONE, 5, NULL },
	[CHILD_SA_INSTALLING]	= { "INSTALLING", IKE_STATE_CONNECTING, 7, "installing" },
	[CHILD_SA_INSTALLED]	= { "INSTALLED", IKE_STATE_UP, 11, "installed" },
	[CHILD_SA_UPDATING]	= { "UPDATING", IKE_STATE_CONNECTING, 9, "installing" },
	[CHILD_SA_REKEYING]	= { "REKEYING", IKE_STATE_UP, 10, "rekeying" },
	[CHILD_SA_REKEYED]	= { "REKEYED", IKE_STATE_UP, 8, "rekeying" },
	[CHILD_SA_RETRYING]	= { "RETRYING", IKE_STATE_CONNECTING, 4, "installing" },
	[CHILD_SA_DELETING]	= { "DELETING", IKE_STATE_GOING_DOWN, 2, "down" },
	[CHILD_SA_DELETED]	= { "DELETED", IKE_STATE_GOING_DOWN, 3, "down" },
	[CHILD_SA_DESTROYING]	= { "DESTROYING", IKE_STATE_GOING_DOWN, 1, "down" },
};

#define IKE_STATE_N(t) ((int)(sizeof(t) / sizeof((t)[0])))

/* The index of s in t: NONE for NULL or "DOWN", 0 (UNKNOWN) when not there. */
static int ike_state_find(const struct ike_state_info *t, int n, const char *s)
{
	if (!s)
		return IKE_STATE_NONE_IDX;
	for (int i = IKE_STATE_NONE_IDX; i < n; i++)
		if (!strcmp(s, t[i].name))
			return i;
	return 0;
}

/* Out-of-range values read as UNKNOWN rather than past the table. */
static const struct ike_state_info *ike_state_get(const struct ike_state_info *t, int n,
						  int i)
{
	return &t[i >= 0 && i < n ? i : 0];
}

static const char *ike_state_word(const struct ike_state_info *info, bool ok)
{
	return info->word ? info->word : ok ? "none" : "down";
}

#define IKE_STATE_IKE(s) ike_state_get(ike_state_ike, IKE_STATE_N(ike_state_ike), (int)(s))
#define IKE_STATE_CHILD(s) \
	ike_state_get(ike_state_child, IKE_STATE_N(ike_state_child), (int)(s))

enum ike_sa_state ike_state_ike_parse(const char *s)
{
	return (enum ike_sa_state)ike_state_find(ike_state_ike, IKE_STATE_N(ike_state_ike), s);
}

enum child_sa_state ike_state_child_parse(const char *s)
{
	return (enum child_sa_state)ike_state_find(ike_state_child,
						   IKE_STATE_N(ike_state_child), s);
}

const char *ike_state_ike_name(enum ike_sa_state s)
{
	return IKE_STATE_IKE(s)->name;
}

const char *ike_state_child_name(enum child_sa_state s)
{
	return IKE_STATE_CHILD(s)->name;
}

enum ike_state_class ike_state_ike_class(enum ike_sa_state s)
{
	return IKE_STATE_IKE(s)->cls;
}

enum ike_state_class ike_state_child_class(enum child_sa_state s)
{
	return IKE_STATE_CHILD(s)->cls;
}

int ike_state_ike_rank(enum ike_sa_state s)
{
	return IKE_STATE_IKE(s)->rank;
}

int ike_state_child_rank(enum child_sa_state s)
{
	return IKE_STATE_CHILD(s)->rank;
}

const char *ike_state_ike_word(enum ike_sa_state s, bool ok)
{
	return ike_state_word(IKE_STATE_IKE(s), ok);
}

const char *ike_state_child_word(enum child_sa_state s, bool ok)
{
	return ike_state_word(IKE_STATE_CHILD(s), ok);
}
