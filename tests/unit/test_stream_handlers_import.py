"""The functions other than the API import neither the GraphQL stack nor anything left out of their artifact.

deploy/Makefile builds them without Strawberry, Starlette, Mangum (and so graphql-core and anyio), graphql_api
and local/: importing any of these would fail in Lambda, and would slow every cold start.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.template import LambdaFunction, lambda_functions, load_template

ROOT = Path(__file__).resolve().parents[2]
#: Top-level packages missing from a non-API function's artifact (and the project's laptop-only modules).
NOT_IN_FUNCTION_ARTIFACTS = ("strawberry", "starlette", "mangum", "graphql", "anyio", "graphql_api", "moto",
                             "uvicorn", "local")
NON_API_FUNCTIONS = [fn for fn in lambda_functions(load_template()) if fn.logical_id != "ApiFunction"]

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def imported_modules(module: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, module], capture_output=True, text=True, cwd=ROOT,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("fn", [pytest.param(fn, id=fn.logical_id) for fn in NON_API_FUNCTIONS])
def test_function_handlers_import_no_graphql_stack_and_nothing_outside_their_artifact(fn: LambdaFunction) -> None:
    assert fn.source_path.exists(), f"template.yaml names {fn.handler}, which does not exist"
    # GIVEN a fresh interpreter (nothing imported by other tests)
    # WHEN it imports the handler module as Lambda does on a cold start
    modules = imported_modules(fn.module)
    # THEN none of the API's libraries, nor the local stack, came along
    offending = sorted(m for m in modules for banned in NOT_IN_FUNCTION_ARTIFACTS
                       if m == banned or m.startswith(banned + "."))
    assert not offending, f"{fn.module} imports {offending}"


def test_the_probe_sees_what_a_module_imports() -> None:
    # GIVEN the API handler's app module, which is built on Starlette and Strawberry
    modules = imported_modules("graphql_api.app")
    # THEN the probe reports them (so an empty report above means something)
    assert {"starlette", "strawberry"} <= modules


def test_the_api_handler_loads_its_app_and_schema_at_init_which_snapstart_snapshots() -> None:
    # GIVEN a fresh interpreter  WHEN it imports the API handler as Lambda's init does
    modules = imported_modules("graphql_api.handler")
    # THEN the GraphQL stack and the schema are loaded (SnapStart restores them), and the local stack is not
    assert {"strawberry", "starlette", "graphql_api.schema", "graphql_api.app"} <= modules
    assert not {m for m in modules if m in ("moto", "local") or m.startswith(("moto.", "local."))}
