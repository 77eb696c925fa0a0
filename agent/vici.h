/* A native client for strongSwan's VICI protocol: the message format (encoder and a
 * strict decoder into a tree) and a unix-socket connection with requests, streamed
 * requests (list-conns, list-sas) and event registration. Single-threaded: events are
 * read from the connection's fd in the caller's poll loop. docs/architecture.md says
 * why this is native rather than Debian's libvici. */
#ifndef GRESEC_VICI_H
#define GRESEC_VICI_H

#include <stdbool.h>
#include <stddef.h>
#include <poll.h>
#include <stdint.h>

/* Protocol limits: names carry a one-byte length, values a two-byte one. charon
 * refuses packets above 512 KiB; a larger length on the wire is a corrupt stream. */
#define VICI_NAME_MAX 255
#define VICI_VALUE_MAX 65535
#define VICI_PACKET_MAX (512 * 1024)
#define VICI_DEPTH_MAX 16
#define VICI_DEFAULT_SOCKET "/var/run/charon.vici"

/* Packet types (first byte of every packet). */
enum vici_packet {
	VICI_CMD_REQUEST = 0,
	VICI_CMD_RESPONSE = 1,
	VICI_CMD_UNKNOWN = 2,
	VICI_EVENT_REGISTER = 3,
	VICI_EVENT_UNREGISTER = 4,
	VICI_EVENT_CONFIRM = 5,
	VICI_EVENT_UNKNOWN = 6,
	VICI_EVENT = 7,
};

/* Message element types. */
enum vici_elem {
	VICI_SECTION_START = 1,
	VICI_SECTION_END = 2,
	VICI_KEY_VALUE = 3,
	VICI_LIST_START = 4,
	VICI_LIST_ITEM = 5,
	VICI_LIST_END = 6,
};

/* ---- encoding ---- */

/* A message under construction. Errors latch: after the first failed call the others
 * do nothing and vici_msg_err reports it, so builders check once at the end. The
 * buffer is wiped on free because messages carry secrets (load-shared). */
struct vici_msg {
	uint8_t *buf;
	size_t len, cap;
	uint8_t open[VICI_DEPTH_MAX];	/* VICI_SECTION_START or VICI_LIST_START */
	int depth;
	int err;
};

