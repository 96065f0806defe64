#!/usr/bin/env bash
# `make check-template`: lint, validate and build template.yaml, as CI does.
#
# Installs pinned AWS SAM CLI and cfn-lint into their own virtualenv, .venv-sam (python3.11), the first time;
# then runs cfn-lint, `sam validate --lint` and `sam build` (deploy/Makefile builds each function into
# .aws-sam/build for arm64) and prints the size of each artifact. Needs no AWS account: nothing is deployed.
# The functions' runtime is python3.13: `sam build` wants it on PATH and deploy/Makefile compiles with it, so the
# interpreter scripts/find-python.sh finds (pyenv's versions, PYENV_VERSION, PYTHON313, PATH) goes first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

SAM_CLI_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0
PY="${PY:-python3.11}"
RUNTIME_PY="$(bash scripts/find-python.sh 3.13)"
export PATH="$(dirname "$RUNTIME_PY"):$PATH"
export PYTHON="$RUNTIME_PY"  # deploy/Makefile's interpreter
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

# SAM publishes a version of the API function per deployment (AutoPublishAlias) for SnapStart; the HTTP API's
# routes must invoke that alias, or every request would run the unpublished $LATEST, which SnapStart never covers.
echo "== the HTTP API invokes the API function's SnapStart alias"
"$VENV/bin/python" - <<'PY'
import json, sys
from samtranslator.translator.transform import transform
sys.path.insert(0, ".")
from deploy.template import load_template

class NoIam:  # the translator asks IAM for managed policy ARNs only to resolve names; none are needed here
    def get_policies(self): return {}

template = load_template()
for resource in template["Resources"].values():  # as `sam package` leaves them: code uploaded to S3
    if resource["Type"] == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://artifacts/code.zip"
output = transform(template, {}, NoIam())
resources = output["Resources"]
snap = {name: r for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("SnapStart", {}).get("ApplyOn") == "PublishedVersions"}
assert list(snap) == ["ApiFunction"], f"SnapStart on {list(snap)}"
aliases = [name for name, r in resources.items() if r["Type"] == "AWS::Lambda::Alias"
           and r["Properties"]["FunctionName"] == {"Ref": "ApiFunction"}]
assert len(aliases) == 1, aliases
integrations = [r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
body = json.dumps(integrations)
permissions = [r["Properties"]["FunctionName"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"
               and "ApiFunction" in json.dumps(r["Properties"]["FunctionName"])]
assert permissions and all(p == {"Ref": aliases[0]} for p in permissions), permissions
assert aliases[0] in body and "ApiFunction.Arn" not in body, "the HTTP API integrates with $LATEST"
print(f"  ApiFunction: SnapStart on published versions; {len(permissions)} routes invoke alias {aliases[0]}")
PY

echo "== sam build"
rm -rf .aws-sam/build
"$VENV/bin/sam" build --template-file template.yaml --build-dir .aws-sam/build --parallel
echo "== artifacts (unpacked)"
du -sh .aws-sam/build/*/ | sed 's|.aws-sam/build/||'

# Each handler must import from its artifact alone plus what the python3.13 runtime provides (boto3 and its
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
  "$RUNTIME_PY" -S -c '
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
