"""Rate usage from the usage table's stream: drawdown, overage, price, summary — exactly once (DOMAIN §3).

Event source mapping (template.yaml; ``local.pollers`` runs this handler with the same values):

- FilterCriteria ``FILTER_PATTERNS``: NEW usage records that are not corrections — inserted, or sent back to
  NEW by setUsageStatus (``attempt`` + 1)::

    {"eventName": ["INSERT", "MODIFY"],
     "dynamodb": {"NewImage": {"status": {"S": ["NEW"]}, "correction_of": {"S": [{"exists": false}]}}}}

- BatchSize 1000, MaximumBatchingWindowInSeconds 0 (Lambda polls ~4 times a second and hands over what is
  there: a record waits for the next poll and the batch in hand, not for a window — issue 14's p99; under a
  backlog batches fill up anyway, and with many accounts an account has about one event per batch whatever the
  window, so a window would buy few shared summary writes for its second of latency),
  BisectBatchOnFunctionError, MaximumRetryAttempts 5, FunctionResponseTypes [ReportBatchItemFailures], an
  on-failure destination. Any ParallelizationFactor: writes are conditional.

Environment: CATALOG_TABLE, ACCOUNTS_TABLE, USAGE_TABLE, SUMMARIES_TABLE. Reads all four; writes usage records
(rated fields), wallet counters and ledger (accounts table) and summaries, in one transaction per group.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.stream import StreamBatch
from infra.observability import logger, observed

FUNCTION_NAME = "rate"
FILTER_PATTERNS = ['{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["NEW"]}, '
                   '"correction_of": {"S": [{"exists": false}]}}}}']
BATCH_SIZE = 1000
BATCHING_WINDOW_S = 0
MAX_RETRY_ATTEMPTS = 5

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@observed
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    batch = StreamBatch.rate(event["Records"])
    logger.info("rated", extra=batch.summary())

    def record_handler(record: DynamoDBRecord) -> None:
        batch.raise_if_unfinished(record.dynamodb.sequence_number if record.dynamodb else None)

    if batch.rating.unfinished:  # Powertools reports them (and raises when every record failed: bisected)
        response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                            context=context)
    else:  # every record succeeds: Powertools' answer, without wrapping each record (~3 % of a batch's CPU)
        response = {"batchItemFailures": []}
    batch.publish(FUNCTION_NAME, response)
    return response
