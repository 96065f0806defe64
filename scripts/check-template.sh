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

# Each handler must import from its artifact alone plus what the python3.11 runtime provides (boto3 and its
# dependencies): no site-packages, so a dependency missing from an artifact fails here, not in Lambda.
echo "== each handler imports from its artifact and the runtime's boto3 only"
RUNTIME="$(mktemp -d)"
trap 'rm -rf "$RUNTIME"' EXIT
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
for package in boto3 botocore s3transfer urllib3 jmespath dateutil six.py; do
  ln -s "$SITE/$package" "$RUNTIME/$package"
done
# Besides the handler module: what its first call imports (bench/coldstart.py: every import in its source).
PYTHONPATH=. "$VENV/bin/python" -c '
from bench.coldstart import cold_imports
from deploy.template import lambda_functions, load_template
for fn in lambda_functions(load_template()):
    print(fn.logical_id, fn.module, fn.attribute, ",".join(cold_imports(fn.module, fn.source_path)))
' | while read -r logical_id module attribute imports; do
  "$PY" -S -c '
import importlib, sys
artifact, runtime, module, attribute, imports = sys.argv[1:]
sys.path[:0] = [artifact, runtime]
handler = getattr(importlib.import_module(module), attribute)
assert callable(handler), f"{module}.{attribute} is not callable"
for name in imports.split(","):
    try:
        importlib.import_module(name.lstrip("?"))
    except ModuleNotFoundError:
        if not name.startswith("?"):  # `from package import name`: name may be an attribute
            raise
api = " ".join(sorted({name.split(".")[0] for name in sys.modules} & {"strawberry", "starlette", "mangum"}))
print(f"  {module}.{attribute}: ok", f"(with {api})" if api else "")
' ".aws-sam/build/$logical_id" "$RUNTIME" "$module" "$attribute" "$imports"
done
