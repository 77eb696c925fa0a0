# tests/bfd: bfd_pair, a driver of agent/bfd_set.c on real sockets, for
# tests/integration/test_bfd_set.py (two network namespaces joined by a veth pair).
BFD_PAIR = $(BUILD)/tests/bfd_pair

$(BFD_PAIR): tests/bfd/bfd_pair.c $(call obj,agent/bfd.c agent/bfd_set.c api/addr.c)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^

integration: $(BFD_PAIR)
