/* UTF-8 checks for text that came from a client and goes back out in JSON: jansson
 * refuses a string that is not valid UTF-8, and an error message must never fail to
 * be built because it quotes what the client sent. */
#ifndef GRESEC_UTF8_H
#define GRESEC_UTF8_H

#include <stddef.h>

/* Length (1-4) of the valid UTF-8 character at s, of at most n bytes; 0 when s does not
 * start one. The rules are jansson's: no overlong forms, no surrogates, nothing past
 * U+10FFFF. */
size_t utf8_char_len(const char *s, size_t n);
/* Makes s valid UTF-8 in place: every byte that does not start a valid character (a
 * character cut short by a buffer's end included) becomes '?'. */
void utf8_sanitize(char *s);

#endif
