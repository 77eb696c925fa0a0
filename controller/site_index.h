/* The committed sites' addresses (underlays, NAT addresses, prefixes), parsed and
 * sorted, kept by the store between writes. A write that adds or re-addresses one site
 * asks only whether that site's addresses touch another's; the full check
 * (kind_site_check_all, which words the errors) runs only when they might. */
#ifndef GRESEC_SITE_INDEX_H
#define GRESEC_SITE_INDEX_H

#include <stdbool.h>
#include <jansson.h>

struct site_index;

/* Of every body in sites (canonical site bodies). NULL when out of memory. */
struct site_index *site_index_new(const json_t *sites);
void site_index_free(struct site_index *x);
/* Replaces the entries of site by those of body (NULL: the site is gone). */
int site_index_put(struct site_index *x, const char *site, const json_t *body);
/* Whether body's addresses may conflict with another site's or its own: one equals,
 * contains or lies in another. False only when the full check would find nothing. */
bool site_index_touches(const struct site_index *x, const char *site, const json_t *body);

#endif
