"""The local stack: the StreamPoller delivers stream records as Lambda's event source mapping would,
on moto's server and on Amazon DynamoDB Local alike."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
    StreamViewType,
)
from botocore.exceptions import ClientError

from local.streams import InvalidBatchResponse, ReportedItemFailures, StreamPoller, drain_all, matches
from tests.stores import STORE_KINDS, Clients, make_clients, store_endpoint, unique_name

Event = dict[str, Any]

# The shape `sam local generate-event dynamodb update` produces.
RECORD_KEYS = {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"}
STREAM_RECORD_KEYS = {"ApproximateCreationDateTime", "Keys", "SequenceNumber", "SizeBytes", "StreamViewType"}


@pytest.fixture(scope="module", params=STORE_KINDS)
def clients(request: pytest.FixtureRequest) -> Iterator[Clients]:
    if request.param == "dynamodb-local" and shutil.which("java") is None:
        pytest.skip("DynamoDB Local needs java")
    with store_endpoint(request.param) as endpoint:
        yield make_clients(endpoint)


@pytest.fixture
def table(clients: Clients) -> Iterator[str]:
    name = unique_name("stream-test")
    clients.dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    clients.dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    yield name
    clients.dynamodb.delete_table(TableName=name)


class Recorder:
    """A handler that keeps every batch it was given; `fail(record, attempt)` may raise or mark it failed."""

    def __init__(self, fail: Callable[[Event, int], bool] | None = None) -> None:
        self.batches: list[list[Event]] = []
        self.fail = fail or (lambda record, attempt: False)
        self.seen: dict[str, int] = {}

    def __call__(self, event: Event, context: Any) -> Event:
        self.batches.append(event["Records"])
        failures = []
        for record in event["Records"]:
            sequence = record["dynamodb"]["SequenceNumber"]
            self.seen[sequence] = self.seen.get(sequence, 0) + 1
            if self.fail(record, self.seen[sequence]):
                failures.append({"itemIdentifier": sequence})
        return {"batchItemFailures": failures}

    @property
    def keys(self) -> list[list[str]]:
        return [[pk(record) for record in batch] for batch in self.batches]

    @property
    def records(self) -> list[Event]:
        return [record for batch in self.batches for record in batch]


def pk(record: Event) -> str:
    return str(record["dynamodb"]["Keys"]["pk"]["S"])


def put(clients: Clients, table: str, key: str, **attributes: str) -> None:
    item = {"pk": {"S": key}} | {name: {"S": value} for name, value in attributes.items()}
    clients.dynamodb.put_item(TableName=table, Item=item)


def poller(clients: Clients, table: str, handler: Any, **options: Any) -> StreamPoller:
    return StreamPoller(clients.dynamodb, clients.streams, table, handler, **options)


# --- event shape and order -------------------------------------------------------------------------------------


def test_records_read_raw_are_what_the_parsed_response_would_give_and_other_calls_are_untouched(
    clients: Clients, table: str
) -> None:
    # GIVEN an item of every attribute type, inserted then changed
    from local.streams import to_lambda_record

    item = {"pk": {"S": "t"}, "n": {"N": "1.50"}, "flag": {"BOOL": True}, "none": {"NULL": True},
            "list": {"L": [{"S": "x"}, {"N": "2"}]}, "map": {"M": {"k": {"S": "v"}}}, "set": {"SS": ["a", "b"]},
            "nums": {"NS": ["1", "2"]}}
    clients.dynamodb.put_item(TableName=table, Item=item)
    clients.dynamodb.put_item(TableName=table, Item={**item, "n": {"N": "2"}})
    # WHEN a poller delivers them (reading raw) and the same client is asked for the records directly
    recorder = Recorder()
    running = poller(clients, table, recorder, batching_window_s=0)
    running.drain()
    arn = clients.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = clients.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = clients.streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    parsed = clients.streams.get_records(ShardIterator=iterator)
    # THEN the direct call still gets botocore's parsed records, and the poller delivered the same events
    assert "RawRecords" not in parsed and len(parsed["Records"]) == 2
    expected = [to_lambda_record(r, stream_arn=arn, region=running.region) for r in parsed["Records"]]

    def comparable(record: Event) -> Event:  # set members come in no fixed order
        def value(v: dict[str, Any]) -> Any:
            return sorted(v.get("SS") or v.get("NS") or []) or v

        images = {k: {name: value(v) for name, v in image.items()}
                  for k, image in record["dynamodb"].items() if k in ("NewImage", "OldImage")}
        return {**record, "dynamodb": {**record["dynamodb"], **images}}

    assert [comparable(r) for r in recorder.records] == [comparable(r) for r in expected]




def test_poller_delivers_inserts_modifies_and_removes_in_order_in_lambda_event_shape(
    clients: Clients, table: str
) -> None:
    # GIVEN a poller running in the background
    recorder = Recorder()
    with poller(clients, table, recorder, batching_window_s=0.1) as running:
        # WHEN two items are inserted, modified and one of them removed
        put(clients, table, "a", status="NEW")
        put(clients, table, "b", status="NEW")
        put(clients, table, "a", status="PROCESSED")
        clients.dynamodb.delete_item(TableName=table, Key={"pk": {"S": "a"}})
        clients.dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": "b"}},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "ERROR"}},
        )
        running.drain()

    # THEN each change arrives once, in order per key, in the shape Lambda sends
    records = recorder.records
    assert [(pk(r), r["eventName"]) for r in records if pk(r) == "a"] == [
        ("a", "INSERT"),
        ("a", "MODIFY"),
        ("a", "REMOVE"),
    ]
    assert [(pk(r), r["eventName"]) for r in records if pk(r) == "b"] == [("b", "INSERT"), ("b", "MODIFY")]
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence_numbers == sorted(sequence_numbers) and len(set(sequence_numbers)) == 5
    for raw in records:
        assert set(raw) == RECORD_KEYS
        images = {"INSERT": {"NewImage"}, "MODIFY": {"NewImage", "OldImage"}, "REMOVE": {"OldImage"}}
        assert set(raw["dynamodb"]) == STREAM_RECORD_KEYS | images[raw["eventName"]]
        assert isinstance(raw["dynamodb"]["ApproximateCreationDateTime"], int)
        assert isinstance(raw["dynamodb"]["SizeBytes"], int)
    event = DynamoDBStreamEvent(json.loads(json.dumps({"Records": records})))  # survives JSON, as on Lambda
    parsed = list(event.records)
    for record in parsed:
        assert record.event_version == "1.1"
        assert record.event_source == "aws:dynamodb"
        assert record.aws_region == "us-east-1"
        assert record.event_source_arn == running.stream_arn
        assert record.dynamodb is not None
        assert record.dynamodb.stream_view_type == StreamViewType.NEW_AND_OLD_IMAGES
        assert record.dynamodb.approximate_creation_date_time is not None
        assert record.dynamodb.approximate_creation_date_time > 1_600_000_000
    [modify_a] = [r for r in parsed if r.event_name == DynamoDBRecordEventName.MODIFY and pk(r.raw_event) == "a"]
    assert modify_a.dynamodb is not None and modify_a.dynamodb.keys == {"pk": "a"}
    assert modify_a.dynamodb.old_image == {"pk": "a", "status": "NEW"}
    assert modify_a.dynamodb.new_image == {"pk": "a", "status": "PROCESSED"}


def test_starting_position_latest_skips_records_written_before_start(clients: Clients, table: str) -> None:
    # GIVEN a record written before the poller starts at LATEST
    put(clients, table, "before")
    recorder = Recorder()
    with poller(clients, table, recorder, starting_position="LATEST") as running:
        # WHEN another is written after it started
        put(clients, table, "after")
        running.drain()
    # THEN only the later one is delivered
    assert recorder.keys == [["after"]]


# --- FilterCriteria --------------------------------------------------------------------------------------------

RATE_FILTER = '{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["NEW"]}}}}'
SETTLED_FILTER: dict[str, Any] = {
    "dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["NEW"]}]}, "error": [{"exists": False}]}}
}


def test_pollers_on_one_table_each_see_only_what_their_filter_matches(clients: Clients, table: str) -> None:
    # GIVEN three pollers on one stream: two filtered, one not
    rate, settled, everything = Recorder(), Recorder(), Recorder()
    pollers = [
        poller(clients, table, rate, filter_patterns=[RATE_FILTER]),
        poller(clients, table, settled, filter_patterns=[SETTLED_FILTER]),
        poller(clients, table, everything),
    ]
    # WHEN records are inserted, modified, failed and removed
    put(clients, table, "u1", status="NEW")
    put(clients, table, "u2", status="NEW")
    put(clients, table, "u2", status="PROCESSED")
    put(clients, table, "u3", status="ERROR", error="UNKNOWN_RESOURCE")
    clients.dynamodb.delete_item(TableName=table, Key={"pk": {"S": "u1"}})
    for each in pollers:
        each.drain()

    # THEN each sees its own selection, and nothing is lost for the unfiltered one
    assert [(pk(r), r["eventName"]) for r in rate.records] == [("u1", "INSERT"), ("u2", "INSERT")]
    assert [(pk(r), r["eventName"]) for r in settled.records] == [("u2", "MODIFY")]
    assert [pk(r) for r in everything.records] == ["u1", "u2", "u2", "u3", "u1"]


@pytest.mark.parametrize(
    ("pattern", "record", "expected"),
    [
        ({"eventName": ["INSERT", "MODIFY"]}, {"eventName": "MODIFY"}, True),
        ({"eventName": ["INSERT"]}, {"eventName": "REMOVE"}, False),
        ({"eventName": ["INSERT"]}, {}, False),
        ({"a": {"b": {"S": ["x"]}}}, {"a": {"b": {"S": "x"}}}, True),
        ({"a": {"b": {"S": ["x"]}}}, {"a": {"c": {"S": "x"}}}, False),
        ({"a": [{"exists": True}]}, {"a": {"S": "x"}}, True),
        ({"a": [{"exists": True}]}, {}, False),
        ({"a": {"b": [{"exists": False}]}}, {}, True),
        ({"a": [{"exists": False}]}, {"a": "x"}, False),
        ({"a": [{"anything-but": ["x", "y"]}]}, {"a": "z"}, True),
        ({"a": [{"anything-but": ["x", "y"]}]}, {"a": "y"}, False),
        ({"a": [{"anything-but": "x"}]}, {}, False),
        ({"a": [{"prefix": "TEN#"}]}, {"a": "TEN#1"}, True),
        ({"a": [True]}, {"a": True}, True),
        ({"a": [1]}, {"a": True}, False),
        ({"a": ["1"]}, {"a": 1}, False),
        ({"a": ["x"], "b": ["y"]}, {"a": "x", "b": "n"}, False),
    ],
)
def test_filter_pattern_semantics(pattern: dict[str, Any], record: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, record) is expected


def test_a_malformed_filter_pattern_is_refused_up_front() -> None:
    patterns: list[Any] = ['{"eventName": "INSERT"}', {"a": [{"numeric": [">", 1]}]}, {"a": []}]
    for pattern in patterns:
        with pytest.raises(ValueError):
            StreamPoller(None, None, "t", lambda event, context: None, filter_patterns=[pattern])


# --- failures --------------------------------------------------------------------------------------------------


def powertools_handler(fail: Callable[[DynamoDBRecord, int], bool], seen: list[str]) -> Callable[[Event, Any], Any]:
    """A handler written the way functions/ are: Powertools' BatchProcessor with partial batch responses."""
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    attempts: dict[str, int] = {}

    def record_handler(record: DynamoDBRecord) -> None:
        assert record.dynamodb is not None
        key = record.dynamodb.keys["pk"]
        attempts[key] = attempts.get(key, 0) + 1
        seen.append(key)
        if fail(record, attempts[key]):
            raise ValueError(f"cannot process {key}")

    def handler(event: Event, context: Any) -> Any:
        return process_partial_response(event, record_handler, processor, context)

    return handler


