"""The one data-access toolkit every repository uses: the item codec, paginated Query, BatchGetItem, TransactWriteItems
with its cancellation reasons, and the backoff between retries. Each mechanism exists here once.

- **Codec**: boto3's ``TypeSerializer``/``TypeDeserializer`` (``to_attributes`` / ``from_attributes``), over the
  plain values ``infra.codec.encode`` makes (Decimals and datetimes as strings, so nothing passes through a float).
  ``key(pk, sk)`` spells an item's key and ``expression_values(name=value)`` an expression's values through it,
  so no module but this one (and ``infra.codec``) writes a type tag (``{"S": ...}``; a test checks it).
- **Pagination**: ``query_pages`` yields a Query's pages (the caller stops when it has enough: no page more is
  read); ``query_items`` its items; ``query_all`` all of them.
- **BatchGetItem**: ``batch_get`` asks for 100 keys a call and retries ``UnprocessedKeys`` with ``backoff``, at
  most ``BATCH_GET_ATTEMPTS`` calls per 100 keys; keys still unprocessed then raise ``UnprocessedKeysError``.
- **Transactions**: ``transact_write`` sends TransactWriteItems; a cancellation raises ``TransactionCancelled``
  (still the ``ClientError`` botocore raised, so callers see the same error) whose reasons are attached to the
  item dicts that were sent, by identity (``reason_for(item)``), never by counting positions across chunks.
- **Backoff**: ``backoff(attempt)`` sleeps a "full jitter" exponential delay — uniform in
  ``[0, min(BACKOFF_CAP_S, BACKOFF_BASE_S × 2^attempt)]`` — the one policy for every retry the project makes
  itself (unprocessed keys, transactions cancelled by a concurrent writer, a throttled PutItem). Throttled
  requests as such are retried by botocore (``infra.dynamo.CLIENT_CONFIG``: standard mode, 8 attempts) first.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

# ---------------------------------------------------------------------------------------------- codec
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_attribute(value: Any) -> dict[str, Any]:
    """One plain value (str, bool, int, Decimal, dict, list, None, set) as a DynamoDB AttributeValue: boto3's
    ``TypeSerializer``, with a Decimal written in plain notation (``"100"``, never ``"1E+2"``; ``core.money.fmt``'s
    text — the same number to DynamoDB). The plain scalars, maps and lists — nearly all that rating's and
    ingestion's hot writes send — are spelled here directly: as the serializer spells them, at a fraction of its
    cost per value; everything else (None, sets, bytes; floats, which it refuses) goes through the serializer."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is Decimal:
        if value.is_finite():
            text = format(value, "f")
            if len(text) <= 38:  # shorter text cannot hold more digits than DynamoDB keeps
                return {"N": text}
        return {"N": _number(value)}
    if kind is dict:
        return {"M": {k: {"S": v} if type(v) is str else to_attribute(v) for k, v in value.items()}}
    if kind is list or kind is tuple:
        return {"L": [to_attribute(v) for v in value]}
    if kind is int:
        text = str(value)
        if len(text) <= 38:  # else the serializer refuses it (more digits than DynamoDB keeps)
            return {"N": text}
    elif kind is bool:
        return {"BOOL": value}
    return _serializer.serialize(value)


def _number(value: Decimal) -> str:
    """A Decimal that is not finite, or whose plain text is long, as DynamoDB number text: refused as the
    serializer refuses it (not finite, or more than 38 significant digits), else in plain notation."""
    if not value.is_finite():
        raise TypeError("Infinity and NaN not supported")
    DYNAMODB_CONTEXT.create_decimal(value)  # raises decimal.Inexact / Rounded beyond 38 digits
    return format(value, "f")


