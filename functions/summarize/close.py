"""Scheduled period close: every OPEN summary whose period has ended and whose rating delay (3 days by default)
has passed becomes COMPLETE, frozen from then on (DOMAIN §2, §4).

Runs on a schedule (template.yaml: every hour is plenty; a late run changes nothing, because rating books
nothing into a summary once its closing time has passed). Reads the summaries table's sparse OPEN index, never
scans. An admin runs the same close for one tenant on demand with the GraphQL mutation ``closeUsagePeriods(asOf)``
(``infra.summaries_repo.close_due`` with a tenant). Environment: SUMMARIES_TABLE (and the common AWS_* variables).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra.bootstrap import connect
from infra.dynamo import dynamodb_client
from infra.observability import logger, observed, publish
from infra.settings import Settings
from infra.summaries_repo import close_due

_settings: Settings | None = None


@observed
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    global _settings
    if _settings is None:  # cold start: bind to the configured tables once, never at import time
        _settings = connect(create_tables=False)
    report = close_due(dynamodb_client(_settings), _settings.summaries_table, datetime.now(UTC))
    logger.info("period close", extra={"closed": report.closed, "left_open": report.left_open})
    publish("close", {"SummariesClosed": report.closed, "SummariesLeftOpen": report.left_open})
    return {"closed": report.closed, "leftOpen": report.left_open}
