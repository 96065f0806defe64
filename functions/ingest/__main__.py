"""Ingest a local usage file with the code the S3 function runs, with a progress bar; the report goes next to it.

    python -m functions.ingest usage.csv [--tenant dev] [--report usage.csv.report.csv]

The store is the one AWS_ENDPOINT_URL_DYNAMODB names (e.g. the URL ``make serve`` prints), else the AWS account
of the environment's credentials; ``python -m local.ingest`` runs it against a throwaway embedded store (a dry run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from functions.ingest.bulk import Totals, byte_lines, ingest_lines
from functions.ingest.rows import FileFormat


def ingest_file(path: Path, tenant: str, report: Path, progress: bool = True) -> Totals:
    """Ingest ``path`` for ``tenant`` into the configured store and write ``report``; returns the totals."""
    from infra.bootstrap import connect
    from infra.usage_repo import usage_ingestion

    file_format = FileFormat.of(path.name)
    if file_format is None:
        raise SystemExit(f"{path}: not a .csv, .jsonl or .ndjson file (optionally .gz)")
    connect()
    stat = path.stat()
    source = f"file://{path.resolve()}@{stat.st_size}-{stat.st_mtime_ns}"
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit=" rows", desc=path.name, file=sys.stderr)
    try:
        with path.open("rb") as data, report.open("w", encoding="utf-8", newline="") as out:
            return ingest_lines(byte_lines(data, compressed=path.name.lower().endswith(".gz")), file_format,
                                usage_ingestion(tenant), source, out, on_batch=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--tenant", default="dev", help="the tenant the usage belongs to (default: dev)")
    parser.add_argument("--report", type=Path, help="where to write the report (default: <file>.report.csv)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    report = args.report or args.file.with_name(args.file.name + ".report.csv")
    started = time.perf_counter()
    totals = ingest_file(args.file, args.tenant, report, progress=not args.no_progress)
    elapsed = time.perf_counter() - started
    print(f"{totals.rows} rows in {elapsed:.1f}s: {totals.accepted} accepted, {totals.duplicates} duplicates, "
          f"{totals.rejected} rejected; report: {report}")
    return 0 if totals.rejected == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
