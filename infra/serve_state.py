"""Where a running `make serve` says what it serves, so that local commands find it by themselves.

`make serve` writes ``.cache/serve.json`` (or the file ``USAGE_SERVE_STATE`` names) once it is ready and removes
it when it stops: its process id, the GraphQL and health URLs, the store's endpoints, the region, the table and
bucket names, the dev tenant. ``running()`` reads it back, only while that process is alive.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATE_ENV = "USAGE_SERVE_STATE"


def state_path() -> Path:
    return Path(os.environ.get(STATE_ENV) or ROOT / ".cache" / "serve.json")


def write(state: dict[str, Any]) -> Path:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps({"pid": os.getpid(), **state}, indent=2))
    temporary.replace(path)
    return path


def remove() -> None:
    """Remove the state file if it is this process's."""
    path = state_path()
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running() -> dict[str, Any] | None:
    """The state of a `make serve` that is running now, or None (no file, or its process is gone)."""
    try:
        state = json.loads(state_path().read_text())
        os.kill(int(state["pid"]), 0)
    except PermissionError:  # alive, another user's
        pass
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if isinstance(state, dict) else None
