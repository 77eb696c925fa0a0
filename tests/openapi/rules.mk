# The OpenAPI contract, checked by pinned third-party tools (tests/openapi/package-lock.json):
#   openapi-lint   the document itself (Redocly CLI, every warning an error)
#   openapi-proxy  the server against the document: tests/integration/test_contract.py
#                  sends requests to a real controller through Stoplight Prism in proxy
#                  mode (--errors) and fails on any violation. The integration suite runs
#                  it (under ASan+UBSan in `make check`); this target runs it against $(BUILD).
.PHONY: openapi-lint openapi-proxy
openapi-lint:
	sh tests/openapi/lint.sh api/openapi.yaml

openapi-proxy: $(BINS)
	sh tests/openapi/install.sh
	GRESEC_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q tests/integration/test_contract.py

check-extra:: openapi-lint