struct vici_msg *vici_msg_new(void);
void vici_msg_free(struct vici_msg *m);
int vici_msg_err(const struct vici_msg *m);
void vici_msg_section(struct vici_msg *m, const char *name);
void vici_msg_end(struct vici_msg *m);		/* closes the innermost section */
void vici_msg_kv(struct vici_msg *m, const char *name, const char *value);
void vici_msg_kvb(struct vici_msg *m, const char *name, const void *value, size_t len);
void vici_msg_kvf(struct vici_msg *m, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vici_msg_list(struct vici_msg *m, const char *name);
void vici_msg_item(struct vici_msg *m, const char *value);
void vici_msg_itemb(struct vici_msg *m, const void *value, size_t len);
void vici_msg_list_end(struct vici_msg *m);
/* 0 when every section and list is closed and no call failed; else negative errno. */
int vici_msg_finish(const struct vici_msg *m);

/* ---- decoding ---- */

enum vici_node_type { VICI_NODE_SECTION, VICI_NODE_KV, VICI_NODE_LIST };

/* A decoded message is a section without a name. Values are copied and NUL-terminated
 * (len excludes the NUL) so that text values can be used as C strings directly;
 * list items are VICI_NODE_KV nodes with a NULL name. */
struct vici_node {
	enum vici_node_type type;
	char *name;
	char *value;
	size_t len;
	struct vici_node *kids;
	size_t n_kids, cap_kids;
};

/* Strict decoder: 0, -EBADMSG for anything malformed (truncation, unbalanced or
 * misplaced elements, nesting past VICI_DEPTH_MAX, trailing bytes), -ENOMEM. */
int vici_parse(const uint8_t *buf, size_t len, struct vici_node **out);
void vici_node_free(struct vici_node *n);
/* Child by name (first match), NULL when absent. */
const struct vici_node *vici_node_get(const struct vici_node *n, const char *name);
/* Text of key name, NULL when absent, not a key/value or not text (embedded NUL). */
const char *vici_node_str(const struct vici_node *n, const char *name);
/* Unsigned value of key name, def when absent or not a number. */
uint64_t vici_node_u64(const struct vici_node *n, const char *name, uint64_t def);
/* Debug text: name{k=v l=[a b]}, truncated to len; values of keys named "data" or
 * "secret" (load-shared) print as "<redacted>". */
void vici_node_fmt(const struct vici_node *n, char *buf, size_t len);

/* Packet framing: the bytes after the 4-byte length. 0 or -EBADMSG; *payload points
 * into buf. name is NUL-terminated, empty for unnamed types. */
int vici_packet_parse(const uint8_t *buf, size_t len, uint8_t *type,
		      char name[VICI_NAME_MAX + 1], const uint8_t **payload, size_t *plen);

/* ---- connection ---- */

/* Receives events; ev is NULL only if the event payload did not decode. */
typedef void (*vici_event_cb)(const char *name, const struct vici_node *ev, void *data);

struct vici_conn {
	int fd;
	int timeout_ms;			/* per request; charon answers in ms normally */
	uint8_t *rx;
	size_t rx_len, rx_cap;
	vici_event_cb cb;		/* events outside a streamed request */
	void *cb_data;
};

/* While a request waits for charon the agent's loop is not turning, yet its BFD
 * sessions must go on sending and reading (a slow charon must not look like a dead
 * path to the peers). The hook, set once by the daemon, adds fds to the wait and is
 * run when they are ready or its deadline (monotonic ms, -1 none) has come. It must
 * not call into VICI. */
struct vici_wait_hook {
	size_t (*fds)(void *ud, struct pollfd *fds, size_t max, int64_t *deadline_ms);
	void (*run)(void *ud, const struct pollfd *fds, size_t n);
	void *ud;
};
void vici_set_wait_hook(const struct vici_wait_hook *h);	/* NULL: none */

struct vici_conn *vici_conn_new(void);
void vici_conn_free(struct vici_conn *c);
/* path is "unix:///x/y", "/x/y" or NULL for the default. 0 or negative errno. */
int vici_conn_open(struct vici_conn *c, const char *path);
void vici_conn_close(struct vici_conn *c);
int vici_conn_fd(const struct vici_conn *c);
void vici_conn_set_cb(struct vici_conn *c, vici_event_cb cb, void *data);

/* Sends command cmd (req may be NULL for an empty message) and waits for its reply,
 * delivering events that arrive meanwhile to the connection's callback. The reply's
 * "success = no" is not checked here: see vici_check. 0 or negative errno. */
int vici_call(struct vici_conn *c, const char *cmd, const struct vici_msg *req,
	      struct vici_node **reply);
/* Like vici_call, then converts an unsuccessful reply to a negative errno (reply's
 * errmsg copied into err when given). Use for commands that report success. */
int vici_call_check(struct vici_conn *c, const char *cmd, const struct vici_msg *req,
		    char *err, size_t errlen);
/* A streamed command: registers event, sends cmd, hands every such event to cb, and
 * unregisters once the reply came. 0 or negative errno. */
int vici_call_stream(struct vici_conn *c, const char *cmd, const struct vici_msg *req,
		     const char *event, vici_event_cb cb, void *data);
int vici_register(struct vici_conn *c, const char *event);
int vici_unregister(struct vici_conn *c, const char *event);
/* Reads whatever is readable without blocking and delivers complete events to the
 * callback. 0, or negative errno (-EPIPE when charon closed the socket). */
int vici_dispatch(struct vici_conn *c);

/* A reply's verdict as a negative errno: the single place where VICI failures (an
 * unsuccessful reply and its errmsg, unknown commands or events, broken streams)
 * become errno values. what is a VICI_FAIL_* code, errmsg may be NULL. */
enum vici_fail {
	VICI_FAIL_REPLY,		/* success = no with errmsg */
	VICI_FAIL_UNKNOWN_CMD,
	VICI_FAIL_UNKNOWN_EVENT,
	VICI_FAIL_PROTOCOL,		/* malformed or unexpected packet */
	VICI_FAIL_CLOSED,
	VICI_FAIL_TIMEOUT,
};
int vici_errno(enum vici_fail what, const char *errmsg);
/* 0 when reply says success = yes; else vici_errno(VICI_FAIL_REPLY, errmsg). */
int vici_check(const struct vici_node *reply, char *err, size_t errlen);

#endif