def to_attributes(data: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict (as ``infra.codec.encode`` makes them) as an item; None values are left out."""
    return {k: {"S": v} if type(v) is str else to_attribute(v) for k, v in data.items() if v is not None}


def key(pk: str, sk: str | None = None) -> dict[str, Any]:
    """The primary key of an item (``pk``/``sk``, both strings) as GetItem, UpdateItem and BatchGetItem want it;
    ``sk`` None: the partition key alone."""
    return {"pk": {"S": pk}} if sk is None else {"pk": {"S": pk}, "sk": {"S": sk}}


def expression_values(**values: Any) -> dict[str, Any]:
    """``ExpressionAttributeValues``: each keyword as ``:keyword`` through ``to_attribute``, in the order given
    (``expression_values(pk="T#a", low=3)`` → ``{":pk": {"S": "T#a"}, ":low": {"N": "3"}}``). None values are left
    out: DynamoDB refuses values that the expressions do not use, so a value set only when its condition is."""
    return {":" + name: {"S": value} if type(value) is str else to_attribute(value)
            for name, value in values.items() if value is not None}


def from_attribute(value: Mapping[str, Any]) -> Any:
    """One AttributeValue as a plain value (numbers as Decimal)."""
    return _deserializer.deserialize(value)


def from_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item (or a stream image) in DynamoDB JSON as a plain dict (numbers as Decimal)."""
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


# ---------------------------------------------------------------------------------------------- backoff
#: the delay before the first retry is at most this (seconds); it doubles with every attempt ...
BACKOFF_BASE_S = 0.01
#: ... up to this
BACKOFF_CAP_S = 0.5


def backoff_delay(attempt: int) -> float:
    """Full jitter: uniform in [0, min(cap, base × 2^attempt)] (attempt 0 is the first retry)."""
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt))


def backoff(attempt: int) -> None:
    """Sleep before retry number ``attempt`` (0-based) — the one retry policy of the project's own loops."""
    time.sleep(backoff_delay(attempt))


class StoreError(RuntimeError):
    """Storage refused a request for a reason that retrying now will not fix (a bug, a misconfiguration, or a
    store that stayed throttled through every retry)."""


# ---------------------------------------------------------------------------------------------- pagination
def query_pages(client: Any, request: dict[str, Any], next_limit: Callable[[], int] | None = None,
                operation: str = "query") -> Iterator[dict[str, Any]]:
    """The pages of a Query (or of a Scan: ``operation="scan"``), read one at a time as the caller asks for them;
    ``next_limit`` (when given) sets each page's ``Limit`` just before it is read (e.g. "what the caller still
    needs")."""
    request = dict(request)
    read = getattr(client, operation)
    while True:
        if next_limit is not None:
            request["Limit"] = next_limit()
        page = read(**request)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def query_items(client: Any, **request: Any) -> Iterator[dict[str, Any]]:
    """Every item of a Query, page after page, as the caller consumes them."""
    for page in query_pages(client, request):
        yield from page.get("Items", [])


def query_all(client: Any, **request: Any) -> list[dict[str, Any]]:
    """Every item of a Query, following pagination."""
    return list(query_items(client, **request))


def scan_all(client: Any, **request: Any) -> list[dict[str, Any]]:
    """Every item of a Scan (an operator's job, never a request path), following pagination."""
    return [item for page in query_pages(client, request, operation="scan") for item in page.get("Items", [])]


# ---------------------------------------------------------------------------------------------- batch get
BATCH_GET_LIMIT = 100
#: BatchGetItem calls per 100 keys before keys still unprocessed raise ``UnprocessedKeysError``
BATCH_GET_ATTEMPTS = 10


class UnprocessedKeysError(StoreError):
    """BatchGetItem still left keys unprocessed after ``BATCH_GET_ATTEMPTS`` calls (the table stayed throttled)."""


