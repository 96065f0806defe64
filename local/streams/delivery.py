"""Handing a batch of stream records to a Lambda handler as an event source mapping does: ReportBatchItemFailures
(retry from the lowest failed sequence number), bisection on an exception (BisectBatchOnFunctionError), at most
``max_retry_attempts`` retries, then the on-failure destination."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from local.lambda_context import LocalLambdaContext

logger = logging.getLogger(__name__)


Event = dict[str, Any]
Handler = Callable[[Event, Any], Any]
OnFailure = Callable[[Event, BaseException], None]


class ReportedItemFailures(Exception):
    """The handler answered `{"batchItemFailures": [...]}` for these sequence numbers."""

    def __init__(self, sequence_numbers: Sequence[str]) -> None:
        super().__init__(f"the handler reported failed records {list(sequence_numbers)}")
        self.sequence_numbers = list(sequence_numbers)


class InvalidBatchResponse(Exception):
    """The handler reported an item failure Lambda cannot place (no, empty or unknown itemIdentifier).

    Lambda treats the whole batch as failed; so does the poller.
    """


class Delivery:
    """Invokes ``handler(event, context)`` with a batch until every record succeeded or was handed to ``on_failure``."""

    def __init__(
        self,
        handler: Handler,
        *,
        function_name: str,
        region: str,
        bisect_on_error: bool,
        max_retry_attempts: int,
        on_failure: OnFailure | None,
        report_batch_item_failures: bool,
    ) -> None:
        self._handler = handler
        self.function_name = function_name
        self.region = region
        self.bisect_on_error = bisect_on_error
        self.max_retry_attempts = max_retry_attempts
        self._on_failure = on_failure
        self.report_batch_item_failures = report_batch_item_failures

    def deliver(self, records: list[dict[str, Any]]) -> None:
        """Invoke until every record succeeded or was handed to `on_failure`; keeps shard order."""
        attempts = 0
        while records:
            error, failed_at = self._invoke(records)
            if error is None:
                return
            if failed_at > 0:  # partial success: checkpoint before the first failure, retry from it
                records, attempts = records[failed_at:], 1
            elif self.bisect_on_error and len(records) > 1 and not isinstance(error, ReportedItemFailures):
                middle = len(records) // 2
                self.deliver(records[:middle])
                self.deliver(records[middle:])
                return
            else:
                attempts += 1
            if attempts > self.max_retry_attempts:
                self._discard(records, error)
                return

    def _invoke(self, records: list[dict[str, Any]]) -> tuple[BaseException | None, int]:
        """Run the handler once: (None, 0) on success, else the error and how many leading records succeeded."""
        context = LocalLambdaContext(
            self.function_name,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:123456789012:function:{self.function_name}",
        )
        try:
            response = self._handler({"Records": records}, context)
        except Exception as exc:
            logger.warning("%s failed on %d records: %r", self.function_name, len(records), exc)
            return exc, 0
        failures = response.get("batchItemFailures") if isinstance(response, Mapping) else None
        if not self.report_batch_item_failures or not failures:
            return None, 0
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
        failed = [item.get("itemIdentifier") if isinstance(item, Mapping) else None for item in failures]
        if not all(identifier in sequence_numbers for identifier in failed):
            return InvalidBatchResponse(f"batchItemFailures names records not in the batch: {failures!r}"), 0
        first = min(sequence_numbers.index(identifier) for identifier in failed)
        return ReportedItemFailures([str(identifier) for identifier in failed]), first

    def _discard(self, records: list[dict[str, Any]], error: BaseException) -> None:
        event = {"Records": records}
        if self._on_failure is None:
            logger.error("%s: dropped %d records after retries: %r", self.function_name, len(records), error)
        else:
            self._on_failure(event, error)
