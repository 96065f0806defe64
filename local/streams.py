"""A local stand-in for Lambda's DynamoDB Streams event source mapping.

`StreamPoller` reads a table's stream through the DynamoDB Streams API of any endpoint (moto server, DynamoDB
Local, AWS) and invokes a Lambda handler with the event Lambda would send, configured like the mapping in
template.yaml:

    poller = StreamPoller(dynamodb, streams, "usage", rate.handler,
                          filter_patterns=['{"eventName": ["INSERT", "MODIFY"]}'], batch_size=100)
    poller.start()      # background thread (`make serve`)
    poller.drain()      # tests: every record now in the stream was handed over and its invocation finished
    poller.stop()
    drain_all([rate_poller, summarize_poller])  # until handlers that feed each other's streams are quiet

What it does as Lambda does: records of a shard in order, in batches of at most `batch_size`; parent shards
before their children; FilterCriteria (records that match no pattern are skipped); ReportBatchItemFailures
(checkpoint before the lowest failed sequence number, retry from there); on an exception the batch is bisected
(BisectBatchOnFunctionError), a failing batch is retried `max_retry_attempts` times and then handed to
`on_failure` (the on-failure destination) and skipped. What it does differently: one thread per poller works
through the shards in turn (Lambda runs shards in parallel); retries follow at once, without backoff; after
each pass over the stream it waits `batching_window_s` (MaximumBatchingWindowInSeconds), so records written
meanwhile form the next batches; splitting a batch costs no retry attempt.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

Event = dict[str, Any]
Handler = Callable[[Event, Any], Any]
OnFailure = Callable[[Event, BaseException], None]

_MISSING = object()
_MAX_GET_RECORDS = 1000


class ReportedItemFailures(Exception):
    """The handler answered `{"batchItemFailures": [...]}` for these sequence numbers."""

    def __init__(self, sequence_numbers: Sequence[str]) -> None:
        super().__init__(f"the handler reported failed records {list(sequence_numbers)}")
        self.sequence_numbers = list(sequence_numbers)


class InvalidBatchResponse(Exception):
    """The handler reported an item failure Lambda cannot place (no, empty or unknown itemIdentifier).

    Lambda treats the whole batch as failed; so does the poller.
    """


@dataclass
class LocalLambdaContext:
    """What handlers (and Powertools' Logger) read from Lambda's context object."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_s: float = 900.0
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self.invoked_function_arn = self.invoked_function_arn or (
            f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        )
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


# --- FilterCriteria -------------------------------------------------------------------------------------------


def compile_patterns(patterns: Sequence[Mapping[str, Any] | str] | None) -> list[Mapping[str, Any]]:
    """FilterCriteria patterns, as dicts or as the JSON strings of a template's `Pattern`; checked up front."""
    compiled = [json.loads(p) if isinstance(p, str) else p for p in patterns or ()]
    for pattern in compiled:
        _check_pattern(pattern)
    return compiled


def matches_any(patterns: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Lambda's filter: no patterns let everything through; otherwise a record must match one of them."""
    return not patterns or any(matches(pattern, record) for pattern in patterns)


def matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """One event pattern against one record: every key must match; lists hold alternatives."""
    node = value if isinstance(value, Mapping) else {}
    for key, expected in pattern.items():
        actual = node.get(key, _MISSING)
        if isinstance(expected, Mapping):
            if not matches(expected, actual):
                return False
        elif not any(_matches_rule(rule, actual) for rule in expected):
            return False
    return True


def _matches_rule(rule: Any, actual: Any) -> bool:
    if isinstance(rule, Mapping):
        (operator, operand), *_ = rule.items()
        if operator == "exists":
            return (actual is not _MISSING) is bool(operand)
        if actual is _MISSING:
            return False
        if operator == "anything-but":
            excluded = operand if isinstance(operand, list) else [operand]
            return not any(_equals(item, actual) for item in excluded)
        return isinstance(actual, str) and actual.startswith(operand)  # prefix
    if isinstance(actual, list):
        return any(_equals(rule, item) for item in actual)
    return actual is not _MISSING and _equals(rule, actual)


def _equals(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


def _check_pattern(pattern: Any) -> None:
    if not isinstance(pattern, Mapping):
        raise ValueError(f"a filter pattern must be an object, not {pattern!r}")
    for key, expected in pattern.items():
        if isinstance(expected, Mapping):
            _check_pattern(expected)
        elif not isinstance(expected, list) or not expected:
            raise ValueError(f"filter pattern {key!r}: values must be a non-empty list, not {expected!r}")
        else:
            for rule in expected:
                if isinstance(rule, Mapping) and (len(rule) != 1 or next(iter(rule)) not in _OPERATORS):
                    raise ValueError(f"filter pattern {key!r}: unsupported rule {rule!r}")


_OPERATORS = frozenset({"exists", "anything-but", "prefix"})


# --- the event Lambda sends -----------------------------------------------------------------------------------


_RAW_RECORDS = "RawRecords"
_raw_reads = threading.local()  # set around a poller's own GetRecords: other users of the client see no change


def keep_records_raw(streams_client: Any) -> None:
    """Have the poller's GetRecords calls on this client return the records as the wire has them, in
    `RawRecords`: DynamoDB JSON with epoch-second times, the shape Lambda hands a function — instead of
    botocore's model-driven parse of every attribute of every image (a third of the cost of reading the stream
    locally), which `to_lambda_record` then turned back. Other calls on the client are untouched."""
    events = getattr(getattr(streams_client, "meta", None), "events", None)
    if events is not None:  # a botocore client (tests hand some pollers a scripted stand-in)
        events.register("before-parse.dynamodb-streams.GetRecords", _split_records,
                        unique_id="usage-poller-raw-records")


def _split_records(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    if not getattr(_raw_reads, "on", False) or response_dict.get("status_code") != 200:
        return
    body = json.loads(response_dict["body"])
    customized_response_dict[_RAW_RECORDS] = body.pop("Records", [])
    response_dict["body"] = json.dumps(body).encode()


def to_lambda_record(raw: Mapping[str, Any], *, stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record (as boto3 returns it, or raw from the wire) in the shape Lambda gives a function.

    Lambda adds `eventSourceARN`, writes `ApproximateCreationDateTime` as epoch seconds and `eventVersion`
    as "1.1" (moto's records say "1.0"); `awsRegion` is the region of the mapping (DynamoDB Local says
    "ddblocal").
    """
    stream = raw["dynamodb"]
    created = stream.get("ApproximateCreationDateTime")
    body: dict[str, Any] = {name: stream[name] for name in ("Keys", "NewImage", "OldImage") if name in stream}
    if created is not None:
        body["ApproximateCreationDateTime"] = int(created.timestamp() if hasattr(created, "timestamp") else created)
    body |= {name: stream[name] for name in ("SequenceNumber", "SizeBytes", "StreamViewType") if name in stream}
    record: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:  # deletions by TTL
        record["userIdentity"] = raw["userIdentity"]
    return record


# --- the poller -----------------------------------------------------------------------------------------------


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    checkpoint: str | None = None  # the last sequence number done with
    from_latest: bool = False
    finished: bool = False  # closed, and read to its end


class StreamPoller:
    """Delivers a table's stream records to `handler(event, context)` as a Lambda event source mapping does."""

    def __init__(
        self,
        dynamodb_client: Any,
        streams_client: Any,
        table_name: str,
        handler: Handler,
        *,
        batch_size: int = 100,
        batching_window_s: float = 0.5,
        filter_patterns: Sequence[Mapping[str, Any] | str] | None = None,
        bisect_on_error: bool = True,
        max_retry_attempts: int = 3,
        on_failure: OnFailure | None = None,
        starting_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON",
        report_batch_item_failures: bool = True,
        function_name: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be 1..10000")
        if max_retry_attempts < 0:
            raise ValueError("max_retry_attempts must be >= 0 (the local poller does not retry forever)")
        if starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError("starting_position must be TRIM_HORIZON or LATEST")
        self._dynamodb = dynamodb_client
        self._streams = streams_client
        keep_records_raw(streams_client)
        self.table_name = table_name
        self._handler = handler
        self.batch_size = batch_size
        self.batching_window_s = batching_window_s
        self._patterns = compile_patterns(filter_patterns)
        self.bisect_on_error = bisect_on_error
        self.max_retry_attempts = max_retry_attempts
        self._on_failure = on_failure
        self.starting_position = starting_position
        self.report_batch_item_failures = report_batch_item_failures
        self.function_name = function_name or f"{table_name}-{getattr(handler, '__name__', 'handler')}"
        self.region = region

        self.stream_arn: str | None = None
        self._shards: dict[str, _Shard] = {}
        self._lock = threading.Lock()  # one pass at a time
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._passes_started = 0
        self._passes_done = 0
        self._failed_pass = 0
        self._last_error: BaseException | None = None
        self._delivered = 0  # records whose invocations have all ended
        self._delivered_at_drain = 0

    # --- lifecycle ---

    def start(self) -> None:
        """Fix the starting position now, then poll from a daemon thread until `stop()`."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            self._open_stream()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"stream-poller-{self.function_name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the batch in hand; records not yet delivered stay in the stream for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"{self.function_name}: the poller did not stop within {timeout}s")
            self._thread = None
        with self._progress:
            self._progress.notify_all()

    def __enter__(self) -> StreamPoller:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def drain(self, timeout: float = 30.0) -> int:
        """Return once every record now in the stream has been handed to the handler and every invocation ended.

        With the thread running, wakes it and waits for a whole pass that began after this call; otherwise runs
        that pass here. Raises TimeoutError after `timeout` seconds, and the pass's error if it failed.
        Returns how many records were delivered since the previous drain returned: 0 means the stream was quiet
        (see `drain_all` for pollers whose handlers write to each other's streams).
        """
        if self._thread is None:
            self.run_once()
        else:
            self._wait_for_pass(timeout)
        delivered, self._delivered_at_drain = self._delivered - self._delivered_at_drain, self._delivered
        return delivered

    def _wait_for_pass(self, timeout: float) -> None:
        with self._progress:
            target = self._passes_started + 1
            self._wake.set()
            finished = self._progress.wait_for(
                lambda: self._passes_done >= target or self._stop.is_set(), timeout=timeout
            )
            if not finished:
                raise TimeoutError(f"{self.function_name}: the stream was not drained within {timeout}s")
            if self._passes_done < target:
                raise RuntimeError(f"{self.function_name}: the poller stopped before the stream was drained")
            if self._failed_pass >= target and self._last_error is not None:
                raise RuntimeError(f"{self.function_name}: polling failed") from self._last_error

    def run_once(self) -> int:
        """One pass, here and now: deliver everything in the stream, shard by shard, parents first.

        Returns how many records (after filtering) were handed to the handler for the first time.
        """
        return self._pass(threading.Event())

    def _pass(self, stop: threading.Event) -> int:
        with self._lock:
            self._open_stream()
            for shard in self._shards.values():
                if shard.checkpoint is not None or not shard.from_latest:
                    # each pass reads on from the checkpoint with an iterator of its own: one kept from the last
                    # pass may read a shard the store has since replaced (moto's TransactWriteItems rolls back
                    # a cancelled transaction by swapping in a copy of each table it touched, stream included)
                    shard.iterator = None
            delivered = 0
            while not stop.is_set():
                self._discover_shards()
                ready = self._ready_shards()
                for shard in ready:
                    delivered += self._consume(shard, stop)
                if not any(shard.finished for shard in ready):
                    break  # nothing closed, so no child shard became ready
            return delivered

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._progress:
                self._passes_started += 1
                number = self._passes_started
            error: BaseException | None = None
            try:
                self._pass(self._stop)
            except Exception as exc:  # the store is down, a shard vanished, on_failure raised: retry next pass
                logger.exception("%s: polling %s failed", self.function_name, self.table_name)
                error = exc
            with self._progress:
                if error is None and self._stop.is_set():
                    break  # an interrupted pass proves nothing
                self._passes_done = number
                if error is not None:
                    self._failed_pass, self._last_error = number, error
                self._progress.notify_all()
            self._wake.wait(max(self.batching_window_s, 0.05))
            self._wake.clear()

    # --- shards ---

    def _open_stream(self) -> None:
        if self.stream_arn is not None:
            return
        table = self._dynamodb.describe_table(TableName=self.table_name)["Table"]
        if not table.get("StreamSpecification", {}).get("StreamEnabled") or "LatestStreamArn" not in table:
            raise ValueError(f"table {self.table_name} has no stream enabled")
        self.stream_arn = table["LatestStreamArn"]
        self._discover_shards()
        if self.starting_position == "LATEST":
            for shard in self._shards.values():
                shard.from_latest = True
                shard.iterator = self._iterator(shard)

    def _discover_shards(self) -> None:
        request: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            for shard in description["Shards"]:
                if shard["ShardId"] not in self._shards:
                    self._shards[shard["ShardId"]] = _Shard(shard["ShardId"], shard.get("ParentShardId"))
            if not description.get("LastEvaluatedShardId"):
                return
            request["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]

    def _ready_shards(self) -> list[_Shard]:
        def parent_done(shard: _Shard) -> bool:
            parent = self._shards.get(shard.parent_id or "")
            return parent is None or parent.finished  # a parent trimmed from the stream is done

        return [shard for shard in self._shards.values() if not shard.finished and parent_done(shard)]

    def _iterator(self, shard: _Shard) -> str:
        request: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
        if shard.checkpoint is not None:
            request |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.checkpoint}
        else:
            request["ShardIteratorType"] = "LATEST" if shard.from_latest else "TRIM_HORIZON"
        return str(self._streams.get_shard_iterator(**request)["ShardIterator"])

    def _consume(self, shard: _Shard, stop: threading.Event) -> int:
        """Deliver a shard's records up to where it is caught up (or closed and finished)."""
        delivered = 0
        while not stop.is_set():
            batch, last_sequence, next_iterator, caught_up = self._read(shard)
            try:
                if batch:
                    self._deliver(batch)
            except BaseException:
                shard.iterator = None  # read again from the checkpoint next time
                raise
            delivered += len(batch)
            self._delivered += len(batch)
            shard.checkpoint, shard.iterator = last_sequence, next_iterator
            if next_iterator is None:
                shard.finished = True
                return delivered
            if caught_up:
                return delivered
        return delivered

    def _read(self, shard: _Shard) -> tuple[list[dict[str, Any]], str | None, str | None, bool]:
        """Up to `batch_size` records that pass the filter, the last sequence number read, the next iterator."""
        assert self.stream_arn is not None
        iterator: str | None = shard.iterator or self._iterator(shard)
        batch: list[dict[str, Any]] = []
        last_sequence = shard.checkpoint
        while iterator is not None and len(batch) < self.batch_size:
            try:
                limit = min(_MAX_GET_RECORDS, self.batch_size - len(batch))
                _raw_reads.on = True
                try:
                    response = self._streams.get_records(ShardIterator=iterator, Limit=limit)
                finally:
                    _raw_reads.on = False
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code == "TrimmedDataAccessException":
                    # what we were after is gone (or, on DynamoDB Local, a LATEST iterator taken while the shard was
                    # still empty now points before its first record): read from the oldest record left
                    shard.checkpoint = last_sequence = None
                    shard.from_latest = False
                elif code != "ExpiredIteratorException":
                    raise
                iterator = self._iterator(shard)
                continue
            records = response[_RAW_RECORDS] if _RAW_RECORDS in response else response["Records"]
            for raw in records:
                last_sequence = raw["dynamodb"]["SequenceNumber"]
                record = to_lambda_record(raw, stream_arn=self.stream_arn, region=self.region)
                if matches_any(self._patterns, record):
                    batch.append(record)
            iterator = response.get("NextShardIterator")
            if not records:
                return batch, last_sequence, iterator, True
        return batch, last_sequence, iterator, False

    # --- invocation, retries, bisection ---

    def _deliver(self, records: list[dict[str, Any]]) -> None:
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
                self._deliver(records[:middle])
                self._deliver(records[middle:])
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


def drain_all(pollers: Sequence[StreamPoller], timeout: float = 30.0, max_rounds: int = 50) -> None:
    """Drain pollers whose handlers write to each other's streams until a whole round delivers nothing."""
    for _ in range(max_rounds):
        if sum([poller.drain(timeout) for poller in pollers]) == 0:
            return
    raise RuntimeError(f"the stream pollers were still busy after {max_rounds} rounds of draining")
