"""Cold start: what each Lambda handler of template.yaml costs to import, as a ratio to `import boto3`.

A cold start pays for the imports of the handler module and for those its handler makes on the first call
(graphql_api.handler builds the app on first use). So each figure is the time to import, in a fresh interpreter,
the handler module and then every module its source names in an import statement anywhere (function bodies
included). What is measured is the CPU time the imports take (`time.process_time`, user + system), which a busy
machine inflates far less than wall time; runs of the handlers and of `import boto3` are interleaved and the
median of each is taken.

Bytecode is as in a deployed artifact: the project's packages are compiled first (`compileall`, unchecked-hash
pycs, as deploy/Makefile does) and the libraries' bytecode is written by a warm-up run. Both go to a private cache
(PYTHONPYCACHEPREFIX in a temporary directory), whatever PYTHONDONTWRITEBYTECODE says in the caller's environment
and without touching the tree: without it every run would compile the project's modules from source, which a
Lambda cold start never does.

The "libraries" column is the same measure for the third-party modules alone that the handler's imports load
(boto3, Powertools; Strawberry, Starlette and Mangum for the API), in the order they loaded: the floor
under each figure that no change to the project's own modules can go below.

Targets: ≤ 1.5 for the stream handlers (rate, summarize), ≤ 3 for the API.

The interpreter measured is the one running the benchmark, or COLDSTART_PYTHON (e.g. `.venv313/bin/python`, a
virtualenv with requirements-dev.txt installed): `COLDSTART_PYTHON=.venv313/bin/python .venv/bin/python -m bench
coldstart` measures the import costs on Python 3.13, the template's runtime.
"""

from __future__ import annotations

import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from deploy.template import LambdaFunction, lambda_functions, load_template

ROOT = Path(__file__).resolve().parents[1]
RUNS = 11  # median of 11: this shared machine's load moves single runs by ±15 %
BASELINE = "boto3"
TARGETS = {"RateFunction": 1.5, "SummarizeFunction": 1.5, "ApiFunction": 3.0}
HEAVY = ("strawberry", "starlette", "mangum", "moto")
PACKAGES = ("core", "infra", "functions", "graphql_api")  # what an artifact holds of the project (compiled)
LIBRARIES = "/libraries"  # sample key suffix: a handler's third-party imports alone
PYTHON = os.environ.get("COLDSTART_PYTHON") or sys.executable

_PROBE = """
import json, sys, time
modules = sys.argv[1:]
preloaded = set(sys.modules)
started = time.process_time()
for name in modules:
    try:
        __import__(name.lstrip("?"))
    except ModuleNotFoundError:
        if not name.startswith("?"):  # `from package import name`: name may be an attribute, not a module
            raise
elapsed = time.process_time() - started
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
libraries = [name for name, module in list(sys.modules.items()) if name not in preloaded
             and "site-packages" in (getattr(module, "__file__", None) or "")]
print(json.dumps({"seconds": elapsed, "heavy": heavy, "libraries": ["?" + name for name in libraries]}))
""".replace("HEAVY", repr(HEAVY))


def cold_imports(module: str, source: Path) -> list[str]:
    """The handler module, then the project and library modules its source imports (lazily or not)."""
    names = [module]
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module != "__future__":
            names.append(node.module)
            names += [f"?{node.module}.{alias.name}" for alias in node.names]
    return list(dict.fromkeys(names))


def probe_env(pycache: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_project(env: dict[str, str]) -> None:
    """The project's bytecode as deploy/Makefile ships it: unchecked-hash pycs, here in the private cache."""
    subprocess.run([PYTHON, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash",
                    *PACKAGES], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)


def measure(modules: list[str], env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run([PYTHON, "-c", _PROBE, *modules], capture_output=True, text=True, cwd=ROOT,
                          env=env, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"importing {modules} failed:\n{done.stderr}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def run() -> None:
    functions: list[LambdaFunction] = lambda_functions(load_template())
    ready = [fn for fn in functions if fn.source_path.exists()]
    pending = [fn for fn in functions if not fn.source_path.exists()]
    plans = {fn.logical_id: cold_imports(fn.module, fn.source_path) for fn in ready}
    with tempfile.TemporaryDirectory(prefix="coldstart-pycache-") as pycache:
        env = probe_env(Path(pycache))
        compile_project(env)
        measure([BASELINE], env)  # writes the libraries' bytecode
        libraries = {f"{name}{LIBRARIES}": list(measure(modules, env)["libraries"])  # type: ignore[call-overload]
                     for name, modules in plans.items()}
        samples, heavy = sample({**plans, **libraries}, env)
    report(ready, pending, samples, heavy)


def sample(plans: dict[str, list[str]], env: dict[str, str]) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    samples: dict[str, list[float]] = {name: [] for name in [BASELINE, *plans]}
    heavy: dict[str, list[str]] = {}
    for _ in range(RUNS):
        samples[BASELINE].append(float(measure([BASELINE], env)["seconds"]))  # type: ignore[arg-type]
        for name, modules in plans.items():
            result = measure(modules, env)
            samples[name].append(float(result["seconds"]))  # type: ignore[arg-type]
            heavy[name] = list(result["heavy"])  # type: ignore[call-overload]
    return samples, heavy


def report(ready: list[LambdaFunction], pending: list[LambdaFunction], samples: dict[str, list[float]],
           heavy: dict[str, list[str]]) -> None:
    baseline = statistics.median(samples[BASELINE])
    version = subprocess.run([PYTHON, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                             text=True, check=True).stdout.strip()
    print(f"Python {version} ({PYTHON})")
    print(f"import {BASELINE}: {baseline * 1000:.0f} ms CPU (median of {RUNS} fresh interpreters)")
    print(f"{'function':<22} {'handler':<38} {'CPU ms':>6} {'ratio':>6} {'target':>10} {'libraries':>9}  "
          "also imports")
    failures = []
    for fn in ready:
        seconds = statistics.median(samples[fn.logical_id])
        ratio = seconds / baseline
        target = TARGETS.get(fn.logical_id)
        verdict = "" if target is None else (f"≤ {target:g}" + (" ok" if ratio <= target else " MISSED"))
        if target is not None and ratio > target:
            failures.append(fn.logical_id)
        floor = statistics.median(samples[f"{fn.logical_id}{LIBRARIES}"]) / baseline
        print(f"{fn.logical_id:<22} {fn.handler:<38} {seconds * 1000:>6.0f} {ratio:>6.2f} {verdict:>10} {floor:>9.2f}  "
              f"{', '.join(heavy[fn.logical_id]) or '-'}")
    for fn in pending:
        print(f"{fn.logical_id:<22} {fn.handler:<38} pending: {fn.source_path.relative_to(ROOT)} does not exist yet")
    if failures:
        print(f"cold-start targets missed by: {', '.join(failures)}")


if __name__ == "__main__":
    run()