def test_a_partial_batch_failure_redelivers_the_failed_record_and_those_after_it(clients: Clients, table: str) -> None:
    # GIVEN a Powertools handler that fails r3 on its first attempt
    seen: list[str] = []
    handler = powertools_handler(lambda record, attempt: record.dynamodb.keys["pk"] == "r3" and attempt == 1, seen)  # type: ignore[union-attr]
    batches = Recorder()

    def recorded(event: Event, context: Any) -> Any:
        batches(event, context)
        return handler(event, context)

    for key in ["r1", "r2", "r3", "r4", "r5"]:
        put(clients, table, key)
    # WHEN the poller delivers them in one batch
    poller(clients, table, recorded, batch_size=10).drain()
    # THEN r3 and what follows it are redelivered, nothing before it
    assert batches.keys == [["r1", "r2", "r3", "r4", "r5"], ["r3", "r4", "r5"]]
    assert seen == ["r1", "r2", "r3", "r4", "r5", "r3", "r4", "r5"]


def test_a_record_failing_past_its_retries_goes_to_on_failure_with_the_rest_of_its_batch(
    clients: Clients, table: str
) -> None:
    # GIVEN a handler that always reports r2 failed, and one retry
    recorder = Recorder(fail=lambda record, attempt: pk(record) == "r2")
    failed: list[tuple[Event, BaseException]] = []
    for key in ["r1", "r2", "r3"]:
        put(clients, table, key)
    # WHEN the batch is delivered
    poller(clients, table, recorder, max_retry_attempts=1, on_failure=lambda e, err: failed.append((e, err))).drain()
    # THEN r2 is tried twice, then r2 and r3 are handed over, as Lambda discards the rest of the batch
    assert recorder.keys == [["r1", "r2", "r3"], ["r2", "r3"]]
    [(event, error)] = failed
    assert [pk(r) for r in event["Records"]] == ["r2", "r3"]
    assert isinstance(error, ReportedItemFailures)
    assert error.sequence_numbers == [event["Records"][0]["dynamodb"]["SequenceNumber"]]


