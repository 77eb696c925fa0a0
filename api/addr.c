/* IPv4/IPv6 addresses and prefixes. Parsing leans on inet_pton, which is strict in the
 * ways we want (glibc rejects "1.2.3", octal-looking "010.0.0.1", zone ids and spaces);
 * arithmetic is done on 128-bit integers so IPv4 and IPv6 share one code path. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

typedef unsigned __int128 addr_u128;

static unsigned addr_maxbits(int family)
{
	if (family == AF_INET)
		return 32;
	if (family == AF_INET6)
		return 128;
	return 0;
}

static size_t addr_nbytes(int family)
{
	return addr_maxbits(family) / 8;
}

/* The first bits bits of x and y are equal. */
static bool addr_bits_equal(const uint8_t *x, const uint8_t *y, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(x, y, full) != 0)
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return ((x[full] ^ y[full]) & mask) == 0;
}

/* Clears every bit past len; returns whether any was set. */
static bool addr_clear_host_bits(struct addr *a, unsigned len)
{
	size_t n = addr_nbytes(a->family);
	bool had = false;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned first = (unsigned)i * 8;
		uint8_t keep;

		if (first + 8 <= len)
			continue;
		keep = first >= len ? 0 : (uint8_t)(0xff << (8 - (len - first)));
		if (a->bytes[i] & (uint8_t)~keep)
			had = true;
		a->bytes[i] &= keep;
	}
	return had;
}

static addr_u128 addr_to_u128(const struct addr *a)
{
	size_t n = addr_nbytes(a->family), i;
	addr_u128 v = 0;

	for (i = 0; i < n; i++)
		v = (v << 8) | a->bytes[i];
	return v;
}

static void addr_from_u128(struct addr *a, addr_u128 v)
{
	size_t n = addr_nbytes(a->family), i;

	for (i = n; i > 0; i--) {
		a->bytes[i - 1] = (uint8_t)v;
		v >>= 8;
	}
}

int addr_parse(const char *s, struct addr *out)
{
	struct addr a;

	if (!s || !out)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	/* inet_pton(AF_INET6) also takes "::1.2.3.4", so ':' alone decides the family. */
	a.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(a.family, s, a.bytes) != 1)
		return -EINVAL;
	*out = a;
	return 0;
}

