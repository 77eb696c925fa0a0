# The systemd units (tests/units/check.sh: exposure <= 2.5, verify, capabilities) and the
# Debian packages (lintian, no error). Both in check-extra; `make deb` is in the Makefile.
.PHONY: units-check deb-check
units-check: $(BINS)
	sh tests/units/check.sh $(BUILD)

deb-check: deb
	sh tests/units/deb_check.sh $(DEB_DIR)

check-extra:: units-check deb-check