@pytest.mark.parametrize(
    ("bisect", "expected_batches", "expected_failed"),
    [
        (
            True,
            [["p1", "p2", "p3", "p4"], ["p1", "p2"], ["p3", "p4"], ["p3"], ["p3"], ["p3"], ["p4"]],
            ["p3"],
        ),
        (False, [["p1", "p2", "p3", "p4"]] * 3, ["p1", "p2", "p3", "p4"]),
    ],
)
def test_an_exception_bisects_the_batch_retries_and_finally_reaches_on_failure(
    clients: Clients, table: str, bisect: bool, expected_batches: list[list[str]], expected_failed: list[str]
) -> None:
    # GIVEN a handler that raises whenever p3 is in its batch, and two retries
    batches: list[list[str]] = []

    def handler(event: Event, context: Any) -> None:
        assert context.get_remaining_time_in_millis() > 0 and context.aws_request_id
        batches.append([pk(r) for r in event["Records"]])
        if "p3" in batches[-1]:
            raise ValueError("poison")

    failed: list[tuple[Event, BaseException]] = []
    for key in ["p1", "p2", "p3", "p4"]:
        put(clients, table, key)
    # WHEN the batch is delivered
    poller(
        clients,
        table,
        handler,
        bisect_on_error=bisect,
        max_retry_attempts=2,
        on_failure=lambda event, error: failed.append((event, error)),
    ).drain()
    # THEN the batch is split down to p3, which is retried twice and then handed to on_failure once
    assert batches == expected_batches
    [(event, error)] = failed
    assert [pk(r) for r in event["Records"]] == expected_failed
    assert isinstance(error, ValueError)


