"""TransactWriteItems on the embedded moto store (local.moto_transactions): all or nothing, reasons per
item, stream records only for what was written, and concurrent transactions serialised."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.embedded import start_moto_server
from tests.stores import Clients, make_clients, unique_name


@pytest.fixture(scope="module")
def clients() -> Iterator[Clients]:
    with start_moto_server() as store:
        yield make_clients(store.endpoint)


@pytest.fixture
def table(clients: Clients) -> str:
    name = unique_name("tx")
    clients.dynamodb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    return name


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


def test_a_failed_condition_cancels_everything_with_a_reason_per_item(clients: Clients, table: str) -> None:
    # GIVEN an existing item
    clients.dynamodb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"S": "old"}})
    # WHEN a transaction inserts b, a, c with attribute_not_exists
    with pytest.raises(ClientError) as cancelled:
        clients.dynamodb.transact_write_items(TransactItems=[put(table, k) for k in "bac"])
    # THEN it is cancelled with one reason per item, the old item for the failed one, and nothing was written
    reasons = cancelled.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed", "None"]
    assert reasons[1]["Item"] == {"pk": {"S": "a"}, "v": {"S": "old"}}
    assert "Item" not in clients.dynamodb.get_item(TableName=table, Key={"pk": {"S": "b"}})
    assert stream_events(clients, table) == [("INSERT", "a")]


def test_a_failure_half_way_leaves_no_trace(clients: Clients, table: str) -> None:
    # GIVEN a transaction whose second update is invalid (it only fails when applied)
    clients.dynamodb.put_item(TableName=table, Item={"pk": {"S": "u"}, "n": {"S": "text"}})
    items = [put(table, "x"), {"Update": {"TableName": table, "Key": {"pk": {"S": "u"}},
                                          "UpdateExpression": "SET n = n + :one",
                                          "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    # WHEN it runs THEN it fails and neither the insert nor its stream record remains
    with pytest.raises(ClientError):
        clients.dynamodb.transact_write_items(TransactItems=items)
    assert "Item" not in clients.dynamodb.get_item(TableName=table, Key={"pk": {"S": "x"}})
    assert stream_events(clients, table) == [("INSERT", "u")]


def test_concurrent_transactions_on_the_same_keys_write_each_item_once(clients: Clients, table: str) -> None:
    # GIVEN four writers racing to insert the same 50 keys
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def race(tag: str) -> None:
        client = make_clients(clients.dynamodb.meta.endpoint_url).dynamodb
        start.wait()
        try:
            client.transact_write_items(TransactItems=[put(table, f"k{i}", tag) for i in range(50)])
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=race, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # THEN exactly one wins, the others are cancelled, and each key has exactly one INSERT
    assert sorted(outcomes) == ["TransactionCanceledException"] * 3 + ["ok"]
    events = stream_events(clients, table)
    assert sorted(events) == sorted(("INSERT", f"k{i}") for i in range(50))


@pytest.mark.parametrize("bad_item, message", [
    ({"Update": {"UpdateExpression": "SET v = :v", "ExpressionAttributeNames": {"#unused": "v"},
                 "ExpressionAttributeValues": {":v": {"S": "x"}}}}, "unused in expressions: keys: {#unused}"),
    ({"Update": {"UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {}}}, "ExpressionAttributeValues"),
    ({"Put": {"Item": {"pk": {"S": ""}}}}, "may not contain an empty string"),
    ({"Put": {"Item": {"pk": {"S": "p"}}, "ConditionExpression": "attribute_not_exists(pk)",
              "ExpressionAttributeNames": {"#k": "pk"}}}, "unused in expressions: keys: {#k}"),
])
def test_requests_are_validated_as_moto_validates_them_even_when_the_expressions_repeat(
        clients: Clients, table: str, bad_item: dict[str, Any], message: str) -> None:
    # GIVEN a valid transaction using an expression, run twice (its parse is remembered)
    good = {"Update": {"TableName": table, "Key": {"pk": {"S": "g"}}, "UpdateExpression": "SET #v = :v",
                       "ExpressionAttributeNames": {"#v": "v"}, "ExpressionAttributeValues": {":v": {"S": "x"}}}}
    for _ in range(2):
        clients.dynamodb.transact_write_items(TransactItems=[good])
    # WHEN a transaction holds an invalid item (an unused name in an update or a condition, empty values, an empty
    # key) THEN it is refused as moto refuses it, twice alike
    kind = next(iter(bad_item))
    op = {"TableName": table, **({"Key": {"pk": {"S": "b"}}} if kind == "Update" else {}), **bad_item[kind]}
    for _ in range(2):
        with pytest.raises(ClientError, match=message.replace("{", r"\{").replace("}", r"\}")):
            clients.dynamodb.transact_write_items(TransactItems=[{kind: op}])
    assert "Item" not in clients.dynamodb.get_item(TableName=table, Key={"pk": {"S": "b"}})
