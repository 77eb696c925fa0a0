/* libFuzzer target for the VICI decoder (agent/vici.c). The input is one packet as it
 * follows the length prefix on the wire. Besides not crashing: a payload that decodes
 * must re-encode through the builder to the very same bytes (the format has one
 * encoding per tree), and formatting it must stay within its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vici.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_vici_encode(struct vici_msg *m, const struct vici_node *n)
{
	for (size_t i = 0; i < n->n_kids; i++) {
		const struct vici_node *k = &n->kids[i];

		if (k->type == VICI_NODE_KV) {
			vici_msg_kvb(m, k->name, k->value, k->len);
		} else if (k->type == VICI_NODE_LIST) {
			vici_msg_list(m, k->name);
			for (size_t j = 0; j < k->n_kids; j++)
				vici_msg_itemb(m, k->kids[j].value, k->kids[j].len);
			vici_msg_list_end(m);
		} else {
			vici_msg_section(m, k->name);
			fuzz_vici_encode(m, k);
			vici_msg_end(m);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[VICI_NAME_MAX + 1], text[512];
	const uint8_t *pl;
	struct vici_node *root = NULL;
	struct vici_msg *m;
	size_t plen;
	uint8_t type;

	if (vici_packet_parse(data, size, &type, name, &pl, &plen))
		return 0;
	if (vici_parse(pl, plen, &root))
		return 0;
	m = vici_msg_new();
	if (!m)
		abort();
	fuzz_vici_encode(m, root);
	if (vici_msg_finish(m) || m->len != plen || (plen && memcmp(m->buf, pl, plen)))
		abort();
	vici_node_fmt(root, text, sizeof(text));
	if (strlen(text) >= sizeof(text))
		abort();
	(void)vici_check(root, text, sizeof(text));
	vici_msg_free(m);
	vici_node_free(root);
	return 0;
}
