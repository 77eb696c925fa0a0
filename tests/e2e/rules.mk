# End-to-end tests in user-mode Linux: real kernel, charon, controller and agents
# (tests/e2e/run.sh, on the lab of contrib/lab/). `make e2e`; part of `make check`.
.PHONY: e2e
e2e: $(BUILD)/gresec-agent $(BUILD)/gresec-controller
	BUILD=$(abspath $(BUILD)) sh tests/e2e/run.sh

check-extra:: e2e
