"""The usage table: one item per usage record, written exactly once, read by id or by account.

Item layout (keys built in ``infra.keys``, section "usage records"):

    pk      S  T#{tenant}#U#{record id}             record id = core.usage.usage_record_id(tenant, idempotency key)
    sk      S  U
    kind    S  UsageRecord
    gsi1pk  S  T#{tenant}#UA#{account external id}   gsi1 (projection ALL): an account's records,
    gsi1sk  S  {start time}#{record id}               newest start first
    tenant, resource_code, status (S), attempt (N)    what filters, stream FilterCriteria and conditions read
    correction_of, voided (BOOL), voided_by, error_code, error_message, corrected_by (S)   when set
    body    S  every other field ingestion writes, as compact JSON (``infra.codec``'s encoding: Decimals and
               datetimes as strings, ``"12.5"``, ``"2026-07-01T00:00:00.000000Z"``, enums by value)
    rated   S  the fields rating sets (``RATED_BODY``), the same way; absent until rated

A field that is not set (None, an empty tuple, ``voided`` false; in a booking, a field at its default) is not
stored. Packing the fields nobody filters or conditions on into two attributes keeps an item about the size it
would have with one attribute per field but a third of the attributes, which is what a store and every stream
reader pay for: per attribute, not per byte (on the embedded store a batch of stored usage records writes
about three times faster).

Writers own disjoint attributes and change them with UpdateItem, never by rewriting the item:
ingestion inserts the item (conditional on ``attribute_not_exists(pk)``), marks an original corrected
(``voided``, ``voided_by``) and sends records back to NEW (``status``, ``attempt``, ``error_*``); rating sets
``status``, ``error_*``, ``rated`` (``rated_update``) and ``corrected_by`` (``corrected_update``).

Stream images (NEW_AND_OLD_IMAGES) are these items; ``record_from_item`` decodes one in DynamoDB JSON (the
Lambda event's ``dynamodb.NewImage``), ``record_from_plain`` one already deserialized (Powertools'
``DynamoDBRecord.dynamodb.new_image``).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from core.catalog import UnitOfMeasure, UsageResource
from core.errors import Conflict
from core.usage import UsageRecord, UsageStatus
from infra import keys
from infra.catalog_repo import CatalogRepository
from infra.codec import compact_json, decode, encode, to_iso
from infra.dynamo_direct import direct_put_client
from infra.dynamo_kit import (
    StoreError,
    TransactionCancelled,
    backoff,
    batch_get,
    expression_values,
    from_attribute,
    key,
    query_pages,
    to_attribute,
    transact_write,
)
from infra.settings import get_settings
from infra.table_repo import TableRepository

if TYPE_CHECKING:  # ingestion's rules are imported by its composition below: rating reads records without them
    from core.ingestion import Ingestion
    from core.usage_validation import CatalogView, PeriodGate

KIND = "UsageRecord"
MAX_TRANSACTION_ITEMS = 100
MAX_ATTEMPTS = 10
#: The conditional PutItems of one insert call run on this many threads.
PUT_THREADS = 16
RETRYABLE = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded",
                       "RequestLimitExceeded", "None"})
RETRYABLE_PUT = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                           "InternalServerError", "ServiceUnavailable"})
#: Fields stored as attributes of their own: what filters, stream FilterCriteria and conditions read, and what
#: a writer other than the inserting one changes (``voided``/``voided_by``, ``status``/``attempt``/``error_*``,
#: ``corrected_by``). Every other field is packed into ``body`` (ingestion's) or ``rated`` (rating's).
TOP_LEVEL = ("tenant", "resource_code", "status", "attempt", "correction_of", "voided", "voided_by", "error_code",
             "error_message", "corrected_by")
#: The fields rating sets, packed into ``rated`` (``rated_update``, with ``status``, ``error_*``, ``corrected_by``).
RATED_BODY = ("quantity_in_default_unit", "debited_quantity", "overage_quantity", "rated_amount", "currency",
              "summary_id", "wallet_id", "processed_at", "debits", "bookings", "commitment_wallet_id",
              "commitment_debits")
_FIELDS = tuple(f.name for f in dataclasses.fields(UsageRecord))
_BODY = tuple(name for name in _FIELDS if name not in TOP_LEVEL and name not in RATED_BODY)
_ATTRIBUTES = frozenset((*TOP_LEVEL, "body", "rated"))  # what decodes


#: Storage refused a request for a reason that retrying will not fix (``infra.dynamo_kit.StoreError``, of which
#: ``UnprocessedKeysError`` is one).
UsageStoreError = StoreError


# ---------------------------------------------------------------------------------------------- item codec
def _lean(value: Any) -> Any:
    """``infra.codec.encode``, but a nested record (a summary booking) leaves out the fields at their default."""
    if isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
        return [{f.name: encode(v) for f in dataclasses.fields(element)
                 if (v := getattr(element, f.name)) != f.default or f.default is dataclasses.MISSING}
                for element in value]
    return encode(value)


#: ``_lean`` of the values most fields hold, by their exact type (one lookup instead of a chain of isinstance)
_PLAIN: dict[type, Callable[[Any], Any]] = {str: str, int: int, Decimal: lambda v: format(v, "f"), datetime: to_iso}


def _packed(record: UsageRecord, names: tuple[str, ...]) -> str | None:
    """The set fields among ``names`` as compact JSON (None when none is set). A booking into the record's own
    summary leaves its ``summary_id`` out (``record_from_plain`` puts it back): ~50 bytes that kept one rated
    record in fifteen just over 1 KB, and so at twice the write units."""
    fields = {}
    for name in names:
        value = getattr(record, name)
        if value is not None and value != ():
            plain = _PLAIN.get(type(value))
            fields[name] = plain(value) if plain is not None else _lean(value)
    own = record.summary_id
    for booking in fields.get("bookings", ()) if own is not None else ():
        if booking.get("summary_id") == own:
            del booking["summary_id"]
    return compact_json(fields) if fields else None


def to_item(record: UsageRecord) -> dict[str, Any]:
    """The DynamoDB item (AttributeValues) of a record."""
    item: dict[str, Any] = {
        **key(keys.usage_pk(record.tenant, record.id), keys.USAGE_SK),
        "kind": to_attribute(KIND),
        "gsi1pk": to_attribute(keys.usage_account_pk(record.tenant, record.account_external_id)),
        "gsi1sk": to_attribute(keys.usage_account_sk(to_iso(record.start_time), record.id)),
    }
    for name in TOP_LEVEL:
        value = getattr(record, name)
        if value is not None and value is not False:
            item[name] = to_attribute(encode(value))
    item["body"] = to_attribute(_packed(record, _BODY) or "{}")
    rated = _packed(record, RATED_BODY)
    if rated is not None:
        item["rated"] = to_attribute(rated)
    return item


def record_from_plain(image: Mapping[str, Any]) -> UsageRecord:
    """A record from a deserialized item (numbers as Decimal), e.g. Powertools' ``new_image``."""
    data = {name: image[name] for name in TOP_LEVEL if name in image}
    if "body" in image:
        data.update(json.loads(image["body"]))
    if "rated" in image:
        data.update(json.loads(image["rated"]))
        for booking in data.get("bookings") or ():
            booking.setdefault("summary_id", data.get("summary_id"))
    if data.get("dimensions"):
        data["dimensions"] = {k: _dimension(v) for k, v in data["dimensions"].items()}
    return decode(UsageRecord, data)


