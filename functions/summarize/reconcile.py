"""Reconciliation: recompute a tenant's summaries and wallet debits from its usage records and report drift
(``infra.reconciliation``). Zero drift is the invariant every exactly-once test checks.

As a function: ``{"tenant": "acme", "accounts": ["a-1"]}`` (accounts optional) → the report; as a command:

    python -m functions.summarize.reconcile --tenant acme [--account a-1 ...]

which prints the report and exits 1 when there is drift. Environment: as ``functions/rate``.
"""

from __future__ import annotations

import argparse
import sys
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
            "summaries": report.summaries, "clean": report.clean, "report": list(report.lines())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.summarize.reconcile", description=__doc__.split("\n")[0])
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--account", action="append", dest="accounts", help="only these accounts (repeatable)")
    args = parser.parse_args(argv)
    ready()
    report = reconcile(args.tenant, args.accounts)
    for line in report.lines():
        print(line)
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