def test_an_unknown_item_identifier_fails_the_whole_batch(clients: Clients, table: str) -> None:
    # GIVEN a handler that names a record that is not in its batch
    batches: list[list[str]] = []

    def handler(event: Event, context: Any) -> Event:
        batches.append([pk(r) for r in event["Records"]])
        return {"batchItemFailures": [{"itemIdentifier": "not-a-sequence-number"}]}

    failed: list[BaseException] = []
    put(clients, table, "x")
    poller(clients, table, handler, max_retry_attempts=1, on_failure=lambda e, err: failed.append(err)).drain()
    # THEN Lambda's rule applies: the batch failed as a whole
    assert batches == [["x"], ["x"]]
    assert [type(error) for error in failed] == [InvalidBatchResponse]


# --- drain -----------------------------------------------------------------------------------------------------


def test_drain_wakes_the_poller_and_waits_for_the_invocation_in_flight(clients: Clients, table: str) -> None:
    # GIVEN a background poller that would otherwise idle for a minute, and a handler held at a gate
    gate = threading.Event()
    finished: list[str] = []

    def handler(event: Event, context: Any) -> None:
        gate.wait(30)
        finished.extend(pk(r) for r in event["Records"])

    with poller(clients, table, handler, batching_window_s=60) as running:
        put(clients, table, "k1")
        # WHEN drain is asked while the invocation cannot finish
        with pytest.raises(TimeoutError):
            running.drain(timeout=0.5)
        # THEN it returns only once the invocation has ended
        gate.set()
        running.drain()
        assert finished == ["k1"]
        # AND a later drain covers what was written since
        put(clients, table, "k2")
        put(clients, table, "k3")
        running.drain()
        assert finished == ["k1", "k2", "k3"]