def record_from_item(item: Mapping[str, Any]) -> UsageRecord:
    """A record from an item in DynamoDB JSON (GetItem, Query, or a stream record's ``NewImage``/``OldImage``)."""
    return record_from_plain({name: from_attribute(value) for name, value in item.items() if name in _ATTRIBUTES})


def _dimension(value: Any) -> Any:
    if isinstance(value, Decimal):  # integers are stored as numbers; other decimals were stored as text
        return int(value) if value == value.to_integral_value() else format(value, "f")
    return value


_PUT_POOLS: dict[int, ThreadPoolExecutor] = {}
_PUT_POOLS_LOCK = threading.Lock()


def _put_pool(threads: int) -> ThreadPoolExecutor:
    """The process's threads for inserts, shared by every call: concurrent calls (uvicorn, `make serve`) queue their
    PutItems on the same ``threads`` instead of each starting its own (thread starts, and many more threads taking
    turns at the GIL, cost more CPU than the requests themselves on small calls)."""
    pool = _PUT_POOLS.get(threads)
    if pool is None:
        with _PUT_POOLS_LOCK:
            pool = _PUT_POOLS.get(threads)
            if pool is None:
                pool = _PUT_POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix=f"usage-put-{threads}")
    return pool


# ---------------------------------------------------------------------------------------------- repository
class UsageRepository(TableRepository):
    """One tenant's usage records (``core.ingestion.UsageStore``, and rating's ``RecordStore``)."""

    table_setting = "usage_table"

    def __init__(self, tenant: str, client: Any | None = None, table: str | None = None,
                 put_threads: int = PUT_THREADS):
        super().__init__(tenant, client, table)
        self.put_threads = put_threads

    def key(self, record_id: str) -> dict[str, Any]:
        return key(keys.usage_pk(self.tenant, record_id), keys.USAGE_SK)

    @property
    def insert_client(self) -> Any:
        """The client the inserts go through: the one given, else ``infra.dynamo_direct``'s PutItem sent straight
        over HTTP (the same request as botocore's, for about half its CPU; retried here)."""
        return self._client if self._client is not None else direct_put_client()

    # ------------------------------------------------------------------------------------------ reads
    def get(self, record_id: str) -> UsageRecord | None:
        item = self.client.get_item(TableName=self.table, Key=self.key(record_id), ConsistentRead=True).get("Item")
        return record_from_item(item) if item else None

    def get_many(self, record_ids: Iterable[str]) -> dict[str, UsageRecord]:
        """The records that exist among ``record_ids`` (BatchGetItem, 100 keys a call, consistent)."""
        wanted = [self.key(i) for i in dict.fromkeys(record_ids)]
        records = (record_from_item(item) for item in batch_get(self.client, self.table, wanted))
        return {record.id: record for record in records}

    def account_page(self, account_external_id: str, first: int, after: str | None = None,
                     status: UsageStatus | None = None, resource_code: str | None = None
                     ) -> tuple[list[tuple[str, UsageRecord]], bool]:
        """Up to ``first`` records of an account, newest start first, after the cursor ``after`` (a gsi1sk);
        (cursor, record) pairs and whether more follow. gsi1 holds keys and ``resource_code`` only (so rating's
        updates never write it): a Query on it (resource as its filter), then one consistent BatchGetItem of the
        page's records, whose status is filtered here."""
        condition = "gsi1pk = :pk" + (" AND gsi1sk < :after" if after else "")
        values = expression_values(pk=keys.usage_account_pk(self.tenant, account_external_id), after=after or None)
        request: dict[str, Any] = {"TableName": self.table, "IndexName": "gsi1", "KeyConditionExpression": condition,
                                   "ExpressionAttributeValues": values, "ScanIndexForward": False,
                                   "Limit": first + 1 if status is None else max(first + 1, 200)}
        if resource_code is not None:
            request["FilterExpression"] = "#resource = :resource"
            request["ExpressionAttributeNames"] = {"#resource": "resource_code"}
            values[":resource"] = to_attribute(resource_code)
        prefix = keys.usage_pk(self.tenant, "")
        page_items: list[tuple[str, UsageRecord]] = []
        for page in query_pages(self.client, request):
            entries = [(from_attribute(item["gsi1sk"]), from_attribute(item["pk"])[len(prefix):])
                       for item in page.get("Items", [])]
            records = self.get_many(record_id for _, record_id in entries)
            for cursor, record_id in entries:
                record = records.get(record_id)
                if record is None or (status is not None and record.status != status):
                    continue  # deleted since (never, today), or filtered out
                page_items.append((cursor, record))
                if len(page_items) > first:
                    return page_items[:first], True
        return page_items, False

    # ------------------------------------------------------------------------------------------ inserts
    def insert_new(self, records: Sequence[UsageRecord]) -> dict[str, UsageRecord]:
        """Insert each record unless its id exists — one conditional PutItem each (``attribute_not_exists(pk)``,
        one write unit; a transactional Put costs two) on ``put_threads`` threads; returns the stored originals of
        the ids that existed. A failed condition returns the stored item: when it is exactly what this call
        wrote (a Put sent again after its reply was lost), the record is ours and stays accepted. Each item is
        built by the task that sends it, so it lives only as long as its request (1,000 items built up front all
        outlived the young collections and set off full ones)."""
        entries = list(records)
        workers = min(self.put_threads, len(entries))
        if workers <= 1:
            found = [self._insert_one(entry) for entry in entries]
        else:
            found = self._insert_on_threads(entries, workers)
        return {record.id: record for record in found if record is not None}

    def _insert_on_threads(self, entries: list[UsageRecord], workers: int
                           ) -> list[UsageRecord | None]:
        """``_insert_one`` of every record, on ``workers`` tasks of the shared pool that each take the next entry
        until none is left: a call waits for ``workers`` tasks, not for one future per record (a thread woken per
        record, ~0.05 ms of CPU each at 16 threads). After a failure no entry is started; the first failure is
        raised once every task has stopped."""
        pending = iter(range(len(entries)))
        taking = threading.Lock()
        results: list[UsageRecord | None] = [None] * len(entries)
        failed: list[BaseException] = []

        def drain() -> None:
            while not failed:
                with taking:
                    index = next(pending, None)
                if index is None:
                    return
                try:
                    results[index] = self._insert_one(entries[index])
                except BaseException as exc:
                    failed.append(exc)
                    raise

        tasks = [_put_pool(self.put_threads).submit(drain) for _ in range(workers)]
        wait(tasks)
        if failed:
            raise failed[0]
        return results

    def _insert_one(self, record: UsageRecord) -> UsageRecord | None:
        """The stored original when the record's id exists, else None (inserted now)."""
        item = to_item(record)
        client = self.insert_client
        for attempt in range(MAX_ATTEMPTS):
            try:
                client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)",
                                ReturnValuesOnConditionCheckFailure="ALL_OLD")
                return None
            except (BotoConnectionError, HTTPClientError):  # sent again: a Put of ours that got in is recognised
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                backoff(attempt)
                continue
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "ConditionalCheckFailedException":
                    stored = exc.response.get("Item")
                    if stored is None:  # a store that does not return it: read it
                        stored = self.client.get_item(TableName=self.table, Key=self.key(record.id),
                                                      ConsistentRead=True).get("Item")
                        if stored is None:
                            continue  # gone meanwhile (never, today): try again
                    if stored.get("body") == item["body"] and stored.get("gsi1sk") == item["gsi1sk"]:
                        return None  # our own Put, sent again after its reply was lost
                    return record_from_item(stored)
                if code not in RETRYABLE_PUT:
                    raise UsageStoreError(f"usage record '{record.id}' was refused by storage: {code} "
                                          f"{exc.response.get('Error', {}).get('Message', '')}") from None
                backoff(attempt)
        raise UsageStoreError(f"usage record '{record.id}' could not be written after {MAX_ATTEMPTS} attempts "
                              "(the table is throttled); it was not accepted")

    # ------------------------------------------------------------------------------------------ corrections
    def write_correction(self, original: UsageRecord, correction: UsageRecord) -> UsageRecord:
        items = [
            {"Put": {"TableName": self.table, "Item": to_item(correction),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": self.table, "Key": self.key(original.id),
                        "UpdateExpression": "SET voided = :true, voided_by = :by",
                        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(voided_by)",
                        "ExpressionAttributeValues": expression_values(true=True, by=correction.id)}},
        ]
        for attempt in range(MAX_ATTEMPTS):
            try:
                transact_write(self.client, items, token=True)
                return dataclasses.replace(original, voided=True, voided_by=correction.id)
            except TransactionCancelled as exc:
                codes = exc.codes
                if "ConditionalCheckFailed" in codes:
                    raise Conflict(f"usage record '{original.id}' is corrected already") from None
                if not set(codes) <= RETRYABLE:
                    raise UsageStoreError(f"the correction was refused by storage: {codes}") from None
                backoff(attempt)
        raise UsageStoreError("the correction could not be written: the records stayed contended")

    # ------------------------------------------------------------------------------------------ reprocessing
    def requeue(self, records: Sequence[UsageRecord]) -> dict[str, UsageRecord | None]:
        """Each record (as read) back to NEW with attempt + 1, if unchanged since read and not corrected."""
        out: dict[str, UsageRecord | None] = {}
        for start in range(0, len(records), MAX_TRANSACTION_ITEMS):
            out.update(self._requeue_chunk(list(records[start:start + MAX_TRANSACTION_ITEMS])))
        return out

    def _requeue_update(self, record: UsageRecord) -> dict[str, Any]:
        return {"Update": {
            "TableName": self.table, "Key": self.key(record.id),
            "UpdateExpression": "SET #status = :new, attempt = :next REMOVE error_code, error_message",
            "ConditionExpression": "#status = :was AND attempt = :attempt AND attribute_not_exists(voided_by)",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": expression_values(new=UsageStatus.NEW.value, was=record.status.value,
                                                           attempt=record.attempt, next=record.attempt + 1)}}

    def _requeue_chunk(self, records: list[UsageRecord]) -> dict[str, UsageRecord | None]:
        out: dict[str, UsageRecord | None] = {}
        pending = records
        for attempt in range(MAX_ATTEMPTS):
            if not pending:
                return out
            items = [self._requeue_update(r) for r in pending]
            try:
                transact_write(self.client, items, token=True)
            except TransactionCancelled as exc:
                if len(exc.reasons) != len(items):
                    raise
                retry = []
                for record, item in zip(pending, items, strict=True):
                    reason = exc.reason_for(item)
                    code = reason.code if reason is not None else "None"
                    if code == "ConditionalCheckFailed":
                        out[record.id] = None
                    elif code in RETRYABLE:
                        retry.append(record)
                    else:
                        raise UsageStoreError(f"usage record '{record.id}' could not be requeued: {code}") from None
                pending = retry
                backoff(attempt)
                continue
            for record in pending:
                out[record.id] = dataclasses.replace(record, status=UsageStatus.NEW, attempt=record.attempt + 1,
                                                     error_code=None, error_message=None)
            return out
        raise UsageStoreError("records could not be set back to NEW: the records stayed contended")

    # ------------------------------------------------------------------------------------------ rating's writes
    def rated_update(self, record: UsageRecord, attempt: int) -> dict[str, Any]:
        """The transaction entry that stores what rating decided for ``record`` (status, error, rated fields,
        ``corrected_by``), once: conditioned on the stored record being NEW at ``attempt``."""
        sets = ["#status = :status"]
        removes: list[str] = []
        values = {":new": to_attribute(UsageStatus.NEW.value), ":attempt": to_attribute(attempt),  # per event: no
                  ":status": to_attribute(record.status.value)}  # keyword packing
        for name in ("error_code", "error_message", "corrected_by"):
            value = getattr(record, name)
            if value is None:
                removes.append(name)
            else:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = to_attribute(value)
        rated = _packed(record, RATED_BODY)
        if rated is None:
            removes.append("rated")
        else:
            sets.append("rated = :rated")
            values[":rated"] = to_attribute(rated)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {"Update": {
            "TableName": self.table, "Key": self.key(record.id), "UpdateExpression": expression,
            "ConditionExpression": "#status = :new AND attempt = :attempt",
            "ExpressionAttributeNames": {"#status": "status"}, "ExpressionAttributeValues": values}}

    def corrected_update(self, original_id: str, corrected_by: str) -> dict[str, Any]:
        """The transaction entry that marks an original as reversed by ``corrected_by``, exactly once."""
        return {"Update": {
            "TableName": self.table, "Key": self.key(original_id), "UpdateExpression": "SET corrected_by = :by",
            "ConditionExpression": "attribute_exists(pk) AND "
                                   "(attribute_not_exists(corrected_by) OR corrected_by = :by)",
            "ExpressionAttributeValues": expression_values(by=corrected_by)}}


