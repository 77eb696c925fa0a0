# libFuzzer targets for the validation layer, built with clang under ASan+UBSan from the
# sources they exercise (not the gcc objects of the main build).
#   make fuzz        build, then fuzz each target for FUZZ_TIME seconds; new inputs
#                    are kept in $(BUILD)/fuzz/corpus/<target>, never in the tree
#   make fuzz-smoke  replay the seeds, then FUZZ_SMOKE_TIME seconds each (in check-extra)
FUZZ_CC         ?= clang
FUZZ_TIME       ?= 20
FUZZ_SMOKE_TIME ?= 3
FUZZ_DIR         = $(BUILD)/fuzz
FUZZ_FLAGS       = -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Werror -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -D_GNU_SOURCE -Iapi -Icontroller
FUZZ_ADDR_SRC    = tests/fuzz/fuzz_addr.c api/addr.c
FUZZ_KINDS_SRC   = tests/fuzz/fuzz_kinds.c api/addr.c api/proposal.c controller/verr.c \
	controller/valid.c controller/valid_prop.c controller/kind.c controller/kind_site.c \
	controller/kind_profile.c controller/kind_topology.c controller/kind_tunnel.c
FUZZ_CSV_SRC     = tests/fuzz/fuzz_csv.c controller/csv.c controller/import_csv.c \
	$(filter-out tests/fuzz/fuzz_kinds.c,$(FUZZ_KINDS_SRC))
FUZZ_INTENT_SRC  = tests/fuzz/fuzz_intent.c api/intent.c api/intent_field.c api/intent_validate.c \
	api/addr.c
FUZZ_VICI_SRC    = tests/fuzz/fuzz_vici.c agent/vici.c
FUZZ_BFD_SRC     = tests/fuzz/fuzz_bfd.c agent/bfd.c
FUZZ_HANDOFF_SRC = tests/fuzz/fuzz_handoff.c agent/bfd_handoff.c agent/bfd_set.c agent/bfd.c \
	api/addr.c
FUZZ_PLAN_SRC    = tests/fuzz/fuzz_plan.c agent/guard.c api/proposal.c agent/plan.c \
	agent/plan_fmt.c agent/kstate.c agent/tunnel_kind.c api/intent.c api/intent_field.c \
	api/intent_validate.c api/addr.c api/log.c
