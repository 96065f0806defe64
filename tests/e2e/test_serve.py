"""`make serve`'s command, as a developer runs it: a real process on a free port, its own embedded store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
QUERY = """{ product(code: "CELL-PLAN") { code status usageResources { resource { code } grants { quantity }
  rates { rate rateUnit { unitCode } } effectivePolicy { ratingDelayDays } } } products(usageModelType: PACK) {
  edges { node { code } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.e2e
def test_serve_answers_health_and_the_seeded_nested_query() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(PORT=str(port), HOST="127.0.0.1", USAGE_DEV_API_KEY="umk_dev-test-key-123")
    proc = subprocess.Popen([sys.executable, "-m", "local.serve"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "serve exited"
            try:
                if httpx.get(f"{base}/health", timeout=2).json() == {"status": "ok"}:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not become healthy"
            time.sleep(0.25)
        answer = httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=30,
                            headers={"Authorization": "Bearer umk_dev-test-key-123"}).json()
        assert "errors" not in answer, answer
        product = answer["data"]["product"]
        assert product["status"] == "ACTIVE"
        texts = next(p for p in product["usageResources"] if p["resource"]["code"] == "TEXTS")
        assert texts["grants"][0]["quantity"] == "4000" and texts["rates"][0]["rate"] == "0.75"
        assert [e["node"]["code"] for e in answer["data"]["products"]["edges"]] == ["TEXT-PACK"]
        assert httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=30).status_code == 401
        ide = httpx.get(f"{base}/graphql", headers={"accept": "text/html"}, timeout=30)
        assert ide.status_code == 200 and "graphiql" in ide.text.lower()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