# ---------------------------------------------------------------------------------------------- composition
#: How long a process trusts its copy of a tenant's units and resources for validating usage. A rejection the
#: catalog decides never stands on it (``core.ingestion.CATALOG_CODES``: validated again on a fresh read), so the
#: copy only delays the other way: a resource deactivated within this time may still take usage, which rating then
#: judges on its own reads (its catalog copy lives as long: ``infra.warm_state``).
CATALOG_WARM_S = 30.0


@dataclasses.dataclass
class _WarmCatalog:
    read_at: float
    units: dict[str, UnitOfMeasure]
    resources: dict[str, UsageResource | None]  # None: read, and absent


_WARM: dict[tuple[str, str], _WarmCatalog] = {}
_WARM_LOCK = threading.Lock()


class RepositoryCatalog:
    """``core.ingestion.CatalogSource`` over the tenant's catalog: the units and the resources asked for, kept warm
    per process for ``warm_s`` (a recordUsage call then reads no catalog item), read afresh when asked — unless
    this source read them itself within the last ``JUST_READ_S`` (the retry of the same call)."""

    JUST_READ_S = 1.0

    def __init__(self, repo: CatalogRepository, warm_s: float = CATALOG_WARM_S):
        self.repo = repo
        self.warm_s = warm_s
        self._read: _WarmCatalog | None = None  # what this source last read from storage itself

    def view(self, resource_codes: set[str], fresh: bool = False) -> CatalogView:
        codes = sorted(c for c in resource_codes if c)
        key = (self.repo.tenant, str(get_settings().catalog_table))
        now = time.monotonic()
        if fresh:
            entry, ttl = self._read, self.JUST_READ_S
        else:
            with _WARM_LOCK:
                entry = _WARM.get(key)
            ttl = self.warm_s
        if entry is None or now - entry.read_at >= ttl or not all(c in entry.resources for c in codes):
            entry = self._read_now(key, codes, now, CatalogRepository(self.repo.tenant) if fresh else self.repo)
        return _view(entry, codes)

    def _read_now(self, key: tuple[str, str], codes: list[str], now: float, repo: CatalogRepository) -> _WarmCatalog:
        units = {u.unit_code: u for u in repo.units_and_classes()[1]}
        found = repo.batch_get(UsageResource, codes) if codes else {}
        self._read = read = _WarmCatalog(now, units, {c: found.get(c) for c in codes})
        with _WARM_LOCK:
            warm = _WARM.get(key)
            if warm is not None and now - warm.read_at < self.warm_s and warm.units == units:
                # the resources read earlier stay, until the older read expires
                merged = _WarmCatalog(warm.read_at, units, {**warm.resources, **read.resources})
            else:
                merged = read
            if len(_WARM) > 1_000:
                _WARM.clear()
            _WARM[key] = merged
        return read


