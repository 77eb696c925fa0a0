/* Guards on the connections of the HTTP server against clients that hold resources
 * without using them: a deadline for each request's headers (slowloris: a client that
 * trickles a byte now and then resets libmicrohttpd's idle timeout forever), enforced
 * by a sweeper thread, and the peer-closed check for parked long-polls. */
#ifndef GRESEC_HTTP_CONN_H
#define GRESEC_HTTP_CONN_H

#include <stdbool.h>
#include <microhttpd.h>

struct http_conns;

/* header_timeout_s: how long a connection may take to send a request's headers, from
 * its start or from the end of its previous request. */
int http_conns_new(unsigned header_timeout_s, struct http_conns **out);
/* After the server stopped. NULL-safe. */
void http_conns_free(struct http_conns *cs);
/* For MHD_OPTION_NOTIFY_CONNECTION (cls: struct http_conns). */
void http_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		       enum MHD_ConnectionNotificationCode toe);
/* The connection's request headers are complete / its request is answered (it now
 * waits for the next one). From the server's thread. */
void http_conns_headers_done(struct MHD_Connection *conn);
void http_conns_request_done(struct MHD_Connection *conn);
/* Whether the client of a suspended connection has closed its end. Any thread; conn
 * must stay suspended meanwhile (then its socket cannot be closed under us). */
bool http_conns_peer_closed(struct MHD_Connection *conn);

#endif