# The request path in process: the whole controller but its main, libmicrohttpd and all.
FUZZ_HTTP_SRC    = tests/fuzz/fuzz_http.c $(CTL_SRC) $(API_SRC)
FUZZ_HTTP_PKGS   = sqlite3 jansson libmicrohttpd gnutls
FUZZ_HDRS        = $(wildcard api/*.h controller/*.h)
# Per target: extra options. Inputs stay small: these are short JSON documents and addresses.
FUZZ_OPTS_addr   = -max_len=128
FUZZ_OPTS_kinds  = -max_len=4096 -dict=tests/fuzz/kinds.dict
FUZZ_OPTS_bfd    = -max_len=512
FUZZ_OPTS_handoff = -max_len=2048
FUZZ_OPTS_plan   = -max_len=16384
FUZZ_OPTS_http   = -max_len=4096 -dict=tests/fuzz/http.dict
FUZZ_TARGETS     = addr kinds csv intent vici bfd handoff plan http

.PHONY: fuzz fuzz-smoke fuzz-build

$(FUZZ_DIR)/fuzz_addr: $(FUZZ_ADDR_SRC) $(FUZZ_HDRS) tests/fuzz/rules.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_ADDR_SRC)

$(FUZZ_DIR)/fuzz_kinds: $(FUZZ_KINDS_SRC) $(FUZZ_HDRS) tests/fuzz/rules.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(call pkgcflags,jansson) -o $@ $(FUZZ_KINDS_SRC) \
		$(call pkglibs,jansson)

$(FUZZ_DIR)/fuzz_csv: $(FUZZ_CSV_SRC) $(FUZZ_HDRS) tests/fuzz/rules.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(call pkgcflags,jansson sqlite3) -o $@ $(FUZZ_CSV_SRC) \
		$(call pkglibs,jansson)

$(FUZZ_DIR)/fuzz_intent: $(FUZZ_INTENT_SRC) $(FUZZ_HDRS) tests/fuzz/rules.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(call pkgcflags,jansson) -o $@ $(FUZZ_INTENT_SRC) \
		$(call pkglibs,jansson)

$(FUZZ_DIR)/fuzz_vici: $(FUZZ_VICI_SRC) agent/vici.h tests/fuzz/rules.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Iagent -o $@ $(FUZZ_VICI_SRC)

$(FUZZ_DIR)/fuzz_bfd: $(FUZZ_BFD_SRC) agent/bfd.h tests/fuzz/rules.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Iagent -o $@ $(FUZZ_BFD_SRC)

$(FUZZ_DIR)/fuzz_handoff: $(FUZZ_HANDOFF_SRC) $(FUZZ_HDRS) $(wildcard agent/*.h) tests/fuzz/rules.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Iagent $(call pkgcflags,jansson) -o $@ $(FUZZ_HANDOFF_SRC) \
		$(call pkglibs,jansson)

$(FUZZ_DIR)/fuzz_plan: $(FUZZ_PLAN_SRC) $(FUZZ_HDRS) $(wildcard agent/*.h) tests/fuzz/rules.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Iagent $(call pkgcflags,jansson libcurl libmnl) -o $@ \
		$(FUZZ_PLAN_SRC) $(call pkglibs,jansson libcurl libmnl)

$(FUZZ_DIR)/fuzz_http: $(FUZZ_HTTP_SRC) $(FUZZ_HDRS) tests/fuzz/rules.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -I$(BUILD) $(call pkgcflags,$(FUZZ_HTTP_PKGS)) -o $@ \
		$(FUZZ_HTTP_SRC) $(call pkglibs,$(FUZZ_HTTP_PKGS)) -lm

fuzz-build: $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t; \
		echo "== fuzz_$$t for $(FUZZ_TIME)s"; \
		opts=$$(case $$t in addr) echo '$(FUZZ_OPTS_addr)';; kinds) echo '$(FUZZ_OPTS_kinds)';; \
			bfd) echo '$(FUZZ_OPTS_bfd)';; handoff) echo '$(FUZZ_OPTS_handoff)';; plan) echo '$(FUZZ_OPTS_plan)';; \
			http) echo '$(FUZZ_OPTS_http)';; esac); \
		$(FUZZ_DIR)/fuzz_$$t $$opts -max_total_time=$(FUZZ_TIME) -timeout=10 \
			-print_final_stats=1 $(FUZZ_DIR)/corpus/$$t tests/fuzz/seeds/$$t; \
	done

# Every seed once (a regression suite), then a short run from the seeds in a scratch
# corpus, so the tree is never written to.
fuzz-smoke: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== fuzz_$$t: seeds, then $(FUZZ_SMOKE_TIME)s"; \
		opts=$$(case $$t in addr) echo '$(FUZZ_OPTS_addr)';; kinds) echo '$(FUZZ_OPTS_kinds)';; \
			bfd) echo '$(FUZZ_OPTS_bfd)';; handoff) echo '$(FUZZ_OPTS_handoff)';; plan) echo '$(FUZZ_OPTS_plan)';; \
			http) echo '$(FUZZ_OPTS_http)';; esac); \
		rm -rf $(FUZZ_DIR)/smoke/$$t; mkdir -p $(FUZZ_DIR)/smoke/$$t; \
		log=$(FUZZ_DIR)/smoke/$$t.log; \
		$(FUZZ_DIR)/fuzz_$$t $$opts tests/fuzz/seeds/$$t/* >$$log 2>&1 || \
			{ cat $$log; exit 1; }; \
		$(FUZZ_DIR)/fuzz_$$t $$opts -max_total_time=$(FUZZ_SMOKE_TIME) -timeout=10 \
			$(FUZZ_DIR)/smoke/$$t tests/fuzz/seeds/$$t >$$log 2>&1 || \
			{ cat $$log; exit 1; }; \
		tail -n 1 $$log; \
	done

check-extra:: fuzz-smoke