def _view(entry: _WarmCatalog, codes: list[str]) -> CatalogView:
    from core.usage_validation import CatalogView

    return CatalogView({c: r for c in codes if (r := entry.resources[c]) is not None}, entry.units)


def period_gate(tenant: str) -> PeriodGate:
    """The PERIOD_CLOSED gate of ingestion (``core.usage_validation.PeriodGate``): the summaries-backed gate of
    the summaries feature (``infra.period_gate.SummariesPeriodGate``: the record's billing period as rating would
    book it, closed once its waiting period passed or its summary is no longer OPEN)."""
    from infra.period_gate import SummariesPeriodGate  # the stream functions import this module for the records alone

    return SummariesPeriodGate()


def usage_ingestion(tenant: str, catalog: CatalogRepository | None = None, records: UsageRepository | None = None,
                    clock: Callable[[], datetime] | None = None) -> Ingestion:
    """Ingestion for one tenant, as the API and the bulk-file function use it (one per request or per file)."""
    from core.ingestion import Ingestion  # the stream functions import this module for the records alone

    kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
    catalog_source = RepositoryCatalog(catalog or CatalogRepository(tenant))
    stale_after = timedelta(seconds=get_settings().stale_new_after_s)
    return Ingestion(tenant, records or UsageRepository(tenant), catalog_source, period_gate(tenant),
                     stale_after=stale_after, **kwargs)
