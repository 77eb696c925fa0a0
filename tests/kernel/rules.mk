# Kernel tests in user-mode Linux (tests/kernel/run.sh). `make kernel`; part of
# `make check` through check-extra.
.PHONY: kernel
kernel: $(BUILD)/gresec-agent
	GRESEC_AGENT=$(abspath $(BUILD)/gresec-agent) sh tests/kernel/run.sh

check-extra:: kernel
