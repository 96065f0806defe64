"""What `make serve` tells a newcomer, tried as they would: the printed lines pasted into a shell work, the
GraphiQL link carries the key, and with USAGE_DATA_DIR the data and the key survive a restart."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_serve import needs_dynamodb_local

ROOT = Path(__file__).resolve().parents[2]
KEYS = "{ apiKeys(first: 100) { edges { node { name revokedAt } } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(**env: str) -> Iterator[tuple[str, list[str]]]:
    """`python -m local.serve` on free ports, with its own store; yields its base URL and output lines
    once it has printed what to do next."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("AWS_ENDPOINT_URL")
                   and k not in ("USAGE_DEV_API_KEY", "USAGE_DATA_DIR", "USAGE_LOCAL_STORE")}
    environment.update(PORT=str(port), HOST="127.0.0.1", USAGE_STORE_PORT=str(free_port()), **env)
    proc = subprocess.Popen([sys.executable, "-m", "local.serve"], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 180
        while not any(line.startswith("  curl ") for line in lines):
            assert proc.poll() is None, "\n".join(lines)
            assert time.monotonic() < deadline, "serve printed no next steps:\n" + "\n".join(lines)
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", lines
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        reader.join(10)


def printed(lines: list[str], pattern: str) -> re.Match[str]:
    found = next((m for line in lines if (m := re.search(pattern, line))), None)
    assert found is not None, f"{pattern!r} not in:\n" + "\n".join(lines)
    return found


def graphql(base: str, key: str, query: str) -> dict[str, object]:
    answer = httpx.post(f"{base}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"},
                        timeout=30).json()
    assert "errors" not in answer, answer
    return answer["data"]  # type: ignore[no-any-return]


@pytest.mark.e2e
def test_serve_prints_a_signed_in_link_and_exports_that_work_when_pasted() -> None:
    from tests.stores import store_kind

    if store_kind() == "dynamodb-local":
        pytest.skip("starts DynamoDB Local itself (serve's default store): runs once, in the moto suite")
    needs_dynamodb_local()
    with serve() as (base, lines):
        # THEN it says plainly that the data is in memory, and how to keep it
        assert printed(lines, r"Data is in memory") and printed(lines, r"USAGE_DATA_DIR=\.data make serve")
        # AND the GraphiQL link carries the same key as the export line
        key = printed(lines, r"^  export USAGE_DEV_API_KEY=(umk_\S+)$").group(1)
        assert printed(lines, rf"^  {re.escape(base)}/graphql#key=(\S+)$").group(1) == key
        assert graphql(base, key, "{ product(code: \"CELL-PLAN\") { status } }") == {"product": {"status": "ACTIVE"}}
        # WHEN the export lines are pasted into a shell that runs the key command line
        exports = [line.strip() for line in lines if line.startswith("  export ")]
        assert any("AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:" in line for line in exports)
        clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        listed = subprocess.run(["bash", "-c", "; ".join([*exports, f"{sys.executable} -m infra.apikeys list "
                                                                       "--tenant dev"])],
                                cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
        # THEN it reaches the running store: the dev key is listed
        assert listed.returncode == 0 and "\tdev" in listed.stdout, listed.stderr
        # AND the printed curl line works as printed
        curl = next(line.strip() for line in lines if line.startswith("  curl "))
        if shutil.which("curl"):
            answered = subprocess.run(["bash", "-c", f"{exports[0]}; {curl}"], capture_output=True, text=True,
                                      timeout=60)
            assert '"code":"CELL-PLAN"' in answered.stdout, answered


@pytest.mark.e2e
def test_serve_keeps_data_and_the_dev_key_in_USAGE_DATA_DIR_across_restarts(tmp_path: Path) -> None:
    from tests.stores import store_kind

    if store_kind() == "dynamodb-local":
        pytest.skip("starts DynamoDB Local itself: runs once, in the moto suite")
    needs_dynamodb_local()
    # GIVEN serve ran with a data folder, and an ADMIN created a key there
    with serve(USAGE_DATA_DIR=str(tmp_path)) as (base, lines):
        assert printed(lines, r"Data and key are kept in " + re.escape(str(tmp_path)))
        key = printed(lines, r"^  export USAGE_DEV_API_KEY=(umk_\S+)$").group(1)
        made = graphql(base, key, 'mutation { createApiKey(input: {name: "kept", roles: [VIEWER]}) { secret } }')
        viewer = made["createApiKey"]["secret"]  # type: ignore[index]
    assert (tmp_path / "dev-api-key").read_text().strip() == key
    # WHEN serve starts again on the same folder, without USAGE_DEV_API_KEY
    with serve(USAGE_DATA_DIR=str(tmp_path)) as (base, lines):
        # THEN the dev key is the same, the demo catalog is not seeded again, and the created key still works
        assert printed(lines, r"^  export USAGE_DEV_API_KEY=(umk_\S+)$").group(1) == key
        assert not any(line.startswith("seeded the demo catalog") for line in lines)
        names = [e["node"]["name"] for e in graphql(base, key, KEYS)["apiKeys"]["edges"]]  # type: ignore[index]
        assert names == ["dev", "kept"]
        assert graphql(base, viewer, "{ product(code: \"CELL-PLAN\") { status } }")["product"]
