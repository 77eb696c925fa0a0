/* libFuzzer target for the BFD hand-over file (agent/bfd_handoff.c): the input is the
 * file's text. Where it names a boot, the real one is put in so that accepted files
 * are reached too. Besides not crashing: an accepted entry has non-zero
 * discriminators, a multiplier and a NUL-terminated id and interface name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfd_handoff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_boot[64];

static void fuzz_handoff_boot(void)
{
	FILE *f;

	if (fuzz_boot[0] || !(f = fopen("/proc/sys/kernel/random/boot_id", "r")))
		return;
	if (fgets(fuzz_boot, sizeof(fuzz_boot), f))
		fuzz_boot[strcspn(fuzz_boot, "\n")] = '\0';
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	struct bfd_expect *v;
	size_t n;

	fuzz_handoff_boot();
	if (json_is_string(json_object_get(doc, "boot_id")))
		json_object_set_new(doc, "boot_id", json_string(fuzz_boot));
	if (bfd_handoff_load(doc, 1, &v, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!v[i].r.local_discr || !v[i].r.remote_discr || !v[i].r.remote_detect_mult ||
			    !memchr(v[i].id, '\0', sizeof(v[i].id)) || !v[i].id[0] ||
			    !memchr(v[i].ifname, '\0', sizeof(v[i].ifname)) || v[i].used)
				abort();
		free(v);
	} else if (v || n) {
		abort();
	}
	json_decref(doc);
	return 0;
}
