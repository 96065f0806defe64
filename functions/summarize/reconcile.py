"""Reconciliation: recompute a tenant's summaries and wallet debits from its usage records and report drift,
usage records still NEW after ``USAGE_STALE_NEW_AFTER_S`` and stream batches given up on
(``infra.reconciliation``). Zero drift is the invariant every exactly-once test checks.

As a function: ``{"tenant": "acme", "accounts": ["a-1"]}`` (accounts optional) → the report; as a command:

    python -m functions.summarize.reconcile --tenant acme [--account a-1 ...] [--stale-after SECONDS]

which prints the report and exits 1 when it is not clean (drift, stale NEW records, given-up batches).
Environment: as ``functions/rate``, plus ``USAGE_STALE_NEW_AFTER_S`` and ``STREAM_FAILURE_QUEUE_URLS``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

from functions.stream import ready
from infra.observability import logger, observed
from infra.reconciliation import reconcile


@observed
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ready()
    report = reconcile(event["tenant"], event.get("accounts"))
    logger.info("reconciled", extra={"tenant": report.tenant, "clean": report.clean, "records": report.records})
    return {"tenant": report.tenant, "accounts": report.accounts, "records": report.records,
            "summaries": report.summaries, "clean": report.clean,
            "staleNewRecords": [r.record_id for r in report.stale], "givenUpBatches": report.given_up,
            "report": list(report.lines())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.summarize.reconcile", description=__doc__.split("\n")[0])
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--account", action="append", dest="accounts", help="only these accounts (repeatable)")
    parser.add_argument("--stale-after", type=int, metavar="SECONDS", default=None,
                        help="report records NEW for longer than this (default: USAGE_STALE_NEW_AFTER_S, 900)")
    args = parser.parse_args(argv)
    ready()
    stale_after = timedelta(seconds=args.stale_after) if args.stale_after is not None else None
    report = reconcile(args.tenant, args.accounts, stale_after=stale_after)
    for line in report.lines():
        print(line)
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
