# Tools the benchmarks need, built with the project's flags.
BENCH_TOOLS = $(BUILD)/bench/pollers $(BUILD)/bench/compile_bench $(BUILD)/tests/bfd_pair

$(BUILD)/bench/pollers: tests/bench/pollers.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(call pkglibs,libcurl jansson)

$(BUILD)/bench/compile_bench: tests/bench/compile_bench.c $(CTL_OBJ) $(BUILD)/libgresec-api.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,$(PKG_CTL)) -lm

bench: $(BENCH_TOOLS)
