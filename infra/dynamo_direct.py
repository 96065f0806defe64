"""DynamoDB's PutItem sent straight over HTTP: the request ingestion sends once per usage record.

Through botocore a small conditional PutItem costs ~0.6 ms of CPU (the parameters walked through the service
model, a dozen event hooks, endpoint rules, signing, the answer parsed through the model again). Here it costs
~0.2 ms (DynamoDB Local, 2026-12-06: 1,000 PutItems on 16 threads, with building the items; ~0.45 ms when this
module signed with botocore's ``SigV4Auth`` and sent on a urllib3 pool). The request is signed with a signing key
derived once per day (``Signer``; ``SigV4Auth`` derives it with four HMACs and builds its canonical request
through an ``email.message`` every time) and written to a kept-alive socket in one piece, HTTP/1.1 framed both
ways by ``h11`` (``_Connection``; urllib3 over ``http.client`` sent every request in two pieces and parsed every
answer's headers with ``email.parser``; a reader of our own saved another ~0.05 ms a request, not worth owning
an HTTP parser). It is the same request on
the wire: DynamoDB's JSON protocol (``X-Amz-Target: DynamoDB_20120810.PutItem``), the caller's parameters as they
are (they are already AttributeValues), signed with Signature Version 4 over the headers botocore signs (a unit
test compares the two signatures; DynamoDB Local does not check signatures, so a store run cannot tell).

What botocore does besides, this does too:

- **endpoint and region**: those of the botocore client it stands in for (``client.meta``: the region's endpoint,
  or ``AWS_ENDPOINT_URL_DYNAMODB``); behind an HTTP proxy (``HTTPS_PROXY``…), use the botocore client instead
  (``direct_put_client`` does);
- **credentials**: the session's provider chain, frozen per request, so refreshable credentials (a role's, the
  container's) are refreshed when they near expiry, and a session token is signed in;
- **TLS**: verified against botocore's CA bundle, the host name checked; connect and read timeouts as
  ``infra.dynamo.CLIENT_CONFIG``;
- **integrity**: an answer carrying ``x-amz-crc32`` must match it (else it is treated as a broken connection);
- **errors**: an answer other than 200 raises botocore's ``ClientError`` with DynamoDB's error code (the part of
  ``__type`` after ``#``), its message and the rest of the answer (``Item`` of a failed condition with
  ``ReturnValuesOnConditionCheckFailure``) — what botocore raises; a failure on the wire raises botocore's
  ``EndpointConnectionError``/``ConnectionClosedError``/``ReadTimeoutError``. Nothing is retried here: the
  caller retries throttling and transient failures with ``infra.dynamo_kit.backoff`` (a PutItem conditioned on
  ``attribute_not_exists`` is safe to send again; ``infra.usage_repo`` recognises its own item).

Connections are kept alive and shared by the threads of a process (at most ``max_connections`` kept idle); one
the store closed while idle is noticed before it is used, and a connection that failed is never used again.

``AFTER_CALL`` hooks see every request and answer (``bench.counting`` prices them there, as it does botocore's
``after-call`` event).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
import urllib.request
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import h11
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.httpsession import where
from botocore.utils import normalize_url_path
from urllib3.util.wait import wait_for_read

from infra.codec import compact_json
from infra.dynamo import CLIENT_CONFIG, MAX_RETRIES, bulk_writer_client, dynamodb_client
from infra.settings import Settings

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
SERVICE = "dynamodb"
#: Called after every request: ``hook(operation, params, answer, status)`` (answer: the parsed JSON body).
AFTER_CALL: list[Callable[[str, dict[str, Any], dict[str, Any], int], None]] = []
#: Largest status line and headers of an answer.
MAX_LINE = 65_536
#: Bytes asked of the socket at a time.
RECEIVE = 65_536


class Signer:
    """Signature Version 4 of a DynamoDB JSON request, as botocore's ``SigV4Auth`` signs it for this client: the
    headers ``content-type``, ``host``, ``x-amz-date``, ``x-amz-security-token`` (with a session token) and
    ``x-amz-target``, the body's SHA-256. The signing key (four HMACs of the secret, the day, the region and the
    service) is derived once per secret and day."""

    def __init__(self, host: str, path: str, region: str):
        self.host = host
        self.path = quote(normalize_url_path(path), safe="/~")  # as botocore's canonical request has it
        self.region = region
        self._keys: tuple[str, str, bytes] | None = None  # (secret, day, signing key)

    def signing_key(self, secret: str, day: str) -> bytes:
        cached = self._keys
        if cached is not None and cached[0] == secret and cached[1] == day:
            return cached[2]
        key = ("AWS4" + secret).encode()
        for part in (day, self.region, SERVICE, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        self._keys = (secret, day, key)
        return key

    def headers(self, target: str, body: bytes, access_key: str, secret: str, token: str | None,
                timestamp: str) -> list[tuple[str, str]]:
        """The headers that sign the request at ``timestamp`` (``YYYYMMDDTHHMMSSZ``): ``X-Amz-Date``,
        ``X-Amz-Security-Token`` with a token, and ``Authorization``."""
        day = timestamp[:8]
        if token:
            canonical_headers = (f"content-type:{CONTENT_TYPE}\nhost:{self.host}\nx-amz-date:{timestamp}\n"
                                 f"x-amz-security-token:{' '.join(token.split())}\nx-amz-target:{target}\n")
            signed = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
        else:
            canonical_headers = f"content-type:{CONTENT_TYPE}\nhost:{self.host}\nx-amz-date:{timestamp}\n" \
                                f"x-amz-target:{target}\n"
            signed = "content-type;host;x-amz-date;x-amz-target"
        canonical = f"POST\n{self.path}\n\n{canonical_headers}\n{signed}\n{hashlib.sha256(body).hexdigest()}"
        scope = f"{day}/{self.region}/{SERVICE}/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self.signing_key(secret, day), to_sign.encode(), hashlib.sha256).hexdigest()
        headers = [("X-Amz-Date", timestamp)]
        if token:
            headers.append(("X-Amz-Security-Token", token))
        headers.append(("Authorization", f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                                         f"SignedHeaders={signed}, Signature={signature}"))
        return headers


def amz_date(now: float | None = None) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))


def _breaks(text: str) -> bool:
    return "\n" in text or "\r" in text


class Broken(Exception):
    """The connection failed or answered something that is not HTTP/1.1: it is closed, never used again."""


class _Connection:
    """One kept-alive connection to the endpoint: HTTP/1.1 as ``h11`` (the protocol library uvicorn and httpx
    use) frames it — the request written in one piece, its answer read back whatever its framing
    (Content-Length, chunked, to the end of the connection; 1xx skipped)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.http = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_LINE)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def exchange(self, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, dict[str, str], bytes,
                                                                                            bool]:
        """Status, headers (lower-case names), body and whether the connection may be used again."""
        http = self.http
        try:
            self.sock.sendall(http.send(h11.Request(method="POST", target=path, headers=headers))
                              + http.send(h11.Data(data=body)) + http.send(h11.EndOfMessage()))
            status, answer_headers, chunks = 0, dict[str, str](), list[bytes]()
            while True:
                event = http.next_event()
                if event is h11.NEED_DATA:
                    http.receive_data(self.sock.recv(RECEIVE))  # b"": the store closed the connection
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    for name, value in event.headers:  # names come lower-cased
                        key, text = name.decode("latin-1"), value.decode("latin-1")
                        answer_headers[key] = f"{answer_headers[key]}, {text}" if key in answer_headers else text
                elif isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                elif isinstance(event, h11.ConnectionClosed):
                    raise Broken("the connection was closed before the answer came")
                # an h11.InformationalResponse (1xx) is skipped, as the standard says
        except (h11.RemoteProtocolError, h11.LocalProtocolError) as exc:
            raise Broken(str(exc)) from exc
        keep = http.our_state is h11.DONE and http.their_state is h11.DONE
        if keep:
            http.start_next_cycle()
        return status, answer_headers, b"".join(chunks), keep


