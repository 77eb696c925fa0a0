/* IPv4/IPv6 addresses and prefixes: parsing, formatting and set relations.
 * Shared by the controller (validation, allocation) and the agent (intent). */
#ifndef GRESEC_ADDR_H
#define GRESEC_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct addr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t bytes[16];	/* network order; IPv4 uses the first 4 */
};

struct addr_prefix {
	struct addr addr;
	uint8_t len;
};

#define ADDR_STRLEN 46		/* INET6_ADDRSTRLEN */
#define ADDR_PREFIX_STRLEN 50

/* 0, or -EINVAL. Accepts dotted IPv4 and any RFC 4291 IPv6 text form; nothing else
 * (no "1.2.3", no zone ids, no surrounding spaces). */
int addr_parse(const char *s, struct addr *out);
/* "a.b.c.d/len" or "x::/len". -EINVAL on syntax; -EDOM when bits are set past len
 * (10.0.0.1/8), so the caller can say "host bits set" rather than "invalid". */
int addr_prefix_parse(const char *s, struct addr_prefix *out);
/* Canonical text (RFC 5952 for IPv6). buf must hold ADDR_STRLEN / ADDR_PREFIX_STRLEN. */
void addr_fmt(const struct addr *a, char *buf, size_t len);
void addr_prefix_fmt(const struct addr_prefix *p, char *buf, size_t len);
/* "addr/plen" into buf (plen < 1000), without printf. Empty when it does not fit. */
void addr_fmt_len(const char *addr, unsigned plen, char *buf, size_t len);
int addr_cmp(const struct addr *a, const struct addr *b);
bool addr_prefix_contains(const struct addr_prefix *p, const struct addr *a);
bool addr_prefix_overlap(const struct addr_prefix *a, const struct addr_prefix *b);
/* Order by family, then address, then length: sorted prefixes make overlap checks linear. */
int addr_prefix_cmp(const struct addr_prefix *a, const struct addr_prefix *b);
/* The n-th block of 2^(maxbits-sublen) addresses inside pool (e.g. the n-th /31 of a /16).
 * 0, or -ERANGE when pool has no n-th block. */
int addr_prefix_nth(const struct addr_prefix *pool, uint8_t sublen, uint64_t n,
		    struct addr_prefix *out);
/* The address at offset off inside p (0 = network address). -ERANGE past its end. */
int addr_offset(const struct addr_prefix *p, uint64_t off, struct addr *out);

#endif
