"""Dependencies point one way: `local` → `graphql_api`, `functions` → `infra` → `core`; nothing imports upward.

Every module of the project is parsed with `ast` (nothing is imported), so an import inside a function counts
as much as one at the top of a file.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {"node_modules", "__pycache__"}  # and every hidden folder (.venv, .cache, .aws-sam, .git)

#: Libraries that do I/O or read the environment: the domain core stays pure of them.
IO_LIBRARIES = frozenset({
    "boto3", "botocore", "aioboto3", "s3transfer", "moto", "strawberry", "graphql", "starlette",
    "mangum", "uvicorn", "werkzeug", "aws_lambda_powertools", "httpx", "requests", "urllib", "urllib3", "http",
    "socket", "ssl", "subprocess", "os", "pathlib", "shutil", "tempfile", "io", "sqlite3", "asyncio", "threading",
    "concurrent", "multiprocessing", "selenium", "tqdm",
})
#: The project's top-level packages that production code must never import.
DEV_ONLY = frozenset({"local", "tests", "bench"})
#: What each layer may not import (by top-level name). Anything not listed (tests, bench) may import anything.
FORBIDDEN: dict[str, frozenset[str]] = {
    "core": frozenset({"infra", "graphql_api", "functions", "deploy"}) | DEV_ONLY | IO_LIBRARIES,
    "infra": frozenset({"graphql_api", "functions", "deploy"}) | DEV_ONLY,
    "graphql_api": DEV_ONLY,
    "functions": DEV_ONLY,
    "deploy": DEV_ONLY,
    "local": frozenset({"tests", "bench"}),
}
#: Whoever is not named here may not import `local`.
MAY_IMPORT_LOCAL = frozenset({"local", "tests", "bench"})


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    line: int

    @property
    def layer(self) -> str:
        return self.module.split(".")[0]

    @property
    def top(self) -> str:
        return self.target.split(".")[0]


def project_modules(root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module in the project's folders (virtualenvs and caches left out)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        relative = Path(folder).relative_to(root)
        if not relative.parts:
            continue  # top-level scripts (none today) belong to no layer
        for name in sorted(f for f in files if f.endswith(".py")):
            parts = [*relative.parts, name[:-3]]
            yield ".".join(parts[:-1] if name == "__init__.py" else parts), Path(folder, name)


def imports_of(module: str, source: str, is_package: bool = False) -> Iterator[Import]:
    """Every import statement of `source`, relative ones resolved, plus `importlib.import_module("literal")`."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != "__future__":
                yield Import(module, target, node.lineno)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in {"import_module", "__import__"}))):
            yield Import(module, node.args[0].value, node.lineno)


def violations(imports: Iterable[Import]) -> list[str]:
    found = []
    for imp in imports:
        if imp.top in FORBIDDEN.get(imp.layer, frozenset()):
            found.append(f"{imp.module}:{imp.line} imports {imp.target} ({imp.layer} may not import {imp.top})")
        elif imp.top == "local" and imp.layer not in MAY_IMPORT_LOCAL:
            found.append(f"{imp.module}:{imp.line} imports {imp.target} (nothing but tests and bench imports local)")
    return found


def all_imports() -> list[Import]:
    return [imp for module, path in project_modules()
            for imp in imports_of(module, path.read_text(encoding="utf-8"), path.name == "__init__.py")]


def test_no_module_imports_upward_or_the_local_stack() -> None:
    # GIVEN every module of the project, parsed
    imports = all_imports()
    # THEN each layer is there (an empty scan would pass anything)
    assert {"core", "infra", "graphql_api", "functions", "local", "tests"} <= {imp.layer for imp in imports}
    # AND no import crosses a layer upward, brings I/O into core, or reaches the laptop stack from deployed code
    assert violations(imports) == []


