# The OpenAPI contract, linted by a pinned third-party linter (tests/openapi/package-lock.json).
.PHONY: openapi-lint
openapi-lint:
	sh tests/openapi/lint.sh api/openapi.yaml

check-extra:: openapi-lint
