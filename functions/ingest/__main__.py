"""Ingest a local usage file with the code the S3 function runs, with a progress bar; the report goes next to it.

    python -m functions.ingest usage.csv [--tenant dev] [--report usage.csv.report.csv] [--aws]

Where the records go, first match wins:
1. the store AWS_ENDPOINT_URL_DYNAMODB names (DynamoDB Local, a moto server);
2. a running `make serve` (found through the .cache/serve.json it writes; tenant `dev` unless --tenant says);
3. the AWS account of the environment's credentials (--aws skips 2);
``python -m local.ingest`` runs it against a throwaway embedded store instead: a dry run that checks how the file
reads (that store has no catalog, so rows naming a resource come out REJECTED as UNKNOWN_RESOURCE).

Exit status: 0 every row ACCEPTED or DUPLICATE, 1 some rows REJECTED (see the report), 2 the command could not
run (bad arguments, a missing or unsupported file, no store to write to, no credentials); errors are one line.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from functions.ingest.bulk import Totals, byte_lines, ingest_lines
from functions.ingest.rows import FileFormat

EXIT_OK, EXIT_REJECTED, EXIT_ERROR = 0, 1, 2
_LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class CommandError(Exception):
    """The command cannot run: one line for the user, exit status 2."""


@contextlib.contextmanager
def _store(aws: bool) -> Iterator[tuple[str, bool]]:
    """Point the environment at the store to write to; yields a line saying which, and whether it is AWS."""
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        yield f"the store at {os.environ['AWS_ENDPOINT_URL_DYNAMODB']}", False
        return
    served = None if aws else _running_serve()
    if served is not None:
        for name, value in _LOCAL_CREDENTIALS.items():
            os.environ.setdefault(name, value)
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = served["dynamodb"]
        os.environ["AWS_REGION"] = served.get("region") or "us-east-1"
        os.environ.update(served.get("tables") or {})
        yield f"`make serve` ({served.get('graphql')}, store {served['dynamodb']})", False
        return
    import boto3

    if boto3.session.Session().get_credentials() is None:
        raise CommandError("no `make serve` is running and no AWS credentials are configured: start `make serve` "
                           "in another terminal, set AWS_ENDPOINT_URL_DYNAMODB, configure AWS credentials "
                           "(AWS_PROFILE, …), or run `python -m local.ingest` for a dry run")
    yield "AWS", True


def _running_serve() -> dict[str, Any] | None:
    from infra.serve_state import running

    state = running()
    return state if state and state.get("dynamodb") else None


def count_rows(path: Path, file_format: FileFormat) -> int:
    """About how many rows the file holds (its lines, less the CSV header): the progress bar's total."""
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    lines = 0
    last = b"\n"
    with opener(path, "rb") as data:
        while chunk := data.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"
    return max(0, lines - (1 if file_format == FileFormat.CSV else 0))


def ingest_file(path: Path, tenant: str, report: Path, progress: bool = True) -> Totals:
    """Ingest ``path`` for ``tenant`` into the configured store and write ``report``; returns the totals."""
    from infra.bootstrap import connect
    from infra.usage_repo import usage_ingestion

    file_format = _format_of(path)
    connect()
    stat = path.stat()
    source = f"file://{path.resolve()}@{stat.st_size}-{stat.st_mtime_ns}"
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=count_rows(path, file_format), unit=" rows", desc=path.name, file=sys.stderr)
    try:
        with path.open("rb") as data, report.open("w", encoding="utf-8", newline="") as out:
            return ingest_lines(byte_lines(data, compressed=path.name.lower().endswith(".gz")), file_format,
                                usage_ingestion(tenant), source, out, on_batch=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()


def _format_of(path: Path) -> FileFormat:
    file_format = FileFormat.of(path.name)
    if file_format is None:
        raise CommandError(f"{path}: not a .csv, .jsonl or .ndjson file (optionally .gz)")
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise CommandError(f"{path}: not readable")
    return file_format


def _one_line(exc: BaseException) -> str | None:
    """The sentence for an environment problem (credentials, endpoint, tables), or None: a bug, shown in full."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials: configure them (AWS_PROFILE, …) or start `make serve`"
    if isinstance(exc, NoRegionError):
        return "no AWS region: set AWS_REGION"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach the store: {exc} (is `make serve` still running?)"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"the store refused: {error.get('Code')}: {error.get('Message')}"
    if isinstance(exc, OSError):
        return str(exc)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.ingest", description=__doc__.splitlines()[0],
                                     epilog="exit status: 0 all rows accepted or duplicate, 1 some rejected, "
                                            "2 the command could not run")
    parser.add_argument("file", type=Path)
    parser.add_argument("--tenant", help="the tenant the usage belongs to (default: dev, the tenant of "
                                         "`make serve`; required on AWS)")
    parser.add_argument("--report", type=Path, help="where to write the report (default: <file>.report.csv)")
    parser.add_argument("--aws", action="store_true", help="write to AWS even when `make serve` is running")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    report = args.report or args.file.with_name(args.file.name + ".report.csv")
    started = time.perf_counter()
    try:
        _format_of(args.file)
        with _store(args.aws) as (target, on_aws):
            tenant = args.tenant or (None if on_aws else "dev")
            if tenant is None:
                raise CommandError("--tenant is required when writing to AWS")
            print(f"ingesting {args.file} for tenant {tenant} into {target}", file=sys.stderr)
            totals = ingest_file(args.file, tenant, report, progress=not args.no_progress)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted: rows ingested so far stay; running the command again completes the file",
              file=sys.stderr)
        return 130
    except Exception as exc:
        line = _one_line(exc)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return EXIT_ERROR
    elapsed = time.perf_counter() - started
    print(f"{totals.rows} rows in {elapsed:.1f}s: {totals.accepted} accepted, {totals.duplicates} duplicates, "
          f"{totals.rejected} rejected; report: {report}")
    return EXIT_OK if totals.rejected == 0 else EXIT_REJECTED


if __name__ == "__main__":
    sys.exit(main())