def test_the_checker_reports_each_kind_of_upward_import() -> None:
    # GIVEN modules that break each rule (dynamic imports included; a relative one stays in its package)
    sources = {
        ("core.money", False): "import boto3\nfrom os import environ\n",
        ("core.rating", True): "from . import flat\n__import__('strawberry')\n",
        ("infra.repo", False): "def f():\n    from local.embedded import start_moto_server\n",
        ("infra.other", False): "from graphql_api.schema import schema\n",
        ("functions.rate.handler", False): "import importlib\nimportlib.import_module('local.pollers')\n",
        ("graphql_api.app", False): "from local import serve\n",
        ("deploy.template", False): "import local.streams\n",
    }
    imports = [imp for (module, package), source in sources.items() for imp in imports_of(module, source, package)]
    # WHEN they are checked
    found = violations(imports)
    # THEN each is reported once (importlib itself is no violation)
    assert [line.split(" imports ")[1].split(" ")[0] for line in found] == [
        "boto3", "os", "strawberry", "local.embedded", "graphql_api.schema", "local.pollers", "local", "local.streams"]


def test_the_layers_may_import_what_points_down() -> None:
    # GIVEN imports that follow the direction local → graphql_api, functions → infra → core
    sources = {
        "local.serve": "from graphql_api.app import create_app\nfrom functions.rate import handler\n",
        "graphql_api.app": "from infra.settings import get_settings\nimport strawberry\n",
        "functions.rate.handler": "from core.processing import process\nimport boto3\n",
        "infra.dynamo": "import boto3\nimport os\nfrom core.usage import UsageRecord\n",
        "tests.unit.test_x": "from local.streams import StreamPoller\n",
        "bench.pipeline": "from local.pollers import start_pollers\n",
        "core.grants": "from decimal import Decimal\nfrom core.values import value\n",
    }
    # THEN none is reported
    assert violations(imp for module, source in sources.items() for imp in imports_of(module, source)) == []


#: The layers that ship (tests and bench may import in circles among themselves).
SHIPPED = frozenset({"core", "infra", "graphql_api", "functions", "local", "deploy"})


def cycles(imports: Iterable[Import], modules: Iterable[str]) -> list[list[str]]:
    """The import cycles among ``modules``: each strongly connected set of two or more modules, sorted. An import
    inside a function counts (it is a cycle all the same, only deferred); ``from package import name`` imports the
    package (its ``__init__`` runs), so a module that does so from inside that package closes a loop."""
    known = set(modules)
    edges: dict[str, set[str]] = {m: set() for m in known}
    for imp in imports:
        target = imp.target
        while target and target not in known:
            target = target.rpartition(".")[0]
        if imp.module in known and target and target != imp.module:
            edges[imp.module].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(known):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_import_cycles_among_the_shipped_modules() -> None:
    # GIVEN every module of the layers that ship, and every import among them (deferred ones included)
    modules = [name for name, _ in project_modules() if name.split(".")[0] in SHIPPED]
    # THEN no two modules import each other, directly or around a loop
    assert cycles(all_imports(), modules) == []


def test_the_cycle_check_finds_direct_and_deferred_loops() -> None:
    # GIVEN a direct loop, a loop through a function-level import, and a package importing its own module
    sources = {
        ("infra.a", False): "from infra.b import B\n",
        ("infra.b", False): "def f():\n    from infra.a import A\n",
        ("core.rating", True): "from core.rating.pricing import price\n",
        ("core.rating.pricing", False): "from core.rating.graduated import amount\n",
        ("core.rating.graduated", False): "from decimal import Decimal\n",
    }
    imports = [imp for (module, package), source in sources.items() for imp in imports_of(module, source, package)]
    # THEN the loop is found, and a package's module importing a sibling module directly closes none
    assert cycles(imports, [module for module, _ in sources]) == [["infra.a", "infra.b"]]
    # AND a module importing a sibling through its package (whose __init__ imports that module) closes one
    loop = {("core.rating.pricing", False): "from core.rating import graduated\n"}
    more = [*imports, *(imp for (module, package), source in loop.items() for imp in imports_of(module, source))]
    assert cycles(more, [module for module, _ in sources]) == [["core.rating", "core.rating.pricing"],
                                                                ["infra.a", "infra.b"]]
