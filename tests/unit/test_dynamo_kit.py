"""The data-access toolkit against a stubbed DynamoDB client (botocore's Stubber): every request it sends is
checked, so these tests also pin what goes on the wire."""

from __future__ import annotations

import json
from decimal import Decimal, DecimalException
from enum import StrEnum
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import Binary, TypeSerializer
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from infra.dynamo_kit import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    TransactionCancelled,
    UnprocessedKeysError,
    backoff_delay,
    batch_get,
    cancellation_codes,
    expression_values,
    from_attributes,
    is_cancelled,
    key,
    query_all,
    query_pages,
    scan_all,
    to_attribute,
    to_attributes,
    transact_write,
)


@pytest.fixture
def client() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _key(n: int) -> dict[str, Any]:
    return {"pk": {"S": f"P#{n}"}, "sk": {"S": "S"}}


def test_query_follows_last_evaluated_key_until_the_last_page(client: Any) -> None:
    # GIVEN a Query answered in two pages
    request = {"TableName": "t", "KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "P"}}}
    with Stubber(client) as stub:
        stub.add_response("query", {"Items": [_key(1)], "LastEvaluatedKey": _key(1)}, request)
        stub.add_response("query", {"Items": [_key(2)]}, {**request, "ExclusiveStartKey": _key(1)})
        # WHEN every item is asked for
        items = query_all(client, **request)
        # THEN both pages were read, the second from where the first stopped
        stub.assert_no_pending_responses()
    assert items == [_key(1), _key(2)]


def test_query_pages_reads_no_page_the_caller_does_not_ask_for(client: Any) -> None:
    request = {"TableName": "t", "KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "P"}}}
    found: list[dict[str, Any]] = []
    with Stubber(client) as stub:
        # GIVEN a first page of Limit 3 that holds 2 items, and a second of Limit 1 (3 - 2)
        stub.add_response("query", {"Items": [_key(1), _key(2)], "LastEvaluatedKey": _key(2)}, {**request, "Limit": 3})
        stub.add_response("query", {"Items": [_key(3)], "LastEvaluatedKey": _key(3)},
                          {**request, "Limit": 1, "ExclusiveStartKey": _key(2)})
        # WHEN the caller stops once it has three
        for page in query_pages(client, request, next_limit=lambda: 3 - len(found)):
            found.extend(page["Items"])
            if len(found) >= 3:
                break
        # THEN exactly two Queries went out (no third, though more items follow), and the request given is unchanged
        stub.assert_no_pending_responses()
    assert len(found) == 3 and "Limit" not in request


def test_unprocessed_keys_are_asked_for_again(client: Any) -> None:
    keys = [_key(1), _key(2)]
    with Stubber(client) as stub:
        # GIVEN a BatchGetItem that leaves one key unprocessed once
        stub.add_response("batch_get_item", {"Responses": {"t": [_key(1)]},
                                             "UnprocessedKeys": {"t": {"Keys": [_key(2)], "ConsistentRead": True}}},
                          {"RequestItems": {"t": {"Keys": keys, "ConsistentRead": True}}})
        stub.add_response("batch_get_item", {"Responses": {"t": [_key(2)]}},
                          {"RequestItems": {"t": {"Keys": [_key(2)], "ConsistentRead": True}}})
        # WHEN the keys are read
        items = list(batch_get(client, "t", keys))
        stub.assert_no_pending_responses()
    # THEN both items came back: the second from the retry of exactly the unprocessed key
    assert items == keys


def test_keys_left_unprocessed_through_every_attempt_raise_a_typed_error(client: Any) -> None:
    unprocessed = {"UnprocessedKeys": {"t": {"Keys": [_key(1)], "ConsistentRead": True}}}
    with Stubber(client) as stub:
        # GIVEN a table that stays throttled
        for _ in range(3):
            stub.add_response("batch_get_item", {"Responses": {"t": []}, **unprocessed})
        # WHEN the key is read with 3 attempts THEN the third unanswered call raises UnprocessedKeysError
        with pytest.raises(UnprocessedKeysError):
            list(batch_get(client, "t", [_key(1)], attempts=3))
        stub.assert_no_pending_responses()


def test_batch_get_asks_for_100_keys_a_call(client: Any) -> None:
    keys = [_key(n) for n in range(150)]
    with Stubber(client) as stub:
        stub.add_response("batch_get_item", {"Responses": {"t": []}},
                          {"RequestItems": {"t": {"Keys": keys[:100], "ConsistentRead": True}}})
        stub.add_response("batch_get_item", {"Responses": {"t": []}},
                          {"RequestItems": {"t": {"Keys": keys[100:], "ConsistentRead": True}}})
        assert list(batch_get(client, "t", keys)) == []
        stub.assert_no_pending_responses()


def _put(n: int) -> dict[str, Any]:
    return {"Put": {"TableName": "t", "Item": _key(n), "ConditionExpression": "attribute_not_exists(pk)"}}


def test_cancellation_reasons_are_tied_to_the_items_sent(client: Any) -> None:
    # GIVEN two chunks packed into one transaction; the store refuses the second chunk's first item
    first, second = [_put(1), _put(2)], [_put(3), _put(4)]
    reasons = [{"Code": "None"}, {"Code": "None"},
               {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed", "Item": _key(3)},
               {"Code": "None"}]
    with Stubber(client) as stub:
        stub.add_client_error("transact_write_items", "TransactionCanceledException", "cancelled",
                              response_meta={}, modeled_fields={"CancellationReasons": reasons})
        # WHEN the transaction is written
        with pytest.raises(TransactionCancelled) as caught:
            transact_write(client, first + second)
    exc = caught.value
    # THEN each chunk finds its own items' reasons by the item itself, wherever it sat in the transaction
    assert [exc.reason_for(item).code for item in first] == ["None", "None"]  # type: ignore[union-attr]
    failed = exc.reason_for(second[0])
    assert failed is not None and failed.code == "ConditionalCheckFailed" and failed.old_item == _key(3)
    assert exc.failed("ConditionalCheckFailed") == [second[0]]
    # AND an equal dict that was not sent has no reason: identity, not equality
    assert exc.reason_for(_put(3)) is None
    # AND it is still the ClientError botocore raised, so every caller sees the same error as before
    assert isinstance(exc, ClientError) and is_cancelled(exc)
    assert cancellation_codes(exc) == ["None", "None", "ConditionalCheckFailed", "None"]


def test_other_transaction_errors_pass_through_unchanged(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_client_error("transact_write_items", "ValidationException", "too large")
        with pytest.raises(ClientError) as caught:
            transact_write(client, [_put(1)])
    assert not isinstance(caught.value, TransactionCancelled) and not is_cancelled(caught.value)


def test_a_token_is_sent_only_when_asked_for(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("transact_write_items", {}, {"TransactItems": [_put(1)]})
        transact_write(client, [_put(1)])
        stub.add_response("transact_write_items", {},
                          {"TransactItems": [_put(1)], "ClientRequestToken": ANY})
        transact_write(client, [_put(1)], token=True)
        stub.assert_no_pending_responses()


def test_backoff_is_full_jitter_exponential_and_capped() -> None:
    for attempt in range(12):
        ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt)
        delays = [backoff_delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # spread over the whole window, not a fixed step
    assert BACKOFF_BASE_S * 2 ** 11 > BACKOFF_CAP_S  # the cap is reached


def test_codec_round_trips_plain_values_without_floats() -> None:
    data = {"s": "x", "n": Decimal("12.50"), "i": 3, "b": True, "m": {"l": ["a", Decimal(1)]}, "none": None}
    item = to_attributes(data)
    assert item["n"] == {"N": "12.50"} and item["i"] == {"N": "3"} and "none" not in item
    assert from_attributes(item) == {k: v for k, v in data.items() if v is not None}


class _Colour(StrEnum):
    RED = "RED"


def test_the_codec_spells_every_value_as_boto3s_serializer_does() -> None:
    # GIVEN values of every type the serializer takes, nested too
    values: list[Any] = ["", "x", True, False, 0, -7, 10 ** 37, Decimal("12.50"), Decimal("-0.5"), Decimal(0),
                         None, _Colour.RED, {"a": [1, "b", None, {"c": False}]}, ("t", Decimal("2")), [],
                         {"s"}, {Decimal(1)}, b"raw", Binary(b"x"), {"z": {"y": [{"x": Decimal("3.25")}]}}]
    for value in values:
        # WHEN spelled by the codec THEN exactly as TypeSerializer spells it (the fast paths change nothing)
        assert to_attribute(value) == TypeSerializer().serialize(value), value


def test_numbers_are_written_in_plain_notation_and_refused_as_the_serializer_refuses_them() -> None:
    assert to_attribute(Decimal("1E+2")) == {"N": "100"}  # the serializer would write "1E+2": the same number
    assert to_attribute(Decimal("1E-7")) == {"N": "0.0000001"}
    assert to_attribute({"l": [Decimal("2.5E+3")]}) == {"M": {"l": {"L": [{"N": "2500"}]}}}
    for refused in (Decimal("NaN"), Decimal("Infinity"), 1.5):
        with pytest.raises(TypeError):
            to_attribute(refused)
    for too_long in (Decimal("1." + "1" * 38), 10 ** 40):
        with pytest.raises(DecimalException):  # Inexact or Rounded
            to_attribute(too_long)


def test_keys_and_expression_values_go_through_the_codec() -> None:
    assert key("P#1", "S") == {"pk": {"S": "P#1"}, "sk": {"S": "S"}}
    assert key("P#1") == {"pk": {"S": "P#1"}}
    values = expression_values(pk="P#1", n=Decimal("1E+1"), at=3, ok=True, skipped=None)
    assert values == {":pk": {"S": "P#1"}, ":n": {"N": "10"}, ":at": {"N": "3"}, ":ok": {"BOOL": True}}
    assert list(values) == [":pk", ":n", ":at", ":ok"]  # in the order given: the request's bytes stay put



def test_a_scan_pages_the_same_way(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("scan", {"Items": [_key(1)], "LastEvaluatedKey": _key(1)}, {"TableName": "t"})
        stub.add_response("scan", {"Items": [_key(2)]}, {"TableName": "t", "ExclusiveStartKey": _key(1)})
        assert scan_all(client, TableName="t") == [_key(1), _key(2)]
        stub.assert_no_pending_responses()


def _cancelled(items: list[dict[str, Any]], codes: list[str]) -> TransactionCancelled:
    error = ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                         "CancellationReasons": [{"Code": c} for c in codes]}, "TransactWriteItems")
    return TransactionCancelled(error, items)


def test_a_wallet_plan_reads_its_own_reasons_wherever_its_items_sit() -> None:
    from datetime import UTC, datetime

    from infra.wallets_repo import DebitPlan, Outcome

    # GIVEN a plan (a counter update and its ledger entry) sent after two items of the caller's own
    counter, ledger = {"Update": {"n": 1}}, {"Put": {"n": 2}}
    plan = DebitPlan("W", datetime(2026, 1, 1, tzinfo=UTC), (), (counter, ledger), "R")
    mine = [{"Update": {"n": 3}}, {"Put": {"n": 4}}]
    # WHEN the ledger entry's condition failed THEN the debit is booked already
    assert plan.outcome(_cancelled([*mine, counter, ledger], ["None", "None", "None", "ConditionalCheckFailed"])) \
        == Outcome.ALREADY_BOOKED
    # WHEN only the caller's own item failed THEN it is none of the wallet's doing
    assert plan.outcome(_cancelled([*mine, counter, ledger], ["ConditionalCheckFailed", "None", "None", "None"])) \
        == Outcome.OTHER
    # WHEN the counter's condition failed THEN the wallet changed underneath
    assert plan.outcome(_cancelled([*mine, counter, ledger], ["None", "None", "ConditionalCheckFailed", "None"])) \
        == Outcome.WALLET_CHANGED


def _parsed(client: Any, operation: str, body: dict[str, Any], raw: bool) -> dict[str, Any]:
    """An answer as botocore parses it, with or without ``keep_items_raw``'s hook before the parse."""
    from botocore.parsers import create_parser

    from infra.dynamo_kit import _raw_items

    model = client.meta.service_model.operation_model(operation)
    response = {"status_code": 200, "headers": {}, "body": json.dumps(body).encode()}
    customized: dict[str, Any] = {}
    if raw:
        _raw_items(response, customized, model)
    parsed: dict[str, Any] = create_parser("json").parse(response, model.output_shape)
    parsed.update(customized)
    parsed.pop("ResponseMetadata", None)
    return parsed


ITEM = {"pk": {"S": "P#1"}, "n": {"N": "1.50"}, "flag": {"BOOL": True}, "none": {"NULL": True},
        "data": {"M": {"list": {"L": [{"S": "a"}, {"N": "2"}, {"M": {}}]}, "ss": {"SS": ["x", "y"]},
                       "ns": {"NS": ["1", "2"]}, "quote": {"S": 'say "B" \\ é'}}}}


@pytest.mark.parametrize(("operation", "body"), [
    ("Query", {"Items": [ITEM, _key(2)], "Count": 2, "ScannedCount": 2, "LastEvaluatedKey": _key(2)}),
    ("Scan", {"Items": [ITEM], "Count": 1, "ScannedCount": 1}),
    ("GetItem", {"Item": ITEM}),
    ("GetItem", {}),
    ("BatchGetItem", {"Responses": {"t": [ITEM], "u": []}, "UnprocessedKeys": {"t": {"Keys": [_key(3)]}}}),
])
def test_items_kept_raw_are_what_botocore_parses(client: Any, operation: str, body: dict[str, Any]) -> None:
    # GIVEN an answer holding every kind of attribute value but binary WHEN its items are kept as the wire has them
    # THEN the caller gets exactly what botocore's own parse gives
    assert _parsed(client, operation, body, raw=True) == _parsed(client, operation, body, raw=False)


def test_answers_that_may_hold_binary_values_are_left_to_botocore(client: Any) -> None:
    # GIVEN an item with a binary value (base64 on the wire, bytes after botocore's parse)
    body = {"Item": {"pk": {"S": "P"}, "blob": {"B": "aGk="}}}
    # THEN it comes back as bytes, as before
    assert _parsed(client, "GetItem", body, raw=True)["Item"]["blob"] == {"B": b"hi"}


def test_clients_of_the_project_keep_items_raw() -> None:
    from infra.dynamo import cached_client

    client = cached_client("dynamodb", "us-east-1", "http://127.0.0.1:9")
    response = {"status_code": 200, "headers": {}, "body": json.dumps({"Item": ITEM}).encode()}
    customized: dict[str, Any] = {}
    client.meta.events.emit("before-parse.dynamodb.GetItem", response_dict=response,
                            customized_response_dict=customized,
                            operation_model=client.meta.service_model.operation_model("GetItem"))
    assert customized == {"Item": ITEM}


def _sent(client: Any, operation: str, params: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """The body ``client`` sends for ``operation(**params)`` (answered here, not sent), and the parameters the
    after-call handlers see."""
    from botocore.awsrequest import AWSResponse

    sent: list[bytes] = []
    seen: list[dict[str, Any]] = []

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield b"{}"

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.body)
        return AWSResponse(request.url, 200, {}, Raw())

    def after(context: Any, **_: Any) -> None:
        seen.append(context["params"])

    def keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["params"] = params

    client.meta.events.register("before-send.dynamodb", answer)
    client.meta.events.register("before-parameter-build.dynamodb", keep)
    client.meta.events.register("after-call.dynamodb", after)
    getattr(client, {"TransactWriteItems": "transact_write_items", "PutItem": "put_item",
                     "BatchWriteItem": "batch_write_item"}[operation])(**params)
    return sent[0], seen[0]


WRITES = [
    ("TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "t", "Item": ITEM, "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": "u", "Key": _key(1), "UpdateExpression": "SET #n = :v",
                    "ExpressionAttributeNames": {"#n": "n"}, "ExpressionAttributeValues": {":v": {"N": "2"}}}},
        {"ConditionCheck": {"TableName": "t", "Key": _key(2), "ConditionExpression": "attribute_exists(pk)"}},
        {"Delete": {"TableName": "t", "Key": _key(3)}}], "ClientRequestToken": "token"}),
    ("PutItem", {"TableName": "t", "Item": ITEM, "ConditionExpression": "attribute_not_exists(pk)"}),
    ("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": ITEM}},
                                               {"DeleteRequest": {"Key": _key(2)}}]}}),
]


