"""`python -m local.ingest`: the ingest command as a dry run on a throwaway embedded store of its own."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADER = "idempotencyKey,accountExternalId,resourceCode,quantity,unitCode,startTime,endTime,dimensions"


def test_a_dry_run_ingests_into_a_store_of_its_own(tmp_path: Path) -> None:
    # GIVEN a usage file, and no store configured
    path = tmp_path / "usage.csv"
    path.write_text(f"{HEADER}\nd-1,acme,DATA,2,,2026-07-01T00:00:00Z,,\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    # WHEN the dry run ingests it
    done = subprocess.run([sys.executable, "-m", "local.ingest", str(path), "--no-progress"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    # THEN it ran against an empty store (no catalog there: the row is rejected, exit status 1) and wrote the report
    assert done.returncode == 1, done.stderr
    assert "1 rows" in done.stdout and "1 rejected" in done.stdout
    report = list(csv.DictReader((tmp_path / "usage.csv.report.csv").open()))
    assert [(r["idempotencyKey"], r["outcome"], r["errorCodes"]) for r in report] == [
        ("d-1", "REJECTED", "UNKNOWN_RESOURCE")]
