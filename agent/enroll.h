/* The site's IKE key and certificate. The key is made here, on the gateway, and never
 * leaves it (STATE_DIR/ike.key, mode 0600); the certificate comes from the controller's
 * CA for a CSR (POST /v1/agents/{site}/csr) and is renewed at two thirds of its life.
 * The key stays across renewals; deleting ike.key makes a new one at the next start. */
#ifndef GRESEC_ENROLL_H
#define GRESEC_ENROLL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "intent.h"

struct client;

struct enroll {
	char *dir, *site;
	char *key_file, *cert_file;	/* DIR/ike.key, DIR/ike.pem */
	char *key_pem;			/* secret: never logged */
	char *cert_pem;			/* NULL until enrolled */
	time_t not_before, not_after;
	int64_t retry_ms;		/* after a failed enrollment: not before then */
};

/* Loads the key, or makes it when make is set (else NULL without one); loads the
 * certificate when it is there and is this key's. NULL on error (logged). */
struct enroll *enroll_new(const char *dir, const char *site, bool make);
void enroll_free(struct enroll *e);
/* A certificate that has not expired. */
bool enroll_valid(const struct enroll *e);
/* When the certificate should be renewed (two thirds of its life), 0 for at once. */
time_t enroll_renew_at(const struct enroll *e);
/* Enrolls when there is no certificate or it is due and the intent carries a CA
 * (a controller with one); a failure is logged and retried after ENROLL_RETRY_MS.
 * 1 when the certificate changed, 0 when not, negative errno on failure. */
int enroll_tick(struct enroll *e, struct client *c, const struct intent *in, int64_t now_ms);
/* The CSR (PEM, malloc'd) for e's key, CN = the site's name. */
int enroll_csr(const struct enroll *e, char **pem);

#define ENROLL_RETRY_MS 30000

#endif