def test_drain_all_settles_pollers_whose_handlers_feed_each_other(clients: Clients, table: str) -> None:
    # GIVEN one poller that marks new items processed (a MODIFY) and another that only reads MODIFYs
    def mark_processed(event: Event, context: Any) -> None:
        for record in event["Records"]:
            put(clients, table, pk(record), status="PROCESSED")

    modified = Recorder()
    first = poller(clients, table, mark_processed, batching_window_s=60, filter_patterns=['{"eventName": ["INSERT"]}'])
    second = poller(clients, table, modified, batching_window_s=60, filter_patterns=['{"eventName": ["MODIFY"]}'])
    with first, second:
        for key in ["n1", "n2", "n3"]:
            put(clients, table, key, status="NEW")
        # WHEN both are drained, the reader first
        drain_all([second, first])
        # THEN the reader has seen what the writer's handler wrote, and another drain finds nothing new
        assert sorted(pk(r) for r in modified.records) == ["n1", "n2", "n3"]
        assert second.drain() == 0 and first.drain() == 0


def test_drain_reports_a_failed_pass(clients: Clients, table: str) -> None:
    # GIVEN an on-failure destination that is broken
    def broken(event: Event, error: BaseException) -> None:
        raise RuntimeError("destination unavailable")

    def handler(event: Event, context: Any) -> None:
        raise ValueError("poison")

    put(clients, table, "x")
    # WHEN the poller drains, THEN the failure surfaces
    running = poller(clients, table, handler, max_retry_attempts=0, on_failure=broken)
    with running, pytest.raises(RuntimeError, match="polling failed"):
        running.drain()


# --- shard lineage, on a scripted stream -----------------------------------------------------------------------


