# End-to-end tests in user-mode Linux: real kernel, charon, controller and agents
# (tests/e2e/run.sh, on the lab of contrib/lab/). `make e2e`; part of `make check`.
.PHONY: e2e e2e-matrix
e2e: $(BUILD)/gresec-agent $(BUILD)/gresec-controller
	BUILD=$(abspath $(BUILD)) sh tests/e2e/run.sh

# Every combination of tunnel kind, mode, protocol and address families on the wire
# (tests/e2e/matrix.sh, on contrib/examples/matrix.json): one more boot.
e2e-matrix: $(BUILD)/gresec-agent $(BUILD)/gresec-controller
	BUILD=$(abspath $(BUILD)) LAB_JSON=$(abspath contrib/examples/matrix.json) \
		LAB_TIME_LIMIT=600 sh contrib/lab/lab.sh tests/e2e/matrix.sh

check-extra:: e2e e2e-matrix
