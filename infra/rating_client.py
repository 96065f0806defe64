"""The client rating's requests go through: its reads (Query, BatchGetItem, GetItem) and its transactions sent
straight over HTTP by ``infra.dynamo_direct.DirectClient``, as the usage inserts are, instead of through botocore.

Why: a rating batch sends a request per account, wallet or summary it sees for the first time (an account's
Query, a wallet's counter Query), one consistent BatchGetItem of its accounts' subscriptions versions, and its
transactions — and through botocore each request costs ~0.5 ms of CPU on top of its content (the parameters and
the answer walked through the service model, a dozen event hooks, endpoint rules, signing). ``DirectClient``
sends the same request (DynamoDB's JSON protocol, the parameters as they are — they are AttributeValues already —
signed with Signature Version 4) and hands the answer over as its JSON holds it: the items as
``infra.dynamo_kit.keep_items_raw`` gives them, a failure as the ``ClientError`` botocore raises (code, message,
``CancellationReasons`` of a cancelled transaction).

What botocore's retries did (``infra.dynamo.CLIENT_CONFIG``: standard mode, 8 attempts), ``RatingClient`` does:
throttling and transient errors (the error codes and HTTP statuses of botocore's standard retry mode, a
connection that failed, closed or timed out) are sent again after ``infra.dynamo_kit.backoff``, up to
``ATTEMPTS`` attempts in all. Sending again is safe for every request here: reads, and transactions that carry a
``ClientRequestToken`` (``transact_write(token=True)``: DynamoDB treats the second as the first) and whose every
write is conditioned anyway. Any other operation goes to botocore's client. Behind an HTTP proxy rating keeps
botocore's clients (``rating_client`` is None: ``direct_put_client`` falls back to botocore there).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from infra.dynamo import CLIENT_CONFIG, dynamodb_client
from infra.dynamo_direct import DirectClient, direct_put_client
from infra.dynamo_kit import backoff
from infra.settings import Settings

#: attempts per request in all, as botocore's (``CLIENT_CONFIG``)
ATTEMPTS = int((CLIENT_CONFIG.retries or {}).get("max_attempts", 8))
#: botocore's standard retry mode: throttling and transient error codes ...
RETRY_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
    "PriorRequestNotComplete", "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException",
    "InternalServerError", "ServiceUnavailable"})
#: ... and HTTP statuses
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: a request that did not get an answer
WIRE_ERRORS = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)


def retryable(exc: BaseException) -> bool:
    """Whether botocore's standard retry mode would send the request again."""
    if isinstance(exc, WIRE_ERRORS):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return exc.response.get("Error", {}).get("Code") in RETRY_CODES or status in RETRY_STATUSES
    return False


class RatingClient:
    """``query``, ``batch_get_item``, ``get_item`` and ``transact_write_items`` as botocore's DynamoDB client
    answers them, sent by ``direct`` (with retries, see the module docstring); anything else is ``botocore``'s."""

    def __init__(self, direct: DirectClient, botocore: Any):
        self.direct = direct
        self.botocore = botocore

    def query(self, **params: Any) -> dict[str, Any]:
        return self.call("Query", params)

    def batch_get_item(self, **params: Any) -> dict[str, Any]:
        return self.call("BatchGetItem", params)

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self.call("GetItem", params)

    def transact_write_items(self, **params: Any) -> dict[str, Any]:
        return self.call("TransactWriteItems", params)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(ATTEMPTS):
            try:
                return self.direct.call(operation, params)
            except (ClientError, *WIRE_ERRORS) as exc:
                if attempt == ATTEMPTS - 1 or not retryable(exc):
                    raise
            backoff(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def __getattr__(self, name: str) -> Any:
        return getattr(self.botocore, name)


def rating_client(settings: Settings | None = None) -> RatingClient | None:
    """The client of rating's reads and transactions: a ``RatingClient`` (over the process's one ``DirectClient``,
    shared with the usage inserts); None behind a proxy (rating then uses botocore's clients, as before)."""
    direct = direct_put_client(settings)
    if not isinstance(direct, DirectClient):
        return None
    return RatingClient(direct, dynamodb_client(settings))
