# gresec — plain GNU Makefile, pkg-config for every dependency.
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CPPFLAGS_ALL = -D_GNU_SOURCE -Iapi -Icontroller -Iagent -I$(BUILD)
ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

PKG_API   = jansson gnutls
PKG_CTL   = sqlite3 jansson libmicrohttpd gnutls
PKG_AGENT = libmnl jansson libcurl gnutls
PKG_CLI   = jansson libcurl

pkgcflags = $(shell pkg-config --cflags $(1))
pkglibs   = $(shell pkg-config --libs $(1))

ALL_CFLAGS = $(WARN) $(CFLAGS) $(SANFLAGS) $(CPPFLAGS_ALL) \
	$(call pkgcflags,$(sort $(PKG_CTL) $(PKG_AGENT)))
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

API_SRC   = $(wildcard api/*.c)
CTL_SRC   = $(filter-out controller/main.c,$(wildcard controller/*.c)) $(BUILD)/schema_gen.c
AGENT_SRC = $(filter-out agent/main.c,$(wildcard agent/*.c))
CLI_SRC   = $(wildcard cli/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(patsubst $(BUILD)/%,%,$(1)))
API_OBJ   = $(call obj,$(API_SRC))
CTL_OBJ   = $(call obj,$(CTL_SRC))
AGENT_OBJ = $(call obj,$(AGENT_SRC))
CLI_OBJ   = $(call obj,$(CLI_SRC))

BINS = $(BUILD)/gresec-controller $(BUILD)/gresec-agent $(BUILD)/gresec

.PHONY: all check test unit integration kernel demo bench install clean deps deps-demo fuzz
all: $(BINS)

$(BUILD)/obj/%.o: %.c $(wildcard api/*.h controller/*.h agent/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/schema_gen.o: $(BUILD)/schema_gen.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Migrations are compiled into the controller so a binary always carries the schema it expects.
$(BUILD)/schema_gen.c: $(sort $(wildcard schema/*.sql)) contrib/embed-schema.sh
	@mkdir -p $(dir $@)
	sh contrib/embed-schema.sh $(sort $(wildcard schema/*.sql)) > $@

$(BUILD)/libgresec-api.a: $(API_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/gresec-controller: $(BUILD)/obj/controller/main.o $(CTL_OBJ) $(BUILD)/libgresec-api.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,$(PKG_CTL)) -lm

$(BUILD)/gresec-agent: $(if $(wildcard agent/main.c),$(BUILD)/obj/agent/main.o) $(AGENT_OBJ) $(BUILD)/libgresec-api.a
	$(if $(wildcard agent/main.c),$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,$(PKG_AGENT)) -ldl,@echo "agent: not built yet"; touch $@)

$(BUILD)/gresec: $(CLI_OBJ) $(BUILD)/libgresec-api.a
	$(if $(CLI_OBJ),$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,$(PKG_CLI)),@echo "cli: not built yet"; touch $@)

# Unit tests: tests/unit/test_<name>.c, each its own cmocka binary linked with every
# controller, agent and api object except the mains.
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
$(BUILD)/tests/%: tests/unit/%.c $(CTL_OBJ) $(AGENT_OBJ) $(BUILD)/libgresec-api.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $^ \
		$(call pkglibs,$(sort $(PKG_CTL) $(PKG_AGENT)) cmocka) -lm -ldl

deps:
	sh contrib/install-deps.sh check

deps-demo:
	sh contrib/install-deps.sh demo

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration: $(BINS)
	GRESEC_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q tests/integration

# Each test family may add to check-extra from its own tests/<family>/rules.mk.
check-extra::
	@:
-include tests/*/rules.mk
include ui/rules.mk

# `make check`: install dependencies, then the whole suite twice over: a plain build and
# one under ASan+UBSan (unit and integration), plus the kernel tests in user-mode Linux.
check: deps
	$(MAKE) all unit
	$(MAKE) BUILD=build/san SAN=1 all unit integration
	$(MAKE) check-extra

test: unit integration

demo: deps-demo all
	sh contrib/demo.sh

bench: deps all
	sh tests/bench/run.sh

SYSTEMDDIR ?= /lib/systemd/system
SYSCONFDIR ?= /etc
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d

# The units name the binaries by path: they are rewritten for PREFIX as they install.
# The controller's user and both state directories come as sysusers.d and tmpfiles.d
# files: `systemd-sysusers` and `systemd-tmpfiles --create` make them (the Debian
# packages do it in postinst).
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/gresec \
		$(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(SYSCONFDIR)/iproute2/rt_protos.d
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 api/openapi.yaml api/intent.schema.json $(DESTDIR)$(PREFIX)/share/gresec/
	for u in contrib/systemd/*.service; do \
		sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' $$u > $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$u); \
		chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$u); \
	done
	install -m 0644 contrib/iproute2/rt_protos.d/gresec.conf \
		$(DESTDIR)$(SYSCONFDIR)/iproute2/rt_protos.d/
	install -d $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0644 contrib/systemd/gresec-controller.sysusers \
		$(DESTDIR)$(SYSUSERSDIR)/gresec-controller.conf
	for p in gresec-controller gresec-agent; do \
		install -m 0644 contrib/systemd/$$p.tmpfiles $(DESTDIR)$(TMPFILESDIR)/$$p.conf; \
	done
	if [ -f $(BUILD)/ui/index.html ]; then \
		install -d $(DESTDIR)$(PREFIX)/share/gresec/ui && \
		install -m 0644 $(BUILD)/ui/* $(DESTDIR)$(PREFIX)/share/gresec/ui/; fi

# Debian packages gresec-controller, gresec-agent and gresec (debian/, debhelper), built
# from a copy of the tree in $(DEB_DIR), where the .debs and .changes land.
# `make deb-check`: lintian fails on any error (check-extra, tests/units/rules.mk).
DEB_DIR = $(BUILD)/deb
.PHONY: deb deb-check
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	tar -c --exclude=./build --exclude=./.git --exclude=node_modules . | tar -x -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b -j2

clean:
	rm -rf build
