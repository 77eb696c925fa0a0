#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "gresec";
static enum log_level log_max = LOG_LVL_INFO;
static bool log_journal;
static const char *const log_names[] = { "error", "warn", "info", "debug" };
/* syslog(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const int log_prio[] = { 3, 4, 6, 7 };

/* systemd sets JOURNAL_STREAM=<dev>:<inode> of the stream it connected; a stderr
 * redirected elsewhere (a file, a pipe to a test) keeps the plain format. */
static bool log_stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (!v || sscanf(v, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *ident, enum log_level level)
{
	log_ident = ident;
	log_max = level;
	log_journal = log_stderr_is_journal();
}

bool log_to_journal(void)
{
	return log_journal;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(name, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

size_t log_context(char *buf, size_t len, const char *site, const char *tunnel)
{
	bool has_site = site && *site, has_tunnel = tunnel && *tunnel;
	int n;

	/* "site S tunnel T: ", as the agent's messages have always read. */
	n = snprintf(buf, len, "%s%s%s%s%s", has_site ? "site " : "", has_site ? site : "",
		     has_site && has_tunnel ? " " : "", has_tunnel ? "tunnel " : "",
		     has_tunnel ? tunnel : "");
	if (n > 0 && (size_t)n + 2 < len) {
		memcpy(buf + n, ": ", 3);
		n += 2;
	}
	if (n < 0) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	return (size_t)n < len ? (size_t)n : (len ? len - 1 : 0);
}

static void log_write(enum log_level level, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	int n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/* One write per line keeps lines whole when several threads log at once. */
	if (log_journal) {
		dprintf(STDERR_FILENO, "<%d>%s: %s%s\n", log_prio[level], log_names[level],
			prefix, line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	dprintf(STDERR_FILENO, "%s.%03ldZ %s[%d] %s: %s%s\n", stamp, ts.tv_nsec / 1000000,
		log_ident, (int)getpid(), log_names[level], prefix, line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	log_write(level, "", fmt, ap);
	va_end(ap);
}

void log_ctx(enum log_level level, const char *site, const char *tunnel, const char *fmt, ...)
{
	char prefix[160];
	va_list ap;

	if (level > log_max)
		return;
	log_context(prefix, sizeof(prefix), site, tunnel);
	va_start(ap, fmt);
	log_write(level, prefix, fmt, ap);
	va_end(ap);
}
