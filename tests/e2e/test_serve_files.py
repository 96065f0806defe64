"""`make serve`'s files bucket and ingest trigger, as a newcomer uses them: a real serve process (on its default
store, DynamoDB Local, with moto's S3 beside it); a presigned upload through GraphQL, ingested by serve's own
trigger thread; then the ingest command finding that serve by itself."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_serve import ROOT, free_port, needs_dynamodb_local

KEY = "umk_dev-files-test-key-123"
HEADER = "idempotencyKey,accountExternalId,resourceCode,quantity,unitCode,startTime,endTime,dimensions"
CREATE = """mutation { createUsageUpload(input: {fileName: "usage.csv"}) { upload { id status } url
  headers { name value } errors { code message } } }"""
STATUS = "query($id: ID!) { usageUpload(id: $id) { status rows accepted duplicates rejected reportUrl } }"


def graphql(base: str, query: str, variables: dict[str, object] | None = None) -> dict[str, object]:
    answer = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=30,
                        headers={"Authorization": f"Bearer {KEY}"}).json()
    assert "errors" not in answer, answer
    return answer["data"]  # type: ignore[no-any-return]


@pytest.mark.e2e
def test_serve_ingests_a_presigned_upload_and_the_command_finds_it(tmp_path: Path) -> None:
    from tests.stores import store_kind

    if store_kind() == "dynamodb-local":
        pytest.skip("starts DynamoDB Local itself (serve's default store): runs once, in the moto suite")
    needs_dynamodb_local()
    port = free_port()
    state = tmp_path / "serve.json"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "POWERTOOLS_")) and k not in ("USAGE_DATA_DIR", "USAGE_LOCAL_STORE")}
    env.update(PORT=str(port), HOST="127.0.0.1", USAGE_DEV_API_KEY=KEY, USAGE_SERVE_STATE=str(state),
               AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_CONFIG_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    proc = subprocess.Popen([sys.executable, "-m", "local.serve"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "serve exited"
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not become healthy"
            time.sleep(0.25)
        # GIVEN serve says where it is
        served = json.loads(state.read_text())
        assert served["pid"] == proc.pid and served["graphql"] == f"{base}/graphql" and served["s3"]
        # WHEN a file is uploaded through a presigned URL
        created = graphql(base, CREATE)["createUsageUpload"]
        assert created["errors"] == []  # type: ignore[index]
        body = f"{HEADER}\ns-1,acme,TEXTS,3,,2026-07-01T00:00:00Z,,\ns-2,acme,TEXTS,-3,,2026-07-01T00:00:00Z,,\n"
        put = httpx.put(created["url"], content=body, timeout=30,  # type: ignore[index]
                        headers={h["name"]: h["value"] for h in created["headers"]})  # type: ignore[index]
        assert put.status_code == 200
        # THEN serve's trigger ingests it within seconds, and the report is one link away
        upload_id = created["upload"]["id"]  # type: ignore[index]
        for _ in range(120):
            status = graphql(base, STATUS, {"id": upload_id})["usageUpload"]
            if status["status"] == "COMPLETE":  # type: ignore[index]
                break
            time.sleep(0.25)
        assert (status["rows"], status["accepted"], status["rejected"]) == (2, 1, 1), status  # type: ignore[index]
        report = list(csv.DictReader(io.StringIO(httpx.get(status["reportUrl"], timeout=30).text)))
        assert [r["outcome"] for r in report] == ["ACCEPTED", "REJECTED"]
        # AND the ingest command finds this serve by itself (no endpoint, no credentials in its environment)
        local = tmp_path / "local.csv"
        local.write_text(f"{HEADER}\nc-1,acme,TEXTS,1,,2026-07-01T00:00:00Z,,\n")
        command = [sys.executable, "-m", "functions.ingest", str(local), "--no-progress"]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "1 accepted" in result.stdout and "`make serve`" in result.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # AND once serve has stopped, its state is gone and the command says so on one line
    assert not state.exists()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no `make serve` is running" in result.stderr
