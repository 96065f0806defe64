"""The one data-access toolkit every repository uses: the item codec, paginated Query, BatchGetItem, TransactWriteItems
with its cancellation reasons, and the backoff between retries. Each mechanism exists here once.

- **Codec**: boto3's ``TypeSerializer``/``TypeDeserializer`` (``to_attributes`` / ``from_attributes``, the same
  values by a direct path for the common types), over the
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
- **Reads as the wire has them**: ``keep_items_raw(client)`` hands the items of Query, Scan, GetItem and
  BatchGetItem answers over as the JSON body holds them, skipping botocore's model-driven walk of every attribute
  value (the same AttributeValue dicts, for every type but binary, which is left to botocore).
- **Writes as built**: ``send_as_built(client)`` has a client without parameter validation send the writes whose
  AttributeValues the project builds itself (TransactWriteItems, PutItem, BatchWriteItem) as ``json.dumps`` of
  the parameters — the bytes botocore's serializer would make, without its walk over the model for every value.
- **Backoff**: ``backoff(attempt)`` sleeps a "full jitter" exponential delay — uniform in
  ``[0, min(BACKOFF_CAP_S, BACKOFF_BASE_S × 2^attempt)]`` — the one policy for every retry the project makes
  itself (unprocessed keys, transactions cancelled by a concurrent writer, a throttled PutItem). Throttled
  requests as such are retried by botocore (``infra.dynamo.CLIENT_CONFIG``: standard mode, 8 attempts) first.
"""

from __future__ import annotations

import json
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
    """One AttributeValue as a plain value (numbers as Decimal): what boto3's ``TypeDeserializer`` makes of it, by
    one lookup per value for strings, numbers, maps, lists, booleans and nulls; sets and binary values are left
    to ``TypeDeserializer``."""
    if len(value) == 1:
        (kind, inner), = value.items()
        if kind == "S":
            return inner
        if kind == "N":
            return DYNAMODB_CONTEXT.create_decimal(inner)
        if kind == "M":
            return {k: from_attribute(v) for k, v in inner.items()}
        if kind == "L":
            return [from_attribute(v) for v in inner]
        if kind == "BOOL":
            return inner
        if kind == "NULL":
            return None
    return _deserializer.deserialize(value)


def from_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item (or a stream image) in DynamoDB JSON as a plain dict (numbers as Decimal)."""
    return {k: from_attribute(v) for k, v in item.items()}


# ---------------------------------------------------------------------------------------------- raw items
#: the keys of each read's answer that hold items (AttributeValue maps)
_ITEM_KEYS = {"Query": "Items", "Scan": "Items", "GetItem": "Item", "BatchGetItem": "Responses"}


def keep_items_raw(client: Any) -> None:
    """Have this DynamoDB client's reads return their items straight from the response's JSON.

    botocore parses an answer's JSON and then walks the output model over every attribute value of every item,
    rebuilding each dict — the same dicts DynamoDB's JSON already is (only binary values are base64 on the wire
    and bytes after botocore); the larger the items (a subscription, a summary: nests of maps), the more it
    costs. Answers that may hold a binary value, and errors, are parsed by botocore as before.
    """
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return
    for operation in _ITEM_KEYS:
        events.register(f"before-parse.dynamodb.{operation}", _raw_items, unique_id=f"raw-items-{operation}")


def _raw_items(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], operation_model: Any,
               **_: Any) -> None:
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not isinstance(body, bytes | bytearray):
        return
    if b'"B"' in body or b'"BS"' in body:  # maybe a binary value (or a name that looks like one): botocore's way
        return
    key = _ITEM_KEYS.get(operation_model.name)
    answer = json.loads(body)
    if key is None or key not in answer:
        return
    customized_response_dict[key] = answer.pop(key)  # botocore puts it back over the parse of the rest
    response_dict["body"] = json.dumps(answer).encode()


# ---------------------------------------------------------------------------------------------- writes as built
#: the writes ``send_as_built`` sends as built (their parameters are AttributeValues the project built)
AS_BUILT = frozenset({"TransactWriteItems", "PutItem", "BatchWriteItem"})
_AS_BUILT = "usage_as_built"


def send_as_built(client: Any) -> None:
    """Have this client (one without parameter validation: ``infra.dynamo.bulk_writer_client``) send the
    requests of ``AS_BUILT`` with the body ``json.dumps(params)``.

    For DynamoDB's JSON protocol that is the body botocore makes, for every parameter but binary values (which
    botocore base64-encodes): requests ``json`` cannot encode (bytes, Decimals, sets) go botocore's way. botocore's
    serializer walks the model over every AttributeValue of every item — about a sixth of rating's CPU (sampled)
    for its transactions of 100 items — so the parameters it serializes are cut down to what endpoint resolution reads
    (the table names); the whole body is put in before the request is signed (``before-sign``: so it is what is
    signed and sent, on every retry), and the parameters are put back for the handlers that read them after the
    call (``bench.counting``). Registered last, after any handler that reads the parameters first.
    """
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None:
        return
    events.register_last("before-parameter-build.dynamodb", _build_body, unique_id="usage-as-built-params")
    events.register("before-sign.dynamodb", _put_body, unique_id="usage-as-built-body")


def _build_body(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    if model.name not in AS_BUILT or any(v is None for v in params.values()):  # botocore leaves None out
        return
    tokens = {name: str(uuid.uuid4()) for name, shape in model.input_shape.members.items()
              if shape.metadata.get("idempotencyToken") and name not in params}  # as botocore fills them in
    try:
        body = json.dumps({**params, **tokens} if tokens else params).encode()
    except (TypeError, ValueError):  # bytes (binary values), Decimals, sets: botocore's way
        return
    stand_in = _stand_in(model.name, params)
    context[_AS_BUILT] = (body, params, dict(params))
    params.clear()
    params.update(stand_in)


def _put_body(request: Any, **_: Any) -> None:
    built = getattr(request, "context", {}).get(_AS_BUILT)
    if built is None:
        return
    body, params, original = built
    request.data = body
    params.clear()
    params.update(original)  # as the caller passed them, for after-call handlers


def _stand_in(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """What botocore still serializes and resolves the endpoint from: the table names, nothing else — for a
    transaction each table once, in the order of first use (endpoint rules read whether the list of tables is set
    and its first one; a JMESPath walk over 100 items per request cost more than the rest of the stand-in)."""
    if operation == "TransactWriteItems":
        tables: dict[Any, str] = {}
        for entry in params.get("TransactItems", []):
            for action, body in entry.items():
                tables.setdefault(body.get("TableName"), action)
        return {"TransactItems": [{action: {"TableName": table}} for table, action in tables.items()]}
    if operation == "BatchWriteItem":
        return {"RequestItems": dict.fromkeys(params.get("RequestItems", {}), [])}
    return {"TableName": params.get("TableName")}


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
