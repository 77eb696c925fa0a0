/* Preloaded into Debian's user-mode Linux (contrib/lab/uml.sh) on hosts whose CPUs
 * have AMX. UML 6.1 saves and restores its processes' FPU state with
 * PTRACE_{GET,SET}REGSET NT_X86_XSTATE through a fixed 4 KiB buffer, but the host
 * kernel accepts a SETREGSET only with the whole XSAVE area, which AMX's tile data
 * makes about 11 KiB: every context switch fails with EFAULT and init is killed
 * ("ptrace set fp regs failed, errno = 14"). Here a short SETREGSET is completed
 * with the tracee's current state past UML's buffer (tile state, which no UML process
 * uses) and sent whole. Any other request, or a SETREGSET of the right size, passes
 * through unchanged, so on other hosts this does nothing. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define XSTATE_BUF_MAX 65536

typedef long (*ptrace_fn)(enum __ptrace_request, ...);

static long uml_xstate_sys(long req, pid_t pid, void *addr, void *data)
{
	return syscall(SYS_ptrace, req, pid, addr, data);
}

/* 0 and the whole area sent, or 1 when the request needs no help. */
static int uml_xstate_set(pid_t pid, const struct iovec *iov, long *rc)
{
	static unsigned char *buf;
	struct iovec whole = { 0 };

	if (!buf && !(buf = aligned_alloc(64, XSTATE_BUF_MAX)))
		return 1;
	whole.iov_base = buf;
	whole.iov_len = XSTATE_BUF_MAX;
	if (uml_xstate_sys(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &whole) ||
	    whole.iov_len <= iov->iov_len)
		return 1;
	memcpy(buf, iov->iov_base, iov->iov_len);
	*rc = uml_xstate_sys(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &whole);
	return 0;
}

long ptrace(enum __ptrace_request req, ...)
{
	static ptrace_fn next;
	void *addr, *data;
	va_list ap;
	pid_t pid;
	long rc;

	va_start(ap, req);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);
	if (!next)
		next = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
	if (req == PTRACE_SETREGSET && (long)addr == NT_X86_XSTATE && data &&
	    !uml_xstate_set(pid, data, &rc))
		return rc;
	return next(req, pid, addr, data);
}