/* Prefix lengths: decimal digits only, no sign, no spaces, at most 3 digits. */
static int addr_parse_len(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++, n++) {
		if (*s < '0' || *s > '9' || n >= 3)
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* On -EDOM, *out still receives the prefix with its host bits cleared, so the caller can
 * suggest the network the user probably meant. */
int addr_prefix_parse(const char *s, struct addr_prefix *out)
{
	char buf[ADDR_STRLEN];
	struct addr_prefix p;
	const char *slash;
	unsigned len;
	size_t alen;
	int r;

	if (!s || !out)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	alen = (size_t)(slash - s);
	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(&p, 0, sizeof(p));
	r = addr_parse(buf, &p.addr);
	if (r < 0)
		return r;
	r = addr_parse_len(slash + 1, addr_maxbits(p.addr.family), &len);
	if (r < 0)
		return r;
	p.len = (uint8_t)len;
	r = addr_clear_host_bits(&p.addr, len) ? -EDOM : 0;
	*out = p;
	return r;
}

/* glibc prints IPv4-compatible addresses (::/96, deprecated by RFC 4291) in dotted form,
 * which RFC 5952 reserves for IPv4-mapped ones; print those as plain hex instead. */
static bool addr_v4_compat(const struct addr *a)
{
	static const uint8_t zero[12];

	return memcmp(a->bytes, zero, 12) == 0 && (a->bytes[12] || a->bytes[13]);
}

/* Writes the decimal of v (< 1000) at p; returns the end. */
static char *addr_put_dec(char *p, unsigned v)
{
	if (v >= 100)
		*p++ = (char)('0' + v / 100);
	if (v >= 10)
		*p++ = (char)('0' + v / 10 % 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

/* Dotted quad by hand: inet_ntop goes through sprintf, and the controller formats
 * millions of addresses when it compiles a large network's intents. */
static void addr_fmt_v4(const uint8_t *b, char *buf, size_t len)
{
	char tmp[16], *p = tmp;

	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		p = addr_put_dec(p, b[i]);
	}
	*p = '\0';
	if ((size_t)(p - tmp) < len)
		memcpy(buf, tmp, (size_t)(p - tmp) + 1);
}

void addr_fmt(const struct addr *a, char *buf, size_t len)
{
	if (!buf || !len)
		return;
	buf[0] = '\0';
	if (!a || !addr_maxbits(a->family))
		return;
	if (a->family == AF_INET) {
		addr_fmt_v4(a->bytes, buf, len);
		return;
	}
	if (a->family == AF_INET6 && addr_v4_compat(a)) {
		snprintf(buf, len, "::%x:%x", (unsigned)(a->bytes[12] << 8 | a->bytes[13]),
			 (unsigned)(a->bytes[14] << 8 | a->bytes[15]));
		return;
	}
	if (!inet_ntop(a->family, a->bytes, buf, (socklen_t)len))
		buf[0] = '\0';
}

void addr_prefix_fmt(const struct addr_prefix *p, char *buf, size_t len)
{
	char a[ADDR_STRLEN];

	if (!buf || !len)
		return;
	buf[0] = '\0';
	if (!p)
		return;
	addr_fmt(&p->addr, a, sizeof(a));
	if (a[0])
		addr_fmt_len(a, p->len, buf, len);
}

void addr_fmt_len(const char *addr, unsigned plen, char *buf, size_t len)
{
	size_t n = strlen(addr);
	char *e;

	if (n + 5 > len) {
		buf[0] = '\0';
		return;
	}
	memcpy(buf, addr, n);
	buf[n] = '/';
	e = addr_put_dec(buf + n + 1, plen);
	*e = '\0';
}

int addr_cmp(const struct addr *a, const struct addr *b)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->bytes, b->bytes, addr_nbytes(a->family));
	return r < 0 ? -1 : r > 0;
}

bool addr_prefix_contains(const struct addr_prefix *p, const struct addr *a)
{
	if (p->addr.family != a->family || p->len > addr_maxbits(a->family))
		return false;
	return addr_bits_equal(p->addr.bytes, a->bytes, p->len);
}

bool addr_prefix_overlap(const struct addr_prefix *a, const struct addr_prefix *b)
{
	unsigned len = a->len < b->len ? a->len : b->len;

	if (a->addr.family != b->addr.family || len > addr_maxbits(a->addr.family))
		return false;
	return addr_bits_equal(a->addr.bytes, b->addr.bytes, len);
}

int addr_prefix_cmp(const struct addr_prefix *a, const struct addr_prefix *b)
{
	int r = addr_cmp(&a->addr, &b->addr);

	if (r)
		return r;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

int addr_prefix_nth(const struct addr_prefix *pool, uint8_t sublen, uint64_t n,
		    struct addr_prefix *out)
{
	unsigned max = addr_maxbits(pool->addr.family);
	unsigned bits = (unsigned)sublen - pool->len;
	struct addr_prefix p;

	if (!max || pool->len > max)
		return -EINVAL;
	if (sublen < pool->len || sublen > max)
		return -ERANGE;
	if (bits < 64 && n >> bits)
		return -ERANGE;
	p.addr = pool->addr;
	p.len = sublen;
	addr_clear_host_bits(&p.addr, pool->len);
	/* n fits in bits, so the shift below stays inside the pool. */
	if (n)
		addr_from_u128(&p.addr, addr_to_u128(&p.addr) + ((addr_u128)n << (max - sublen)));
	*out = p;
	return 0;
}

int addr_offset(const struct addr_prefix *p, uint64_t off, struct addr *out)
{
	unsigned max = addr_maxbits(p->addr.family);
	unsigned host;
	struct addr a;

	if (!max || p->len > max)
		return -EINVAL;
	host = max - p->len;
	if (host < 64 && off >> host)
		return -ERANGE;
	a = p->addr;
	addr_clear_host_bits(&a, p->len);
	addr_from_u128(&a, addr_to_u128(&a) + off);
	*out = a;
	return 0;
}