@pytest.mark.parametrize(("operation", "params"), WRITES)
def test_writes_sent_as_built_send_what_botocore_would(operation: str, params: dict[str, Any]) -> None:
    from botocore.config import Config

    from infra.dynamo_kit import send_as_built

    def writer(as_built: bool) -> Any:
        made = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
                            config=Config(parameter_validation=False))
        if as_built:
            send_as_built(made)
        return made

    # GIVEN the same write sent by a client that sends it as built and by botocore's own serializer
    body, seen = _sent(writer(True), operation, json.loads(json.dumps(params)))
    expected, _ = _sent(writer(False), operation, json.loads(json.dumps(params)))
    # THEN the bodies are the same bytes, and handlers after the call see the parameters as they were passed
    assert body == expected
    assert seen == params


def test_a_transaction_sent_as_built_gets_a_token_as_botocore_gives_it() -> None:
    from botocore.config import Config

    from infra.dynamo_kit import send_as_built

    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
                          config=Config(parameter_validation=False))
    send_as_built(client)
    transaction = {"TransactItems": [{"Put": {"TableName": "t", "Item": _key(1)}}]}
    body, seen = _sent(client, "TransactWriteItems", transaction)
    sent = json.loads(body)
    assert sent["TransactItems"] == transaction["TransactItems"] and len(sent["ClientRequestToken"]) == 36
    assert seen == {"TransactItems": [{"Put": {"TableName": "t", "Item": _key(1)}}]}


