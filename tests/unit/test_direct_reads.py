"""Rating's reads and transactions sent without botocore (infra/dynamo_direct.py's DirectReads), against a scripted
HTTP server:
the answers as botocore's client gives them, a cancelled transaction's reasons, and botocore's retries (throttling,
transient errors, lost connections) — nothing else retried."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from infra import dynamo_direct, dynamo_kit
from infra.dynamo_direct import DirectClient, DirectReads, direct_reads_client, retryable
from infra.dynamo_kit import TransactionCancelled, batch_get, key, query_all, transact_write
from tests.unit.test_dynamo_direct import THROTTLED, Script, static
from tests.unit.test_dynamo_direct import server as scripted_server

server = scripted_server  # the scripted HTTP server fixture of test_dynamo_direct
CANCELLED = "com.amazonaws.dynamodb.v20120810#TransactionCanceledException"
VALIDATION = "com.amazonaws.dynamodb.v20120810#ValidationException"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamo_kit, "backoff", lambda attempt: None)


def client(url: str) -> DirectReads:
    return DirectReads(DirectClient(url, "us-east-1", static()), botocore=object())


def test_reads_are_dynamodbs_json_requests_and_their_items_come_back_as_sent(server: tuple[str, Script]) -> None:
    url, script = server
    item = {"pk": {"S": "a"}, "n": {"N": "1.50"}, "m": {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}]}}}}
    script.answers += [(200, {"Items": [item], "Count": 1, "LastEvaluatedKey": {"pk": {"S": "a"}}}),
                       (200, {"Items": [], "Count": 0}),
                       (200, {"Responses": {"t": [item]}, "UnprocessedKeys": {}})]
    # WHEN an account's Query (two pages) and a BatchGetItem go through the toolkit on a DirectReads
    rc = client(url)
    found = query_all(rc, TableName="t", KeyConditionExpression="pk = :pk", ExpressionAttributeValues={})
    got = list(batch_get(rc, "t", [key("a")]))
    # THEN each is the operation's JSON request (the second page from the first's last key), items as the wire had them
    assert [h["X-Amz-Target"] for h, _ in script.requests] == [
        "DynamoDB_20120810.Query", "DynamoDB_20120810.Query", "DynamoDB_20120810.BatchGetItem"]
    assert script.requests[1][1]["ExclusiveStartKey"] == {"pk": {"S": "a"}}
    assert script.requests[2][1] == {"RequestItems": {"t": {"Keys": [{"pk": {"S": "a"}}], "ConsistentRead": True}}}
    assert found == [item] and got == [item]


def test_a_cancelled_transaction_carries_its_reasons_item_by_item(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers.append((400, {"__type": CANCELLED, "message": "Transaction cancelled",
                                 "CancellationReasons": [{"Code": "None"},
                                                         {"Code": "ConditionalCheckFailed", "Message": "no"}]}))
    items = [{"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}},
             {"Update": {"TableName": "t", "Key": {"pk": {"S": "b"}}, "UpdateExpression": "SET x = :x"}}]
    with pytest.raises(TransactionCancelled) as cancelled:
        transact_write(client(url), items, token=True)
    # THEN one request (a cancellation is an answer, not retried), its reasons tied to the items sent
    assert len(script.requests) == 1 and "ClientRequestToken" in script.requests[0][1]
    assert cancelled.value.reason_for(items[1]).code == "ConditionalCheckFailed"  # type: ignore[union-attr]
    assert cancelled.value.reason_for(items[0]).code == "None"  # type: ignore[union-attr]


def test_throttling_transient_errors_and_lost_connections_are_sent_again(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers += [(400, {"__type": THROTTLED, "message": "slow down"}), (500, {"message": "oops"}), "drop",
                       (200, {"Items": [], "Count": 0})]
    # WHEN a Query meets throttling, a 500 and a closed connection before it is answered
    assert client(url).query(TableName="t") == {"Items": [], "Count": 0}
    # THEN it was sent until answered, the same request each time
    assert len(script.requests) == 4 and all(body == {"TableName": "t"} for _, body in script.requests)


def test_other_errors_are_raised_at_once_and_retries_end(server: tuple[str, Script],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    url, script = server
    script.answers.append((400, {"__type": VALIDATION, "message": "bad"}))
    with pytest.raises(ClientError) as refused:
        client(url).get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert refused.value.response["Error"]["Code"] == "ValidationException" and len(script.requests) == 1
    # AND a store that stays throttled is given up on after the last attempt, with botocore's error
    script.answers += [(400, {"__type": THROTTLED, "message": "slow down"})] * 3
    with pytest.raises(ClientError) as throttled:
        DirectReads(DirectClient(url, "us-east-1", static()), attempts=3).query(TableName="t")
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException" and len(script.requests) == 4


def test_what_is_retried_is_what_botocores_standard_mode_retries() -> None:
    def error(code: str, status: int = 400) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": status}},
                           "Query")

    assert retryable(error("ProvisionedThroughputExceededException"))
    assert retryable(error("TransactionInProgressException"))
    assert retryable(error("Whatever", 503))
    assert retryable(ConnectionClosedError(endpoint_url="http://x"))
    assert not retryable(error("ConditionalCheckFailedException"))
    assert not retryable(error("TransactionCanceledException"))
    assert not retryable(ValueError("a bug"))


def test_other_operations_are_botocores_and_a_proxy_keeps_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    class Botocore:
        def describe_table(self, **_: Any) -> str:
            return "botocore"

    rc = DirectReads(DirectClient("http://127.0.0.1:1", "us-east-1", static()), Botocore())
    assert rc.describe_table(TableName="t") == "botocore"
    alone = DirectReads(DirectClient("http://127.0.0.1:1", "us-east-1", static()))
    assert not hasattr(alone, "describe_table")  # without a botocore client to stand in for, nothing else
    monkeypatch.setattr(dynamo_direct, "direct_put_client", lambda settings=None: object())  # behind a proxy
    assert not isinstance(direct_reads_client(), DirectReads)


def test_the_attempts_are_botocores_whether_or_not_a_client_was_made_before() -> None:
    # GIVEN a botocore client made with the project's config (botocore rewrites the config's retries when it does)
    import boto3

    from infra.dynamo import CLIENT_CONFIG, MAX_RETRIES

    boto3.client("dynamodb", region_name="us-east-1", config=CLIENT_CONFIG, aws_access_key_id="x",
                 aws_secret_access_key="x")
    # THEN a DirectReads still makes botocore's attempts: the first and its retries
    assert DirectReads(DirectClient("http://127.0.0.1:1", "us-east-1", static())).attempts == MAX_RETRIES + 1
