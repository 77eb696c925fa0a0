/* The agent's state directory: the last applied intent (so the agent keeps enforcing
 * it while the controller is unreachable) and the last status, each replaced
 * atomically so a crash leaves either the old or the new file, never half of one. */
#ifndef GRESEC_STATE_H
#define GRESEC_STATE_H

#include <jansson.h>

#include "intent.h"

/* Writes j to DIR/NAME via a temporary file, fsync and rename. 0 or negative errno. */
int state_write_json(const char *dir, const char *name, const json_t *j);
/* The same for text (then end appended), mode 0600: the site's private key too. */
int state_write_text(const char *dir, const char *name, const char *text, const char *end);
int state_save_intent(const char *dir, const struct intent *in);
/* -ENOENT when there is none; -EINVAL (message in err) when it does not validate. */
int state_load_intent(const char *dir, struct intent **out, char *err, size_t errlen);

#endif