def test_writes_json_cannot_encode_go_botocores_way() -> None:
    from botocore.config import Config

    from infra.dynamo_kit import send_as_built

    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
                          config=Config(parameter_validation=False))
    send_as_built(client)
    # GIVEN an item with a binary value (bytes: base64 on the wire)
    body, _ = _sent(client, "PutItem", {"TableName": "t", "Item": {"pk": {"S": "P"}, "blob": {"B": b"hi"}}})
    assert json.loads(body)["Item"]["blob"] == {"B": "aGk="}


PLAIN = ["text", "", True, False, 0, -5, 10 ** 37, Decimal("1.50"), Decimal("-0"), Decimal("1E+3"),
         Decimal("0.000001"), None, [1, "a", [None], (2, "b")], {"m": {"n": [Decimal("2.5"), {"b": True}]}, "e": {}},
         {"x", "y"}, {1, 2}, b"bytes"]


def _plain_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: format(Decimal(v), "f") if k == "N" else _plain_numbers(v) for k, v in value.items()}
    return [_plain_numbers(v) for v in value] if isinstance(value, list) else value


@pytest.mark.parametrize("value", PLAIN)
def test_attribute_values_are_what_boto3s_serializers_make(value: Any) -> None:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    from infra.dynamo_kit import from_attribute, to_attribute

    # GIVEN a plain value WHEN it becomes an AttributeValue and back THEN both ways agree with boto3's own
    # (numbers in plain notation: "1000" where boto3 writes "1E+3", the same number to DynamoDB)
    expected = TypeSerializer().serialize(value)
    assert to_attribute(value) == _plain_numbers(expected)
    back, boto3s = from_attribute(expected), TypeDeserializer().deserialize(expected)
    assert back == boto3s and type(back) is type(boto3s)
    assert repr(back) == repr(boto3s) or isinstance(value, bytes)  # Decimal('1.50') stays 1.50


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), 1.5, 10 ** 40,
                                   Decimal("1.000000000000000000000000000000000000001")])
def test_values_dynamodb_cannot_hold_are_refused_as_boto3_refuses_them(value: Any) -> None:
    from boto3.dynamodb.types import TypeSerializer

    from infra.dynamo_kit import to_attribute

    with pytest.raises(Exception) as boto3s:
        TypeSerializer().serialize(value)
    with pytest.raises(type(boto3s.value)):
        to_attribute(value)