def batch_get(client: Any, table: str, keys: Sequence[Mapping[str, Any]], consistent: bool = True,
              attempts: int = BATCH_GET_ATTEMPTS, **options: Any) -> Iterator[dict[str, Any]]:
    """The items that exist among ``keys`` of ``table`` (100 keys a call), in no particular order. Unprocessed
    keys are asked for again after ``backoff``; after ``attempts`` calls for one 100 they raise
    ``UnprocessedKeysError``. ``options`` go into each table request as they are (``ProjectionExpression``,
    ``ExpressionAttributeNames``)."""
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {table: {"Keys": list(keys[start:start + BATCH_GET_LIMIT]),
                                           "ConsistentRead": consistent, **options}}
        for attempt in range(attempts):
            page = client.batch_get_item(RequestItems=request)
            yield from page.get("Responses", {}).get(table, [])
            request = page.get("UnprocessedKeys") or {}
            if not request:
                break
            if attempt < attempts - 1:
                backoff(attempt)
        else:
            raise UnprocessedKeysError(f"BatchGetItem left keys of {table} unprocessed after {attempts} calls")


# ---------------------------------------------------------------------------------------------- transactions
@dataclass(frozen=True)
class CancellationReason:
    """Why one item of a cancelled transaction failed: ``code`` is ``"None"`` for the items that did not."""

    item: Mapping[str, Any]
    code: str
    message: str | None = None
    old_item: Mapping[str, Any] | None = None  # with ReturnValuesOnConditionCheckFailure = ALL_OLD


class TransactionCancelled(ClientError):
    """TransactWriteItems was cancelled: the ``ClientError`` botocore raised, with each reason tied to the item
    it is about."""

    def __init__(self, error: ClientError, items: Sequence[Mapping[str, Any]]):
        super().__init__(error.response, error.operation_name)
        raw = list(error.response.get("CancellationReasons") or [])
        self.reasons: tuple[CancellationReason, ...] = tuple(
            CancellationReason(item, r.get("Code") or "None", r.get("Message"), r.get("Item"))
            for item, r in zip(items, raw, strict=False))
        self._by_item = {id(r.item): r for r in self.reasons}

    @property
    def codes(self) -> list[str]:
        """The codes in the order of the items sent ('None', 'ConditionalCheckFailed', 'TransactionConflict')."""
        return [r.code for r in self.reasons]

    def reason_for(self, item: Mapping[str, Any]) -> CancellationReason | None:
        """The reason of exactly this item dict (by identity); None when the store gave no reasons."""
        return self._by_item.get(id(item))

    def failed(self, code: str) -> list[Mapping[str, Any]]:
        """The items that failed with ``code``."""
        return [r.item for r in self.reasons if r.code == code]


def is_cancelled(exc: BaseException) -> bool:
    """Whether ``exc`` is a cancelled transaction (raised through ``transact_write`` or straight from botocore)."""
    return isinstance(exc, ClientError) and \
        exc.response.get("Error", {}).get("Code") == "TransactionCanceledException"


def cancellation_codes(exc: ClientError) -> list[str]:
    """The per-item codes of a cancelled transaction, in the order of the items sent."""
    if isinstance(exc, TransactionCancelled):
        return exc.codes
    return [r.get("Code") or "None" for r in exc.response.get("CancellationReasons") or []]


def transact_write(client: Any, items: Sequence[Mapping[str, Any]], token: bool = False) -> None:
    """One TransactWriteItems of ``items``. ``token``: send a fresh ClientRequestToken, so that the SDK's retry of
    a transaction whose response was lost is a no-op success. A cancellation raises ``TransactionCancelled``."""
    extra = {"ClientRequestToken": str(uuid.uuid4())} if token else {}
    try:
        client.transact_write_items(TransactItems=list(items), **extra)
    except ClientError as exc:
        if is_cancelled(exc):
            raise TransactionCancelled(exc, items) from None
        raise


# ---------------------------------------------------------------------------------------------- conditions
def condition_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is a single write's failed ``ConditionExpression`` (``ConditionalCheckFailedException``)."""
    return isinstance(exc, ClientError) and \
        exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
