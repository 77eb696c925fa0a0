/* Atomic persistence of the intent and status in the state directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "state.h"

static int state_write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int state_write_json(const char *dir, const char *name, const json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	int rc = text ? state_write_text(dir, name, text, "\n") : -ENOMEM;

	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	return rc;
}

int state_write_text(const char *dir, const char *name, const char *text, const char *end)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd = -1, dfd = -1, rc;

	rc = -ENAMETOOLONG;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= sizeof(tmp))
		goto out;
	/* The intent holds PSKs: readable by root only. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = state_write_all(fd, text, strlen(text))) ||
	    (rc = state_write_all(fd, end, strlen(end))))
		goto out;
	if (fsync(fd) < 0 || close(fd) < 0) {
		rc = -errno;
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto out;
	}
	/* The rename itself must reach the disk before we call the write done. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int state_save_intent(const char *dir, const struct intent *in)
{
	json_t *j = intent_to_json(in);
	int rc = j ? state_write_json(dir, "intent.json", j) : -ENOMEM;

	json_decref(j);
	return rc;
}

int state_load_intent(const char *dir, struct intent **out, char *err, size_t errlen)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/intent.json", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	if (access(path, F_OK) < 0)
		return -errno;
	return intent_load_file(path, out, err, errlen);
}
