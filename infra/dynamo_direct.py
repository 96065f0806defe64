"""DynamoDB's PutItem sent straight over HTTP: the request ingestion sends once per usage record.

Through botocore a small conditional PutItem costs ~0.6 ms of CPU (the parameters walked through the service
model, a dozen event hooks, endpoint rules, signing, the answer parsed through the model again); built here from
botocore's public pieces — ``SigV4Auth`` signs an ``AWSRequest`` — and sent on a urllib3 pool it costs ~0.35 ms
(measured on DynamoDB Local, 2026-12-06, 1,500 PutItems each way in one process). It is the same request on the
wire: DynamoDB's JSON protocol (``X-Amz-Target: DynamoDB_20120810.PutItem``), the caller's parameters as they are
(they are already AttributeValues), signed with Signature Version 4.

What botocore does besides, this does too, with botocore's own parts:

- **endpoint and region**: those of the botocore client it stands in for (``client.meta``: the region's endpoint,
  or ``AWS_ENDPOINT_URL_DYNAMODB``); behind an HTTP proxy (``HTTPS_PROXY``…), use the botocore client instead
  (``direct_put_client`` does);
- **credentials**: the session's provider chain, frozen per request, so refreshable credentials (a role's, the
  container's) are refreshed when they near expiry, and a session token is signed in;
- **TLS**: verified against botocore's CA bundle; connect and read timeouts as ``infra.dynamo.CLIENT_CONFIG``;
- **errors**: an answer other than 200 raises botocore's ``ClientError`` with DynamoDB's error code (the part of
  ``__type`` after ``#``), its message and the rest of the answer (``Item`` of a failed condition with
  ``ReturnValuesOnConditionCheckFailure``) — what botocore raises; a failure on the wire raises botocore's
  ``EndpointConnectionError``/``ConnectionClosedError``/``ReadTimeoutError``. Nothing is retried here: the
  caller retries throttling and transient failures with ``infra.dynamo_kit.backoff`` (a PutItem conditioned on
  ``attribute_not_exists`` is safe to send again; ``infra.usage_repo`` recognises its own item).

``AFTER_CALL`` hooks see every request and answer (``bench.counting`` prices them there, as it does botocore's
``after-call`` event).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.httpsession import where

from infra.dynamo import CLIENT_CONFIG, bulk_writer_client
from infra.settings import Settings

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
#: Called after every request: ``hook(operation, params, answer, status)`` (answer: the parsed JSON body).
AFTER_CALL: list[Callable[[str, dict[str, Any], dict[str, Any], int], None]] = []


class DirectClient:
    """``put_item(**params)`` as botocore's DynamoDB client answers it (see the module docstring)."""

    def __init__(self, endpoint_url: str, region: str, credentials: Any, max_connections: int = 32):
        self.url = endpoint_url.rstrip("/") + "/"
        self.region = region
        self.credentials = credentials
        timeout = urllib3.Timeout(connect=CLIENT_CONFIG.connect_timeout, read=CLIENT_CONFIG.read_timeout)
        tls: dict[str, Any] = {"ca_certs": where(), "cert_reqs": "CERT_REQUIRED"} if self.url.startswith("https:") \
            else {}
        # the endpoint's own pool: a PoolManager would parse the URL and look its pool up on every request
        self.pool = urllib3.connection_from_url(self.url, maxsize=max_connections, timeout=timeout, retries=False,
                                                **tls)
        self.path = urllib3.util.parse_url(self.url).path or "/"
        self.user_agent = CLIENT_CONFIG.user_agent or "usage-backend"

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self.call("PutItem", params)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(params, separators=(",", ":")).encode()
        frozen = self.credentials.get_frozen_credentials() if self.credentials is not None else None
        if frozen is None or frozen.access_key is None:
            raise NoCredentialsError()
        request = AWSRequest("POST", self.url, data=body, headers={
            "Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + operation, "User-Agent": self.user_agent})
        SigV4Auth(frozen, "dynamodb", self.region).add_auth(request)
        try:
            response = self.pool.urlopen("POST", self.path, body=body, headers=dict(request.headers.items()),
                                         preload_content=True, redirect=False, assert_same_host=False)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise ReadTimeoutError(endpoint_url=self.url, error=exc) from exc
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as exc:
            raise EndpointConnectionError(endpoint_url=self.url, error=exc) from exc
        except urllib3.exceptions.HTTPError as exc:  # reset, closed, or a broken answer
            raise ConnectionClosedError(endpoint_url=self.url, error=exc) from exc
        status = response.status
        try:
            answer: dict[str, Any] = json.loads(response.data) if response.data else {}
        except ValueError:
            answer = {"message": response.data[:200].decode("utf-8", "replace")}
        for hook in AFTER_CALL:
            hook(operation, params, answer, status)
        if status == 200:
            return answer
        raise ClientError(error_response(answer, status), operation)


def error_response(answer: dict[str, Any], status: int) -> dict[str, Any]:
    """botocore's error response of a DynamoDB answer: ``Error`` (code, message), the other fields as they are."""
    kind = str(answer.get("__type") or "")
    code = kind.rsplit("#", 1)[-1] if kind else ("InternalServerError" if status >= 500 else f"HTTP{status}")
    message = answer.get("message", answer.get("Message", ""))
    rest = {k: v for k, v in answer.items() if k not in ("__type", "message", "Message")}
    return {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}, **rest}


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
