"""TransactWriteItems through the toolkit (``infra.dynamo_kit.transact_write``) on the store the suite runs on —
moto as it ships or Amazon DynamoDB Local: all or nothing, each cancellation reason tied to the item it is about,
stream records only for what was written, and racing transactions each cancelled or applied whole (on moto, the
embedded store answers one request at a time: ``local.embedded``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.dynamo_kit import TransactionCancelled, transact_write
from tests.stores import Clients, make_clients, unique_name


@pytest.fixture
def clients(store_endpoint: str) -> Clients:
    return make_clients(store_endpoint)


@pytest.fixture
def table(clients: Clients) -> Iterator[str]:
    name = unique_name("tx")
    clients.dynamodb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    clients.dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    yield name
    clients.dynamodb.delete_table(TableName=name)


def put(table: str, key: str, value: str = "new") -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": {"pk": {"S": key}, "v": {"S": value}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}


def stream_events(clients: Clients, table: str) -> list[tuple[str, str]]:
    arn = clients.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    events = []
    for shard in clients.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = clients.streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        for record in clients.streams.get_records(ShardIterator=iterator)["Records"]:
            events.append((record["eventName"], record["dynamodb"]["Keys"]["pk"]["S"]))
    return events


def stored(clients: Clients, table: str, key: str) -> bool:
    return "Item" in clients.dynamodb.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)


def test_a_failed_condition_cancels_everything_and_the_reason_names_its_item(clients: Clients, table: str) -> None:
    # GIVEN an existing item
    clients.dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"S": "old"}})
    # WHEN a transaction inserts b, a, c with attribute_not_exists
    items = [put(table, k) for k in "bac"]
    with pytest.raises(TransactionCancelled) as cancelled:
        transact_write(clients.dynamodb, items)
    # THEN it is cancelled with the reason on item a (carrying the old item), none on the others, and nothing of
    # it was written, in the table or in its stream
    assert cancelled.value.codes == ["None", "ConditionalCheckFailed", "None"]
    assert cancelled.value.failed("ConditionalCheckFailed") == [items[1]]
    reason = cancelled.value.reason_for(items[1])
    assert reason is not None and reason.old_item == {"pk": {"S": "a"}, "v": {"S": "old"}}
    assert not stored(clients, table, "b") and not stored(clients, table, "c")
    assert stream_events(clients, table) == [("INSERT", "a")]


def test_a_failure_half_way_leaves_no_trace(clients: Clients, table: str) -> None:
    # GIVEN a transaction whose second item is an update that can only fail once applied (a string plus a number)
    clients.dynamodb.put_item(TableName=table, Item={"pk": {"S": "u"}, "n": {"S": "text"}})
    items = [put(table, "x"), {"Update": {"TableName": table, "Key": {"pk": {"S": "u"}},
                                          "UpdateExpression": "SET n = n + :one",
                                          "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    # WHEN it is sent THEN it fails, and neither the insert nor a stream record of it remains
    with pytest.raises(ClientError):
        transact_write(clients.dynamodb, items)
    assert not stored(clients, table, "x")
    assert stream_events(clients, table) == [("INSERT", "u")]


def test_racing_transactions_on_the_same_keys_are_each_applied_whole_or_cancelled(
        clients: Clients, table: str) -> None:
    # GIVEN four writers racing to insert the same 50 keys, each tagging the items with its name
    outcomes: dict[str, str] = {}
    start = threading.Barrier(4)

    def race(tag: str) -> None:
        client = make_clients(clients.dynamodb.meta.endpoint_url).dynamodb
        start.wait()
        try:
            transact_write(client, [put(table, f"k{i}", tag) for i in range(50)])
            outcomes[tag] = "applied"
        except ClientError as exc:
            outcomes[tag] = exc.response["Error"]["Code"]

    threads = [threading.Thread(target=race, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # THEN every writer got an answer of the store (no server error), at most one was applied, and if one was,
    # all 50 items are its own and each was inserted exactly once
    assert sorted(outcomes) == ["w0", "w1", "w2", "w3"]
    assert set(outcomes.values()) <= {"applied", "TransactionCanceledException"}, outcomes
    winners = [tag for tag, outcome in outcomes.items() if outcome == "applied"]
    assert len(winners) <= 1
    events = stream_events(clients, table)
    if winners:
        values = {clients.dynamodb.get_item(TableName=table, Key={"pk": {"S": f"k{i}"}})["Item"]["v"]["S"]
                  for i in range(50)}
        assert values == set(winners)
        assert sorted(events) == sorted(("INSERT", f"k{i}") for i in range(50))
    else:
        assert events == []


def test_a_stream_poller_reads_on_after_a_cancelled_transaction(clients: Clients, table: str) -> None:
    # GIVEN a poller that has delivered the table's first record
    from local.streams import StreamPoller

    delivered: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        delivered.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])
        return {"batchItemFailures": []}

    poller = StreamPoller(clients.dynamodb, clients.streams, table, handler, batching_window_s=0)
    clients.dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"S": "old"}})
    poller.drain()
    # WHEN a transaction on the table is cancelled (moto rolls it back by swapping in a copy of the table, stream
    # included) and a record is written after it
    with pytest.raises(TransactionCancelled):
        transact_write(clients.dynamodb, [put(table, "x"), put(table, "a")])
    clients.dynamodb.put_item(TableName=table, Item={"pk": {"S": "b"}, "v": {"S": "new"}})
    # THEN the poller delivers it, and nothing of the cancelled transaction
    poller.drain()
    assert delivered == ["a", "b"]
