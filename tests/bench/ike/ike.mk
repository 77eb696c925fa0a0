# The IKE benchmark's driver (tests/bench/ike.sh builds it with
# `make -f Makefile -f tests/bench/ike/ike.mk`): the agent's IKE objects, the project's flags.
$(BUILD)/bench/ike_bench: tests/bench/ike/ike_bench.c $(AGENT_OBJ) $(BUILD)/libgresec-api.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,$(PKG_AGENT)) -ldl