class DirectClient:
    """``put_item(**params)`` as botocore's DynamoDB client answers it (see the module docstring)."""

    def __init__(self, endpoint_url: str, region: str, credentials: Any, max_connections: int = 32):
        self.url = endpoint_url.rstrip("/") + "/"
        self.region = region
        self.credentials = credentials
        parts = urlsplit(self.url)
        self.tls = parts.scheme == "https"
        self.hostname = parts.hostname or ""
        self.port = parts.port or (443 if self.tls else 80)
        default_port = parts.port is None or parts.port == (443 if self.tls else 80)
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        self.host = host if default_port else f"{host}:{parts.port}"  # the Host header, as botocore signs it
        self.path = parts.path or "/"
        self.signer = Signer(self.host, self.path, region)
        self.user_agent = CLIENT_CONFIG.user_agent or "usage-backend"
        self.connect_timeout = float(CLIENT_CONFIG.connect_timeout)
        self.read_timeout = float(CLIENT_CONFIG.read_timeout)
        self.max_connections = max_connections
        self.tls_context = ssl.create_default_context(cafile=where()) if self.tls else None
        self._idle: deque[_Connection] = deque()
        if _breaks(self.host + self.path + self.user_agent):
            raise ValueError("the endpoint or the user agent holds a line break")
        self._head = [("Host", self.host), ("Content-Type", CONTENT_TYPE), ("User-Agent", self.user_agent)]

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self.call("PutItem", params)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        body = compact_json(params).encode()
        frozen = self.credentials.get_frozen_credentials() if self.credentials is not None else None
        if frozen is None or frozen.access_key is None:
            raise NoCredentialsError()
        if _breaks(frozen.access_key) or (frozen.token and _breaks(frozen.token)):
            raise NoCredentialsError()  # not a header value: botocore would refuse to send it too
        target = TARGET_PREFIX + operation
        signed = self.signer.headers(target, body, frozen.access_key, frozen.secret_key, frozen.token, amz_date())
        headers = [*self._head, ("X-Amz-Target", target), ("Content-Length", str(len(body))), *signed]
        status, data = self._send(headers, body)
        try:
            answer: dict[str, Any] = json.loads(data) if data else {}
        except ValueError:
            answer = {"message": data[:200].decode("utf-8", "replace")}
        for hook in AFTER_CALL:
            hook(operation, params, answer, status)
        if status == 200:
            return answer
        raise ClientError(error_response(answer, status), operation)

    def _send(self, request_headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
        connection = self._connection()
        try:
            status, headers, data, keep = connection.exchange(self.path, request_headers, body)
            crc = headers.get("x-amz-crc32")
            if crc is not None and crc.isdigit() and zlib.crc32(data) != int(crc):
                raise Broken("the answer does not match its x-amz-crc32")
        except TimeoutError as exc:
            connection.close()
            raise ReadTimeoutError(endpoint_url=self.url, error=exc) from exc
        except (OSError, Broken, ValueError) as exc:  # reset, closed, or a broken answer
            connection.close()
            raise ConnectionClosedError(endpoint_url=self.url, error=exc) from exc
        if keep and len(self._idle) < self.max_connections:
            self._idle.append(connection)
        else:
            connection.close()
        return status, data

    def _connection(self) -> _Connection:
        """An idle connection the store has not closed meanwhile, else a new one."""
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                break
            if not wait_for_read(connection.sock, timeout=0.0):  # readable while idle: closed (or junk)
                return connection
            connection.close()
        try:
            sock = socket.create_connection((self.hostname, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise EndpointConnectionError(endpoint_url=self.url, error=exc) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls_context is not None:
                sock = self.tls_context.wrap_socket(sock, server_hostname=self.hostname)
            sock.settimeout(self.read_timeout)
        except OSError as exc:
            sock.close()
            raise EndpointConnectionError(endpoint_url=self.url, error=exc) from exc
        return _Connection(sock)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


def error_response(answer: dict[str, Any], status: int) -> dict[str, Any]:
    """botocore's error response of a DynamoDB answer: ``Error`` (code, message), the other fields as they are."""
    kind = str(answer.get("__type") or "")
    code = kind.rsplit("#", 1)[-1] if kind else ("InternalServerError" if status >= 500 else f"HTTP{status}")
    message = answer.get("message", answer.get("Message", ""))
    rest = {k: v for k, v in answer.items() if k not in ("__type", "message", "Message")}
    return {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}, **rest}


#: botocore's standard retry mode: its throttling and transient error codes ...
RETRYABLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
    "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException", "InternalServerError",
    "ServiceUnavailable"})
