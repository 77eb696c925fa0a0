/* BFD sessions handed from a stopping agent to the next one (a restart, an upgrade).
 *
 * Stopping, the agent asks each Up session's peer to wait BFD_HANDOFF_TX_US x the
 * multiplier it was given (bfd_set_hold), and writes what the next agent needs to go
 * on: per session its id, interface, addresses, discriminators and the peer's timers,
 * with the boot the file belongs to and the monotonic time until which the peers
 * wait. The next agent takes the file once: sessions resume Up with the same
 * discriminators when it is from this boot and still in time; anything else (a
 * reboot, a long stop, a damaged file) is ignored and the sessions start Down as
 * usual. */
#ifndef GRESEC_BFD_HANDOFF_H
#define GRESEC_BFD_HANDOFF_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "bfd_set.h"

#define BFD_HANDOFF_FILE "bfd-handoff.json"
/* The Desired Min TX a stopping agent announces: with the multiplier from
 * --restart-hold (seconds / 2), the peers' detection time. RFC 5880 has no upper
 * bound; 2 s keeps a few packets flowing while the Finals come back. */
#define BFD_HANDOFF_TX_US 2000000u

/* The Up sessions whose peers acknowledged the hold, as a document for the file;
 * until_us: when the peers stop waiting (monotonic). NULL: out of memory. */
json_t *bfd_handoff_save(const struct bfd_set *bs, int64_t until_us);
/* The sessions of a saved document when it is from this boot and now_us is before its
 * until_us: *out (malloc'd, for bfd_set_expect) and *n. 0; -ESTALE when the document
 * is from another boot or too old; -EINVAL when it does not parse; -ENOMEM. */
int bfd_handoff_load(const json_t *doc, int64_t now_us, struct bfd_expect **out, size_t *n);

#endif
