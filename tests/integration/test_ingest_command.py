"""`python -m functions.ingest FILE`, run as a user runs it (a subprocess): it finds a running `make serve` through
the state file serve writes, shows a total, and fails with one line and exit status 2 — never a traceback — when
it cannot run. Exit status 0: every row accepted or duplicate; 1: some rejected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.usage import usage_record_id
from infra.settings import get_settings
from infra.usage_repo import UsageRepository
from tests.builders import active_usage_catalog

ROOT = Path(__file__).resolve().parents[2]
HEADER = "idempotencyKey,accountExternalId,resourceCode,quantity,unitCode,startTime,endTime,dimensions"


def run(args: list[str], state: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The command in a clean environment: no endpoints, no credentials, no AWS config; ``env`` adds to it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "USAGE_"))}
    clean.update(AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_CONFIG_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
                 USAGE_SERVE_STATE=str(state), **env)
    return subprocess.run([sys.executable, "-m", "functions.ingest", *args], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=120)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("ingesting ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr  # (after "ingesting F into S")
    return lines[0]


@pytest.fixture
def serve_state(store_endpoint: str, tmp_path: Path) -> Path:
    """The state file of a `make serve` that is running (this test process) on the test store."""
    settings = get_settings()
    path = tmp_path / "serve.json"
    path.write_text(json.dumps({
        "pid": os.getpid(), "graphql": "http://127.0.0.1:8000/graphql", "dynamodb": store_endpoint,
        "region": settings.region, "tables": {"CATALOG_TABLE": settings.catalog_table,
                                              "ACCOUNTS_TABLE": settings.accounts_table,
                                              "USAGE_TABLE": settings.usage_table,
                                              "SUMMARIES_TABLE": settings.summaries_table}}))
    return path


def test_a_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    line = one_line_error(run([str(tmp_path / "nope.csv")], tmp_path / "serve.json"))
    assert "nope.csv: no such file" in line


def test_an_unsupported_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "usage.xlsx").write_bytes(b"PK")
    assert "not a .csv, .jsonl or .ndjson" in one_line_error(run([str(tmp_path / "usage.xlsx")], tmp_path / "s.json"))


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    result = run(["--aws", "--embedded", "x.csv"], tmp_path / "serve.json")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_no_serve_and_no_credentials_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # GIVEN a file, no `make serve` (a stale state file whose process is gone) and no AWS credentials
    path = tmp_path / "usage.csv"
    path.write_text(f"{HEADER}\nk-1,acme,DATA,2,,2026-07-01T00:00:00Z,,\n")
    stale = tmp_path / "serve.json"
    stale.write_text(json.dumps({"pid": 2**22 + 12345, "dynamodb": "http://127.0.0.1:9"}))
    # WHEN the command runs THEN it says what to do, on one line
    line = one_line_error(run([str(path)], stale))
    assert "no `make serve` is running and no AWS credentials" in line


def test_an_unreachable_store_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text(f"{HEADER}\nk-1,acme,DATA,2,,2026-07-01T00:00:00Z,,\n")
    line = one_line_error(run([str(path), "--no-progress"], tmp_path / "serve.json",
                              AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="x",
                              AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1"))
    assert "cannot reach the store" in line


def test_it_finds_a_running_serve_shows_a_total_and_exits_by_the_rows(serve_state: Path, tenant: str,
                                                                      tmp_path: Path) -> None:
    # GIVEN a running `make serve` (its state file) and a tenant with resources
    active_usage_catalog(tenant)
    good = tmp_path / "good.csv"
    good.write_text(f"{HEADER}\nc-1,acme,DATA,2,,2026-07-01T00:00:00Z,,\nc-2,acme,TEXTS,1,,2026-07-01T00:00:00Z,,\n")
    # WHEN the command runs with no endpoint and no credentials in its environment
    result = run([str(good), "--tenant", tenant], serve_state)
    # THEN it wrote to serve's store, with a progress bar that knew the total, and exits 0
    assert result.returncode == 0, result.stderr
    assert "`make serve`" in result.stderr and "2/2" in result.stderr
    assert "2 rows" in result.stdout and "2 accepted, 0 duplicates, 0 rejected" in result.stdout
    assert UsageRepository(tenant).get(usage_record_id(tenant, "c-1")) is not None
    # AND a file with a rejected row (and a row already stored: a duplicate) exits 1
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"idempotencyKey": "c-2", "accountExternalId": "acme", "resourceCode": "TEXTS", '
                     '"quantity": 1, "startTime": "2026-07-01T00:00:00Z"}\n'
                     '{"idempotencyKey": "c-3", "accountExternalId": "acme", "resourceCode": "NOPE", '
                     '"quantity": 1, "startTime": "2026-07-01T00:00:00Z"}\n')
    result = run([str(mixed), "--tenant", tenant, "--no-progress"], serve_state)
    assert result.returncode == 1, result.stderr
    assert "0 accepted, 1 duplicates, 1 rejected" in result.stdout