#: ... and HTTP statuses
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: a request that got no answer
WIRE_ERRORS = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)


def retryable(exc: BaseException) -> bool:
    """Whether botocore's standard retry mode would send the request again."""
    if isinstance(exc, WIRE_ERRORS):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return exc.response.get("Error", {}).get("Code") in RETRYABLE_CODES or status in RETRYABLE_STATUSES
    return False


class DirectReads:
    """``query``, ``batch_get_item``, ``get_item`` and ``transact_write_items`` as botocore's DynamoDB client
    answers them (the items as the wire has them, as ``infra.dynamo_kit.keep_items_raw`` makes botocore hand them
    over; a failure as the ``ClientError`` botocore raises, with a cancelled transaction's ``CancellationReasons``),
    sent by ``direct`` and retried as botocore's standard mode retries (``retryable``), with
    ``infra.dynamo_kit.backoff`` between attempts, ``attempts`` in all (botocore's: the first and
    ``infra.dynamo.MAX_RETRIES`` retries). Any other operation
    goes to ``botocore`` (the client this stands in for), when one is given.

    Sending again is safe for what goes through here: reads, and transactions that carry a ``ClientRequestToken``
    (``transact_write(token=True)``: DynamoDB treats the second as the first) and whose every write is
    conditioned anyway. ~0.1 ms of CPU per small Query instead of ~0.85 ms through botocore: the PERIOD_CLOSED
    gate's reads on every recordUsage call (``infra.period_gate``) and rating's reads and transactions
    (``infra.rating_repo.rate_stream``)."""

    def __init__(self, direct: DirectClient, botocore: Any = None, attempts: int | None = None):
        self.direct = direct
        self.botocore = botocore
        self.attempts = attempts or MAX_RETRIES + 1  # the first attempt and botocore's retries

    def query(self, **params: Any) -> dict[str, Any]:
        return self.call("Query", params)

    def batch_get_item(self, **params: Any) -> dict[str, Any]:
        return self.call("BatchGetItem", params)

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self.call("GetItem", params)

    def transact_write_items(self, **params: Any) -> dict[str, Any]:
        return self.call("TransactWriteItems", params)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        from infra.dynamo_kit import backoff  # the toolkit imports botocore's pieces this module leaves out

        for attempt in range(self.attempts):
            try:
                return self.direct.call(operation, params)
            except (ClientError, *WIRE_ERRORS) as exc:
                if attempt == self.attempts - 1 or not retryable(exc):
                    raise
            backoff(attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def __getattr__(self, name: str) -> Any:
        botocore = self.__dict__.get("botocore")
        if botocore is None:
            raise AttributeError(name)
        return getattr(botocore, name)


def direct_reads_client(settings: Settings | None = None) -> Any:
    """The client of the reads asked on every recordUsage call and of rating's reads and transactions: a
    ``DirectReads`` over ``direct_put_client``'s connections (botocore's client for anything else), or botocore's
    own DynamoDB client behind a proxy."""
    direct = direct_put_client(settings)
    if not isinstance(direct, DirectClient):
        return dynamodb_client(settings)
    reads = _reads.get(direct)
    if reads is None:
        if len(_reads) > 16:
            _reads.clear()
        reads = _reads[direct] = DirectReads(direct, dynamodb_client(settings))
    return reads


_reads: dict[DirectClient, DirectReads] = {}
_CREATING = threading.Lock()
#: by the botocore client each stands in for: a new one (``infra.dynamo.reset_clients``) gets a new DirectClient
_clients: dict[Any, Any] = {}


def behind_proxy(url: str) -> bool:
    """Whether the environment sends requests for ``url`` through a proxy (then botocore's client is used)."""
    proxies = urllib.request.getproxies()
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return scheme in proxies and not urllib.request.proxy_bypass(host)


def direct_put_client(settings: Settings | None = None) -> Any:
    """The client usage inserts go through: a ``DirectClient`` for the endpoint and region of
    ``bulk_writer_client`` (one per process), or that botocore client itself behind a proxy."""
    client = bulk_writer_client(settings)
    direct = _clients.get(client)
    if direct is None:
        with _CREATING:
            direct = _clients.get(client)
            if direct is None:
                import boto3

                url, region = client.meta.endpoint_url, client.meta.region_name
                direct = client if behind_proxy(url) else \
                    DirectClient(url, region, boto3.session.Session().get_credentials())
                if len(_clients) > 16:
                    _clients.clear()
                _clients[client] = direct
    return direct


def reset_clients() -> None:
    with _CREATING:
        _clients.clear()
        _reads.clear()
