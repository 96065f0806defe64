"""A dry run of the file ingestion: ``python -m functions.ingest`` against a throwaway embedded store.

    python -m local.ingest usage.csv [--tenant dev] [--report usage.csv.report.csv] [--no-progress]

Takes the same arguments; the store lives only as long as the command (its tables are created on first use).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    from functions.ingest.__main__ import main as ingest
    from local.embedded import start_moto_server

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "local")
    os.environ.setdefault("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    with start_moto_server() as store:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = store.endpoint
        return ingest(argv)


if __name__ == "__main__":
    sys.exit(main())
