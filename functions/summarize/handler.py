"""Apply corrections to wallets and summaries from the usage table's stream (DOMAIN §4): a VOID gives back what
its original drew and booked, an AMEND does that and books its own values — in the original's summary while it
is open, else in the current period, keeping the service dates. Exactly once, like rating (same pipeline).

Event source mapping (template.yaml; ``local.pollers`` runs this handler with the same values):

- FilterCriteria ``FILTER_PATTERNS``: NEW correction records (``correction_of`` set), inserted by voidUsage /
  amendUsage or sent back to NEW::

    {"eventName": ["INSERT", "MODIFY"],
     "dynamodb": {"NewImage": {"status": {"S": ["NEW"]}, "correction_of": {"S": [{"exists": true}]}}}}

  (``rate`` takes the NEW records without ``correction_of``; PROCESSED changes reach neither: the summary is
  written in the same transaction as the record it books.)
- BatchSize 100, MaximumBatchingWindowInSeconds 1, BisectBatchOnFunctionError, MaximumRetryAttempts 5,
  FunctionResponseTypes [ReportBatchItemFailures], an on-failure destination.

A correction whose original is still NEW rates the original first (conditioned like ``rate``: whichever function
writes it first wins, the other finds it processed). Environment: as ``functions/rate``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.stream import StreamBatch
from infra.observability import logger, observed

FUNCTION_NAME = "summarize"
FILTER_PATTERNS = ['{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["NEW"]}, '
                   '"correction_of": {"S": [{"exists": true}]}}}}']
BATCH_SIZE = 100
BATCHING_WINDOW_S = 1
MAX_RETRY_ATTEMPTS = 5

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@observed
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    batch = StreamBatch.rate(event["Records"])
    logger.info("corrections applied", extra=batch.summary())

    def record_handler(record: DynamoDBRecord) -> None:
        batch.raise_if_unfinished(record.dynamodb.sequence_number if record.dynamodb else None)

    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    batch.publish(FUNCTION_NAME, response)
    return response