class ScriptedStream:
    """DescribeStream/GetShardIterator/GetRecords over shards the test lays out; one shard per page."""

    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"

    def __init__(self) -> None:
        self.shards: dict[str, dict[str, Any]] = {}
        self.expire_next_read = False
        self.trim_next_read = False

    def add_shard(self, shard_id: str, parent: str | None = None, keys: tuple[str, ...] = ()) -> None:
        self.shards[shard_id] = {"parent": parent, "records": [], "closed": False}
        for key in keys:
            self.write(shard_id, key)

    def write(self, shard_id: str, key: str) -> None:
        sequence = str(1000 + sum(len(s["records"]) for s in self.shards.values()))
        raw: dict[str, Any] = {"eventID": key, "eventName": "INSERT", "eventVersion": "1.1"}
        raw["dynamodb"] = {"Keys": {"pk": {"S": key}}, "SequenceNumber": sequence, "SizeBytes": 1}
        self.shards[shard_id]["records"].append(raw)

    def describe_table(self, TableName: str) -> Event:
        return {"Table": {"StreamSpecification": {"StreamEnabled": True}, "LatestStreamArn": self.arn}}

    def describe_stream(self, StreamArn: str, ExclusiveStartShardId: str | None = None) -> Event:
        ids = list(self.shards)
        start = ids.index(ExclusiveStartShardId) + 1 if ExclusiveStartShardId else 0
        page: list[dict[str, Any]] = [
            {"ShardId": shard_id, "SequenceNumberRange": {}} for shard_id in ids[start : start + 1]
        ]
        for shard in page:
            parent = self.shards[str(shard["ShardId"])]["parent"]
            if parent:
                shard["ParentShardId"] = parent
        last = {"LastEvaluatedShardId": ids[start]} if start + 1 < len(ids) else {}
        return {"StreamDescription": {"Shards": page, **last}}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str, **position: str) -> Event:
        records = self.shards[ShardId]["records"]
        sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
        at = {"TRIM_HORIZON": 0, "LATEST": len(records)}.get(ShardIteratorType)
        if at is None:
            at = sequences.index(position["SequenceNumber"]) + 1
        return {"ShardIterator": f"{ShardId}|{at}"}

    def get_records(self, ShardIterator: str, Limit: int) -> Event:
        if self.expire_next_read:
            self.expire_next_read = False
            raise ClientError({"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}}, "GetRecords")
        if self.trim_next_read:
            self.trim_next_read = False
            raise ClientError({"Error": {"Code": "TrimmedDataAccessException", "Message": "read past the oldest"}},
                              "GetRecords")
        shard_id, at = ShardIterator.split("|")
        shard = self.shards[shard_id]
        records = shard["records"][int(at) : int(at) + Limit]
        end = int(at) + len(records)
        done = shard["closed"] and end == len(shard["records"])
        return {"Records": records, **({} if done else {"NextShardIterator": f"{shard_id}|{end}"})}


def test_parent_shards_are_read_to_their_end_before_their_children() -> None:
    # GIVEN a closed parent listed after its open child, and a shard whose parent was trimmed away
    stream = ScriptedStream()
    stream.add_shard("child", parent="parent", keys=("c1",))
    stream.add_shard("parent", keys=("p1", "p2"))
    stream.shards["parent"]["closed"] = True
    stream.add_shard("orphan", parent="trimmed", keys=("o1",))
    recorder = Recorder()
    local = StreamPoller(stream, stream, "t", recorder, batch_size=1)
    # WHEN the poller runs
    local.run_once()
    # THEN the parent's records come before the child's
    order = [key for batch in recorder.keys for key in batch]
    assert order.index("p2") < order.index("c1") and sorted(order) == ["c1", "o1", "p1", "p2"]

    # GIVEN the child closes after one more record and a grandchild appears, and an iterator expires
    stream.write("child", "c2")
    stream.shards["child"]["closed"] = True
    stream.add_shard("grandchild", parent="child", keys=("g1",))
    stream.expire_next_read = True
    # WHEN the poller runs again
    local.run_once()
    # THEN it continues from its checkpoint, and the grandchild follows the rest of the child
    order = [key for batch in recorder.keys for key in batch]
    assert order[4:] == ["c2", "g1"]


def test_a_latest_iterator_that_turns_out_trimmed_reads_from_the_oldest_record_left() -> None:
    # GIVEN a poller started at LATEST on a shard nothing was written to yet
    stream = ScriptedStream()
    stream.add_shard("only")
    recorder = Recorder()
    local = StreamPoller(stream, stream, "t", recorder, starting_position="LATEST")
    local.run_once()
    # WHEN records are written and its iterator then reads as trimmed (what DynamoDB Local answers for a LATEST
    # iterator taken on a shard that was still empty)
    stream.write("only", "first")
    stream.write("only", "second")
    stream.trim_next_read = True
    local.run_once()
    # THEN it reads from the oldest record left, not from a new LATEST: nothing written after it started is lost
    assert [key for batch in recorder.keys for key in batch] == ["first", "second"]
