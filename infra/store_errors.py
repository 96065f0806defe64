"""Storage failures a caller can act on, translated once: the store is unreachable, or it refused the input.

boto3 raises botocore's exceptions, which may sit anywhere in the chain of the exception a caller sees;
``translate`` walks the chain and answers the ``DomainError`` that stands for it, or None for a failure nobody
expected (a bug: masked).
"""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from core.errors import DomainError, ErrorCode
from infra.dynamo_kit import UnprocessedKeysError

#: DynamoDB answers meaning "not now": the request may succeed later, unchanged.
UNAVAILABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "ResourceNotFoundException", "LimitExceededException",
    "UnrecognizedClientException", "ExpiredTokenException", "AccessDeniedException",
})


def unavailable() -> DomainError:
    return DomainError(ErrorCode.STORE_UNAVAILABLE, "the data store is unavailable right now; retry later")


def translate(exc: BaseException) -> DomainError | None:
    """The typed error for a storage failure anywhere in ``exc``'s chain, or None when it is not one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (BotoConnectionError, HTTPClientError, UnprocessedKeysError)):
            return unavailable()  # unreachable, or too busy to answer a batch read after every retry
        if isinstance(current, ClientError):
            code = current.response.get("Error", {}).get("Code", "")
            if code in UNAVAILABLE_CODES:
                return unavailable()
            if code == "ValidationException":  # e.g. an item over 400 KB: the input is too large to store
                return DomainError(ErrorCode.INVALID_VALUE, "the store refused this input (a value is too large "
                                   "or malformed); shorten it")
            return None
        current = current.__cause__ or current.__context__
    return None
