/* Files the controller writes that must never be seen half written or by anyone else
 * (the admin token, the CA's key): one way to write them. */
#ifndef GRESEC_PRIVFILE_H
#define GRESEC_PRIVFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Writes len bytes of data to path with mode: a private temporary file in path's
 * directory with a random name (mkostemp: O_EXCL, mode set before a byte is written),
 * fsync'd, then renamed over path. A planted file or symbolic link at a predictable
 * name cannot capture it, and a crash leaves the old file or the new one. 0 or -errno. */
int privfile_write(const char *path, const void *data, size_t len, mode_t mode);

#endif
