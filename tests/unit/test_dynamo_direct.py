"""The PutItem sent without botocore (infra/dynamo_direct.py), against a scripted HTTP server: what botocore would
raise for DynamoDB's answers, throttling and lost connections retried by the insert, credentials refreshed."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from infra import dynamo_direct
from infra.dynamo_direct import DirectClient, behind_proxy
from infra.usage_repo import UsageRepository, to_item
from tests.unit.test_usage_item import new_record

CCF = "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
THROTTLED = "com.amazonaws.dynamodb.v20120810#ThrottlingException"


class Script:
    """What the server answers, one entry per request: (status, body), (status, body, "close") (then closes the
    connection), "drop" (close without answering), bytes (the whole answer as it is sent) or ("raw", bytes) (the
    same, then the connection is closed)."""

    def __init__(self) -> None:
        self.answers: list[Any] = []
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.raw: list[tuple[str, str, list[tuple[str, str]], bytes]] = []  # method, path, headers, body


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            script.requests.append((dict(self.headers.items()), json.loads(body)))
            script.raw.append((self.command, self.path, list(self.headers.items()), body))
            answer = script.answers.pop(0) if script.answers else (200, {})
            if answer == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if isinstance(answer, bytes) or answer[0] == "raw":  # written as it is
                self.wfile.write(answer if isinstance(answer, bytes) else answer[1])
                self.wfile.flush()
                self.close_connection = not isinstance(answer, bytes)
                return
            status, payload, *then = answer
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            if then == ["close"]:  # the connection is closed after the answer, which does not say so
                self.wfile.flush()
                self.close_connection = True

        def log_message(self, *_: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()


def static() -> Credentials:
    return Credentials("AKIDEXAMPLE", "secret", "token-1")


def test_a_put_is_dynamodbs_json_request_signed_with_sigv4(server: tuple[str, Script]) -> None:
    url, script = server
    client = DirectClient(url, "eu-west-1", static())
    seen: list[tuple[str, int]] = []
    dynamo_direct.AFTER_CALL.append(lambda operation, params, answer, status: seen.append((operation, status)))
    try:
        assert client.put_item(TableName="usage", Item={"pk": {"S": "a"}}) == {}
    finally:
        dynamo_direct.AFTER_CALL.pop()
    headers, body = script.requests[0]
    assert body == {"TableName": "usage", "Item": {"pk": {"S": "a"}}}
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.PutItem"
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/dynamodb/aws4_request" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "token-1"
    assert seen == [("PutItem", 200)]


def sigv4_valid(method: str, path: str, headers: list[tuple[str, str]], body: bytes, secret: str) -> bool:
    """Signature Version 4 checked as AWS checks it (written from the specification, not with botocore)."""
    by_name = {name.lower(): value for name, value in headers}
    algorithm, _, fields = by_name["authorization"].partition(" ")
    parts = dict(part.strip().split("=", 1) for part in fields.split(","))
    signed = parts["SignedHeaders"].split(";")
    canonical = "\n".join([method, path, "", *(f"{h}:{' '.join(by_name[h].split())}" for h in signed), "",
                           parts["SignedHeaders"], hashlib.sha256(body).hexdigest()])
    scope = parts["Credential"].split("/", 1)[1]
    day, region, service, _ = scope.split("/")
    to_sign = "\n".join([algorithm, by_name["x-amz-date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {"host", "x-amz-date", "x-amz-target"} <= set(signed) and hmac.compare_digest(expected, parts["Signature"])


def test_the_signature_is_valid_for_what_is_sent(server: tuple[str, Script]) -> None:
    url, script = server
    DirectClient(url, "eu-west-1", static()).put_item(TableName="usage", Item={"pk": {"S": "ä/ü"}})
    method, path, headers, body = script.raw[0]
    assert sigv4_valid(method, path, headers, body, "secret")
    assert not sigv4_valid(method, path, headers, body + b" ", "secret")  # the check can fail
    assert not sigv4_valid(method, path, headers, body, "other secret")


def test_an_error_answer_is_botocores_client_error_with_the_rest_of_the_answer(server: tuple[str, Script]) -> None:
    url, script = server
    stored = {"pk": {"S": "a"}, "body": {"S": "{}"}}
    script.answers = [(400, {"__type": CCF, "message": "The conditional request failed", "Item": stored}),
                      (500, {})]
    client = DirectClient(url, "us-east-1", static())
    with pytest.raises(ClientError) as failed:
        client.put_item(TableName="usage", Item={"pk": {"S": "a"}})
    assert failed.value.response["Error"] == {"Code": "ConditionalCheckFailedException",
                                              "Message": "The conditional request failed"}
    assert failed.value.response["Item"] == stored
    assert failed.value.operation_name == "PutItem"
    with pytest.raises(ClientError) as broken:
        client.put_item(TableName="usage", Item={"pk": {"S": "a"}})
    assert broken.value.response["Error"]["Code"] == "InternalServerError"


def test_the_insert_retries_throttling_and_lost_connections_and_keeps_its_own_put(server: tuple[str, Script]
                                                                                   ) -> None:
    url, script = server
    record = new_record()
    ours = to_item(record)
    # throttled, then the connection drops (the Put may have got in), then the store says the item exists: it is
    # exactly the item this insert sent, so the record stays accepted
    script.answers = [(400, {"__type": THROTTLED, "message": "slow down"}), "drop",
                      (400, {"__type": CCF, "message": "exists", "Item": ours})]
    repo = UsageRepository("demo", client=DirectClient(url, "us-east-1", static()), table="usage")
    assert repo.insert_new([record]) == {}
    assert len(script.requests) == 3 and all(body["Item"] == ours for _, body in script.requests)
    # WHEN another record holds the id, it is answered as the original
    original = dataclasses.replace(record, quantity=Decimal(1))
    script.answers = [(400, {"__type": CCF, "message": "exists", "Item": to_item(original)})]
    assert repo.insert_new([record]) == {record.id: original}


def test_a_store_that_cannot_be_reached_is_botocores_connection_error() -> None:
    client = DirectClient("http://127.0.0.1:9", "us-east-1", static())  # the discard port: nothing listens
    with pytest.raises((EndpointConnectionError, ConnectionClosedError)):
        client.put_item(TableName="usage", Item={"pk": {"S": "a"}})


def test_refreshable_credentials_are_refreshed_before_they_expire(server: tuple[str, Script]) -> None:
    url, script = server
    issued = iter(["AKIDFIRST", "AKIDSECOND"])

    def refresh() -> dict[str, str]:
        # the first set is about to expire (within botocore's refresh window); the second lasts
        key = next(issued)
        expiry = datetime.now(UTC) + (timedelta(seconds=30) if key == "AKIDFIRST" else timedelta(hours=1))
        return {"access_key": key, "secret_key": "s", "token": "t", "expiry_time": expiry.isoformat()}

    credentials = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    client = DirectClient(url, "us-east-1", credentials)
    client.put_item(TableName="usage", Item={"pk": {"S": "a"}})
    assert "Credential=AKIDSECOND/" in script.requests[0][0]["Authorization"]


def test_behind_a_proxy_the_botocore_client_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert behind_proxy("https://dynamodb.us-east-1.amazonaws.com")
    monkeypatch.setenv("NO_PROXY", "amazonaws.com")
    assert not behind_proxy("https://dynamodb.us-east-1.amazonaws.com")


def test_an_https_endpoint_is_verified_against_botocores_ca_bundle() -> None:
    import ssl

    from botocore.httpsession import where

    client = DirectClient("https://dynamodb.eu-west-1.amazonaws.com", "eu-west-1", static())
    assert (client.hostname, client.port, client.host) == ("dynamodb.eu-west-1.amazonaws.com", 443,
                                                           "dynamodb.eu-west-1.amazonaws.com")
    context = client.tls_context
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    bundle = ssl.create_default_context(cafile=where())
    assert context.get_ca_certs() == bundle.get_ca_certs() and context.get_ca_certs()
    assert DirectClient("http://127.0.0.1:8000", "eu-west-1", static()).tls_context is None


def test_the_signature_is_botocores_for_the_same_request_and_time(server: tuple[str, Script],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The headers sent are those botocore's SigV4Auth gives the same request at the same second: with and without
    a session token, on an endpoint with a port and on one without."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    url, script = server
    at = datetime(2026, 12, 6, 23, 59, 59, tzinfo=UTC)
    monkeypatch.setattr(dynamo_direct, "amz_date", lambda: "20261206T235959Z")
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: at.replace(tzinfo=None))
    for credentials in (static(), Credentials("AKIDEXAMPLE", "secret")):
        client = DirectClient(url, "eu-west-1", credentials)
        client.put_item(TableName="usage", Item={"pk": {"S": "ä/ü"}}, ConditionExpression="attribute_not_exists(pk)")
        _, path, sent, body = script.raw[-1]
        request = AWSRequest("POST", url + "/", data=body, headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.PutItem",
            "User-Agent": client.user_agent})
        SigV4Auth(credentials.get_frozen_credentials(), "dynamodb", "eu-west-1").add_auth(request)
        expected = {name.lower(): value for name, value in request.headers.items()}
        headers = {name.lower(): value for name, value in sent}
        assert {name: headers.get(name) for name in expected} == expected
        assert headers["host"] == url.split("//")[1] and path == "/"
        assert ("x-amz-security-token" in headers) == (credentials.token is not None)
    # the signing key is derived once per day: a later day signs with the new day's key
    signer = dynamo_direct.Signer("dynamodb.eu-west-1.amazonaws.com", "/", "eu-west-1")
    first = signer.signing_key("secret", "20261206")
    assert signer.signing_key("secret", "20261206") is first
    assert signer.signing_key("secret", "20261207") != first and signer.signing_key("other", "20261207") != first


def test_answers_are_read_as_http_1_1_frames_them(server: tuple[str, Script]) -> None:
    """A chunked answer, one that closes the connection, and one read to its end are read whole; after any of
    them the next request goes out on a working connection."""
    url, script = server
    stored = json.dumps({"__type": CCF, "message": "exists", "Item": {"pk": {"S": "a"}}}).encode()
    chunked = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + f"{10:x}".encode() + b"\r\n" + stored[:10] + b"\r\n"
               + f"{len(stored) - 10:x};ext=1".encode() + b"\r\n" + stored[10:] + b"\r\n0\r\n\r\n")
    to_the_end = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + json.dumps({"Attributes": {}}).encode()
    continue_first = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    no_content = b"HTTP/1.1 204 No Content\r\n\r\n"  # no body, no length: nothing more is read
    script.answers = [chunked, ("raw", to_the_end), continue_first, no_content, (200, {"ok": {"S": "yes"}})]
    client = DirectClient(url, "us-east-1", static())
    with pytest.raises(ClientError) as failed:
        client.put_item(TableName="usage", Item={"pk": {"S": "a"}})
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert failed.value.response["Item"] == {"pk": {"S": "a"}}
    assert client.put_item(TableName="usage", Item={"pk": {"S": "b"}}) == {"Attributes": {}}
    assert client.put_item(TableName="usage", Item={"pk": {"S": "c"}}) == {}
    with pytest.raises(ClientError):  # not DynamoDB's 200: botocore's error, with the status
        client.put_item(TableName="usage", Item={"pk": {"S": "d"}})
    assert client.put_item(TableName="usage", Item={"pk": {"S": "e"}}) == {"ok": {"S": "yes"}}
    assert [body["Item"]["pk"]["S"] for _, body in script.requests] == ["a", "b", "c", "d", "e"]


def test_a_connection_is_kept_alive_and_one_the_store_closed_is_not_used(server: tuple[str, Script]) -> None:
    from urllib3.util.wait import wait_for_read

    url, script = server
    client = DirectClient(url, "us-east-1", static())
    client.put_item(TableName="usage", Item={"pk": {"S": "a"}})
    assert len(client._idle) == 1
    kept = client._idle[0]
    script.answers = [(200, {}, "close")]  # the store closes the connection after this answer, while it is idle
    client.put_item(TableName="usage", Item={"pk": {"S": "b"}})
    assert list(client._idle) == [kept]
    assert wait_for_read(kept.sock, timeout=5)
    assert client.put_item(TableName="usage", Item={"pk": {"S": "c"}}) == {}  # on a new connection
    assert len(client._idle) == 1 and client._idle[0] is not kept
    assert [body["Item"]["pk"]["S"] for _, body in script.requests] == ["a", "b", "c"]


def test_a_broken_or_corrupted_answer_is_a_closed_connection_and_the_insert_sends_again(
        server: tuple[str, Script]) -> None:
    url, script = server
    record = new_record()
    answer = b"{}"
    wrong_crc = (f"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-amz-crc32: {zlib.crc32(answer) + 1}\r\n\r\n"
                 ).encode() + answer
    cut_off = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{}"
    script.answers = [wrong_crc, ("raw", cut_off), b"SSH-2.0-OpenSSH\r\n\r\n"]
    client = DirectClient(url, "us-east-1", static())
    for _ in range(3):
        with pytest.raises(ConnectionClosedError):
            client.put_item(TableName="usage", Item={"pk": {"S": "a"}})
    assert not client._idle  # none of them is used again
    right_crc = (f"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-amz-crc32: {zlib.crc32(answer)}\r\n\r\n"
                 ).encode() + answer
    script.answers = [wrong_crc, right_crc]
    repo = UsageRepository("demo", client=client, table="usage")
    assert repo.insert_new([record]) == {}
    assert len(script.requests) == 5


def test_an_answer_that_does_not_come_is_botocores_read_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        client = DirectClient(f"http://127.0.0.1:{listener.getsockname()[1]}", "us-east-1", static())
        client.read_timeout = 0.2
        with pytest.raises(ReadTimeoutError):
            client.put_item(TableName="usage", Item={"pk": {"S": "a"}})
        assert not client._idle
    finally:
        listener.close()


class FakePuts:
    """A client whose PutItem finds some ids taken (by another record) and refuses one id outright."""

    def __init__(self, taken: dict[str, Any], refused: str | None = None):
        self.taken, self.refused = taken, refused
        self.sent: list[str] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def put_item(self, **params: Any) -> dict[str, Any]:
        pk = params["Item"]["pk"]["S"]
        with self.lock:
            self.sent.append(pk)
            self.threads.add(threading.get_ident())
        time.sleep(0.002)  # a round trip: the other threads take records meanwhile
        if pk.endswith(f"#U#{self.refused}"):
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "no"}}, "PutItem")
        if pk in self.taken:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "exists"},
                               "Item": self.taken[pk]}, "PutItem")
        return {}


def test_the_inserts_of_a_call_run_on_the_shared_threads_and_answer_every_record() -> None:
    from infra.usage_repo import UsageStoreError

    records = [dataclasses.replace(new_record(), id=f"r{i:02d}", idempotency_key=f"k{i}") for i in range(40)]
    others = {r.id: dataclasses.replace(r, quantity=Decimal(i)) for i, r in enumerate(records) if i % 7 == 3}
    fake = FakePuts({to_item(o)["pk"]["S"]: to_item(o) for o in others.values()})
    repo = UsageRepository("demo", client=fake, table="usage", put_threads=8)
    assert repo.insert_new(records) == others
    assert sorted(fake.sent) == sorted(to_item(r)["pk"]["S"] for r in records) and len(fake.threads) > 1
    # WHEN storage refuses one record outright THEN the call fails with it, once the other threads have stopped,
    # and no record is started after the failure
    fake = FakePuts({}, refused="r05")
    repo = UsageRepository("demo", client=fake, table="usage", put_threads=4)
    with pytest.raises(UsageStoreError, match="r05"):
        repo.insert_new(records)
    assert len(fake.sent) < len(records)


def test_reads_are_retried_as_botocores_standard_mode_retries(server: tuple[str, Script],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from infra import dynamo_kit
    from infra.dynamo_direct import DirectReads

    monkeypatch.setattr(dynamo_kit, "backoff", lambda attempt: None)
    url, script = server
    page = {"Items": [{"pk": {"S": "a"}, "n": {"N": "1.50"}}], "Count": 1, "ScannedCount": 1}
    # throttled, a 500, a dropped connection, then the answer
    script.answers = [(400, {"__type": THROTTLED, "message": "slow down"}), (500, {"__type": "x#InternalServerError"}),
                      "drop", (200, page)]
    reads = DirectReads(DirectClient(url, "us-east-1", static()), attempts=8)
    assert reads.query(TableName="t", KeyConditionExpression="pk = :pk",
                       ExpressionAttributeValues={":pk": {"S": "a"}}) == page
    assert len(script.requests) == 4
    assert all(h["X-Amz-Target"] == "DynamoDB_20120810.Query" for h, _ in script.requests)
    # a refusal that retrying cannot fix is raised at once; throttling is raised after the last attempt
    script.answers = [(400, {"__type": "x#ValidationException", "message": "bad"})]
    with pytest.raises(ClientError) as refused:
        reads.query(TableName="t")
    assert refused.value.response["Error"]["Code"] == "ValidationException" and len(script.requests) == 5
    script.answers = [(400, {"__type": THROTTLED, "message": "slow down"})] * 3
    with pytest.raises(ClientError) as throttled:
        DirectReads(DirectClient(url, "us-east-1", static()), attempts=3).query(TableName="t")
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException" and len(script.requests) == 8
