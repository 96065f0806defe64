#!/usr/bin/env bash
# `make check-template`: lint, validate and build template.yaml, as CI does.
#
# Installs pinned AWS SAM CLI and cfn-lint into their own virtualenv, .venv-sam (python3.11), the first time;
# then runs cfn-lint, `sam validate --lint` and `sam build` (deploy/Makefile builds each function into
# .aws-sam/build for arm64) and prints the size of each artifact. Needs no AWS account: nothing is deployed.
set -euo pipefail
cd "$(dirname "$0")/.."

SAM_CLI_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0
PY="${PY:-python3.11}"
VENV=.venv-sam
STAMP="$VENV/.installed-sam-$SAM_CLI_VERSION-cfn-lint-$CFN_LINT_VERSION"

if [ ! -f "$STAMP" ]; then
  echo "installing aws-sam-cli==$SAM_CLI_VERSION and cfn-lint==$CFN_LINT_VERSION into $VENV"
  test -x "$VENV/bin/python" || "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
  rm -f "$VENV"/.installed-sam-*
  touch "$STAMP"
fi

export SAM_CLI_TELEMETRY=0
# `sam validate` wants a region even though it calls no AWS API here.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

echo "== cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}')"
"$VENV/bin/cfn-lint" template.yaml
echo "cfn-lint: no findings"

echo "== sam validate --lint"
"$VENV/bin/sam" validate --lint --template-file template.yaml

echo "== sam build"
rm -rf .aws-sam/build
"$VENV/bin/sam" build --template-file template.yaml --build-dir .aws-sam/build --parallel
echo "== artifacts (unpacked)"
du -sh .aws-sam/build/*/ | sed 's|.aws-sam/build/||'
