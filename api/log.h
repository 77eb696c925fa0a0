/* Logging shared by both daemons: one line per event to stderr. Under systemd with
 * stderr connected to the journal ($JOURNAL_STREAM names it), each line starts with
 * its syslog priority ("<3>" for errors) and leaves the time and pid to journald, so
 * `journalctl -p err` shows the errors only. */
#ifndef GRESEC_LOG_H
#define GRESEC_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Reads $JOURNAL_STREAM and compares it with stderr: call after stderr is final. */
void log_init(const char *ident, enum log_level level);
/* 0, or -EINVAL for a name other than error, warn, info, debug. */
int log_level_parse(const char *name, enum log_level *out);
/* Whether log_init found stderr to be the journal. */
bool log_to_journal(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The one way to say which site and tunnel a message is about: "site S tunnel T: "
 * (either may be NULL or empty and is then left out) before the message. */
void log_ctx(enum log_level level, const char *site, const char *tunnel, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The context prefix log_ctx writes, into buf (always terminated); its length. */
size_t log_context(char *buf, size_t len, const char *site, const char *tunnel);

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
