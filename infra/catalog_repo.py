"""The catalog store over DynamoDB: one tenant per repository, every read a GetItem, BatchGetItem or Query.

A repository lives for one request (or one Lambda batch): it remembers what it read, so the service's checks
and the GraphQL loaders never read one item twice. Items are plain ``infra.items.CatalogItem``s through the
data-access toolkit (``infra.dynamo_kit``): every update and delete is conditioned on the ``version`` read
(``#v = :v``) and increments it; an insert is conditioned on ``attribute_not_exists(pk)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from core.catalog import (
    CatalogRecord,
    GrantBindingPolicy,
    Policy,
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    ResourcePolicy,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageResource,
)
from core.errors import Conflict, DomainError, ErrorCode
from core.values import immutable
from infra import keys
from infra.codec import decode, encode
from infra.dynamo_kit import (
    TransactionCancelled,
    batch_get,
    condition_failed,
    from_attribute,
    key,
    query_items,
    to_attributes,
    transact_write,
)
from infra.items import VERSION, CatalogItem
from infra.table_repo import TableRepository

T = TypeVar("T")
#: the catalog's index of the records pointing at a resource (``gsi1pk = T#{tenant}#REF#{resource}``)
RESOURCE_REFS = "gsi1"


@immutable
class KindSpec:
    cls: type
    key_of: Callable[[Any], str]
    sk: Callable[[str], str]
    ref: Callable[[Any], str | None] = lambda r: None  # resource code the record points at (GSI1)


KINDS: dict[type, KindSpec] = {spec.cls: spec for spec in [
    KindSpec(UnitOfMeasureClass, lambda r: r.code, keys.unit_class_sk),
    KindSpec(UnitOfMeasure, lambda r: r.unit_code, keys.unit_sk),
    KindSpec(UsageResource, lambda r: r.code, keys.resource_sk, lambda r: r.token_resource_code),
    KindSpec(ResourcePolicy, lambda r: r.resource_code, keys.resource_policy_sk),
    KindSpec(Product, lambda r: r.code, keys.product_sk),
    KindSpec(GrantBindingPolicy, lambda r: r.product_code, keys.binding_policy_sk),
    KindSpec(ProductUsageResource, lambda r: r.id, keys.pur_sk, lambda r: r.resource_code),
    KindSpec(ProductResourcePolicy, lambda r: r.pur_id, keys.product_resource_policy_sk),
    KindSpec(ProductUsageGrant, lambda r: r.id, keys.grant_sk),
    KindSpec(Policy, lambda r: r.id, keys.policy_sk),
    KindSpec(RateCard, lambda r: r.id, keys.rate_card_sk),
    KindSpec(RateCardEntry, lambda r: r.id, keys.rate_entry_sk, lambda r: r.resource_code),
]}
BY_NAME: dict[str, KindSpec] = {spec.cls.__name__: spec for spec in KINDS.values()}


def key_of(record: CatalogRecord) -> str:
    return KINDS[type(record)].key_of(record)


@dataclass
class ProductGraph:
    """A product with its whole owned nesting, as one Query returns it."""

    product: Product
    binding: GrantBindingPolicy | None = None
    purs: list[ProductUsageResource] = field(default_factory=list)
    grants: dict[str, list[ProductUsageGrant]] = field(default_factory=dict)
    policies: dict[str, ProductResourcePolicy] = field(default_factory=dict)

    def records(self) -> list[CatalogRecord]:
        out: list[CatalogRecord] = [self.product, *self.purs]
        out += [g for gs in self.grants.values() for g in gs]
        out += list(self.policies.values())
        if self.binding:
            out.append(self.binding)
        return out


@dataclass(frozen=True)
class Condition:
    """A ``ConditionExpression`` with its attribute names and plain values (encoded by the one codec when sent)."""

    expression: str
    names: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)

    def request(self) -> dict[str, Any]:
        """The condition's part of a write request."""
        out: dict[str, Any] = {"ConditionExpression": self.expression}
        if self.names:
            out["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            out["ExpressionAttributeValues"] = to_attributes(self.values)
        return out


#: a new item: nothing may exist under its key
NEW = Condition("attribute_not_exists(pk)")


def at_version(seen: int | None) -> Condition:
    """The item is still at the version read (``None``: it was read without one, so it may have none)."""
    if seen is None:
        return Condition("attribute_not_exists(#v)", {"#v": VERSION})
    return Condition("#v = :v", {"#v": VERSION}, {":v": seen})


class CatalogRepository(TableRepository):
    table_setting = "catalog_table"

    def __init__(self, tenant: str, client: Any | None = None, table: str | None = None):
        super().__init__(tenant, client, table)
        self.pk = keys.tenant_pk(tenant)
        self._cache: dict[tuple[type, str], Any] = {}
        self._versions: dict[tuple[type, str], int | None] = {}

    # ------------------------------------------------------------------------------------------ item mapping
    def _remember(self, raw: Mapping[str, Any]) -> CatalogRecord | None:
        return self._keep(CatalogItem.from_item(raw))

    def _keep(self, item: CatalogItem) -> CatalogRecord | None:
        spec = BY_NAME.get(item.kind)
        if spec is None:
            return None
        record: Any = decode(spec.cls, item.data)
        cache_key = (spec.cls, spec.key_of(record))
        self._cache[cache_key] = record
        self._versions[cache_key] = item.version
        return record

    def _item(self, record: CatalogRecord, version: int) -> CatalogItem:
        spec = KINDS[type(record)]
        sk = spec.sk(spec.key_of(record))
        ref = spec.ref(record)
        return CatalogItem(self.pk, sk, spec.cls.__name__, encode(record), version,
                           keys.resource_ref_pk(self.tenant, ref) if ref else None, sk if ref else None)

    # ------------------------------------------------------------------------------------------ reads
    def get(self, kind: type[T], key_: str) -> T | None:
        cache_key = (kind, key_)
        if cache_key not in self._cache:
            try:
                sk = KINDS[kind].sk(key_)
            except (ValueError, IndexError):  # an id of the wrong shape names nothing
                return None
            item = self.read_item(sk)
            if item is None or item.kind != kind.__name__:
                self._cache[cache_key] = None
            else:
                self._keep(item)
        return self._cache[cache_key]

    def batch_get(self, kind: type[T], keys_: Iterable[str]) -> dict[str, T]:
        keys_ = list(keys_)
        found = self.batch_get_mixed([(kind, k) for k in keys_])
        return {k: v for k in keys_ if (v := found.get((kind, k))) is not None}

    def batch_get_mixed(self, wanted: Iterable[tuple[type, str]]) -> dict[tuple[type, str], Any]:
        """Records of several kinds in one BatchGetItem (100 keys a call); absent keys are left out."""
        wanted = list(dict.fromkeys(wanted))
        missing = [(kind, key_) for kind, key_ in wanted if (kind, key_) not in self._cache]
        if missing:
            # consistent, like the catalog's Queries and GetItems: a record created a moment before an activation,
            # a subscription or a usage call (whose fresh re-check of a rejection reads here) is always seen; the
            # readers on the hot paths keep what they read warm, so the doubled read units hardly show
            wanted_keys = [key(self.pk, KINDS[kind].sk(key_)) for kind, key_ in missing]
            for raw in batch_get(self.client, self.table, wanted_keys, consistent=True):
                self._remember(raw)
            for cache_key in missing:
                self._cache.setdefault(cache_key, None)
        return {k: v for k in wanted if (v := self._cache.get(k)) is not None}

    def _query(self, condition: str, values: Mapping[str, str],
               page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """The tenant's items whose sort key matches ``condition`` (over ``:lo``/``:hi`` or ``:prefix``), in key
        order, a page at a time as the caller consumes them (``page_size`` items a page when given)."""
        request: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True, "KeyConditionExpression": f"pk = :pk AND {condition}",
            "ExpressionAttributeValues": to_attributes({":pk": self.pk, **values})}
        if page_size is not None:
            request["Limit"] = page_size
        return query_items(self.client, **request)

    def _between(self, low: str, high: str, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        return self._query("sk BETWEEN :lo AND :hi", {":lo": low, ":hi": high}, page_size)

    def _prefixed(self, prefix: str) -> Iterator[dict[str, Any]]:
        return self._query("begins_with(sk, :prefix)", {":prefix": prefix})

    def product_graph(self, code: str) -> ProductGraph | None:
        graphs, _ = self._graphs(self._between(*keys.product_range(code)), None)
        return graphs[0] if graphs else None

    def products_page(self, after: str | None, first: int,
                      accept: Callable[[Product], bool] = lambda p: True) -> tuple[list[ProductGraph], bool]:
        """Up to ``first`` products after ``after`` (code order), each with its nesting; and whether more exist."""
        low, high = keys.products_after(after)
        # a product with its nesting is ~10 items: size the requests to the page, not to the whole catalog
        return self._graphs(self._between(low, high, page_size=max(100, (first + 1) * 16)), first, accept)

    def _graphs(self, items: Iterable[dict[str, Any]], first: int | None,
                accept: Callable[[Product], bool] = lambda p: True) -> tuple[list[ProductGraph], bool]:
        graphs: list[ProductGraph] = []
        current: ProductGraph | None = None
        for item in items:
            record = self._remember(item)
            if isinstance(record, Product):
                current = None
                if not accept(record):
                    continue
                if first is not None and len(graphs) == first:
                    return graphs, True
                current = ProductGraph(record)
                graphs.append(current)
            elif current is None:
                continue
            elif isinstance(record, ProductUsageResource):
                current.purs.append(record)
                current.grants.setdefault(record.id, [])
            elif isinstance(record, ProductUsageGrant):
                current.grants.setdefault(record.pur_id, []).append(record)
            elif isinstance(record, ProductResourcePolicy):
                current.policies[record.pur_id] = record
            elif isinstance(record, GrantBindingPolicy):
                current.binding = record
        return graphs, False

    def units_and_classes(self) -> tuple[list[UnitOfMeasureClass], list[UnitOfMeasure]]:
        classes: list[UnitOfMeasureClass] = []
        units: list[UnitOfMeasure] = []
        for item in self._prefixed(keys.UOM_PREFIX):
            record = self._remember(item)
            if isinstance(record, UnitOfMeasureClass):
                classes.append(record)
            elif isinstance(record, UnitOfMeasure):
                units.append(record)
        for u in units:
            self._cache.setdefault((UnitOfMeasure, u.unit_code), u)
        units.sort(key=lambda u: (u.class_code, u.sequence, u.unit_code))
        return classes, units

    def rate_cards(self) -> tuple[list[RateCard], list[RateCardEntry]]:
        cards: list[RateCard] = []
        entries: list[RateCardEntry] = []
        for item in self._prefixed(keys.CARD_PREFIX):
            record = self._remember(item)
            if isinstance(record, RateCard):
                cards.append(record)
            elif isinstance(record, RateCardEntry):
                entries.append(record)
        return cards, entries

    def resources_page(self, after: str | None, first: int) -> tuple[list[UsageResource], bool]:
        start = keys.resource_sk(after) + "#~" if after else "RES#"
        found: list[UsageResource] = []
        for item in self._between(start, "RES$"):
            record = self._remember(item)
            if isinstance(record, UsageResource):
                if len(found) == first:
                    return found, True
                found.append(record)
        return found, False

    def policies(self) -> list[Policy]:
        return [r for item in self._prefixed("POLICY#") if isinstance(r := self._remember(item), Policy)]

    # ------------------------------------------------------------------------------------------ CatalogStore port
    def units_of_class(self, class_code: str) -> list[UnitOfMeasure]:
        return [u for u in self.units_and_classes()[1] if u.class_code == class_code]

    def purs_of_product(self, product_code: str) -> list[ProductUsageResource]:
        graph = self.product_graph(product_code)
        return graph.purs if graph else []

    def grants_of_pur(self, product_code: str, pur_id: str) -> list[ProductUsageGrant]:
        graph = self.product_graph(product_code)
        return graph.grants.get(pur_id, []) if graph else []

    def entries_of_card(self, rate_card_id: str) -> list[RateCardEntry]:
        return [e for e in self.rate_cards()[1] if e.rate_card_id == rate_card_id]

    def _references(self, resource_code: str, product_prefix: bool = False,
                    **request: Any) -> Iterator[dict[str, Any]]:
        """The GSI1 entries of the records pointing at a resource (only the products' PURs with
        ``product_prefix``); the index is eventually consistent."""
        condition = "gsi1pk = :ref AND begins_with(gsi1sk, :prefix)" if product_prefix else "gsi1pk = :ref"
        values = {":ref": keys.resource_ref_pk(self.tenant, resource_code)}
        if product_prefix:
            values[":prefix"] = keys.PRODUCT_PREFIX
        return query_items(self.client, TableName=self.table, IndexName=RESOURCE_REFS,
                           KeyConditionExpression=condition, ExpressionAttributeValues=to_attributes(values),
                           **request)

    def products_using(self, resource_codes: Iterable[str]) -> set[str]:
        """The codes of the products with a PUR for any of the resources: one GSI1 Query per resource, keys only
        (a PUR's sort key names its product)."""
        found: set[str] = set()
        for code in sorted(set(resource_codes)):
            for item in self._references(code, product_prefix=True, ProjectionExpression="gsi1sk"):
                product_code = keys.product_of_pur_sk(from_attribute(item["gsi1sk"]))
                if product_code is not None:
                    found.add(product_code)
        return found

    def resource_is_referenced(self, resource_code: str) -> bool:
        return next(self._references(resource_code, Limit=1), None) is not None

    # ------------------------------------------------------------------------------------------ writes
    def insert(self, record: CatalogRecord) -> None:
        item = self._item(record, version=1)
        try:
            self.client.put_item(TableName=self.table, Item=item.to_item(), **NEW.request())
        except ClientError as exc:
            if condition_failed(exc):
                raise DomainError(ErrorCode.DUPLICATE_CODE,
                                  f"{type(record).__name__} '{key_of(record)}' already exists",
                                  "unitCode" if isinstance(record, UnitOfMeasure) else "code") from None
            raise
        self._cache[(type(record), key_of(record))] = record
        self._versions[(type(record), key_of(record))] = item.version

    def replace(self, old: CatalogRecord, new: CatalogRecord) -> None:
        cache_key = (type(old), key_of(old))
        seen = self._versions.get(cache_key)
        item = self._item(new, (seen or 0) + 1)
        try:
            self.client.put_item(TableName=self.table, Item=item.to_item(), **at_version(seen).request())
        except ClientError as exc:
            if condition_failed(exc):
                raise Conflict(f"{type(old).__name__} '{key_of(old)}' was changed meanwhile; read it again") from None
            raise
        self._cache[cache_key] = new
        self._versions[cache_key] = item.version

    def delete(self, record: CatalogRecord) -> None:
        cache_key = (type(record), key_of(record))
        try:
            self.client.delete_item(TableName=self.table, Key=key(self.pk, KINDS[type(record)].sk(key_of(record))),
                                    **at_version(self._versions.get(cache_key)).request())
        except ClientError as exc:
            if condition_failed(exc):
                raise Conflict(f"{type(record).__name__} '{key_of(record)}' was changed meanwhile") from None
            raise
        self._cache[cache_key] = None

    def transact(self, inserts: Sequence[CatalogRecord] = (),
                 replaces: Sequence[tuple[CatalogRecord, CatalogRecord]] = (),
                 others: Sequence[dict[str, Any]] = ()) -> None:
        """One DynamoDB transaction (≤ 100 items), all or none: ``inserts`` must not exist yet, each ``replaces``
        (old, new) must still be at the version read; ``others`` are TransactItems of other items (a journal's
        ``check`` or ``removal``). A failed condition raises DUPLICATE_CODE (for an insert) or Conflict and writes
        nothing."""
        new_items = [self._item(r, 1) for r in inserts]
        puts_new = [self._put(item, NEW) for item in new_items]
        changed: list[CatalogItem] = []
        puts_changed = []
        for old, new in replaces:
            seen = self._versions.get((type(old), key_of(old)))
            changed.append(item := self._item(new, (seen or 0) + 1))
            puts_changed.append(self._put(item, at_version(seen)))
        sent = [*others, *puts_new, *puts_changed]
        if not sent:
            return
        try:
            transact_write(self.client, sent, token=True)
        except TransactionCancelled as exc:
            clash = [record for record, put in zip(inserts, puts_new, strict=True)
                     if (reason := exc.reason_for(put)) is not None and reason.code == "ConditionalCheckFailed"]
            if clash:
                raise DomainError(ErrorCode.DUPLICATE_CODE, f"{type(clash[0]).__name__} '{key_of(clash[0])}' "
                                  "already exists") from None
            raise Conflict("records were changed meanwhile; read them again and retry") from None
        for record, item in [*zip(inserts, new_items, strict=True),
                             *zip((new for _, new in replaces), changed, strict=True)]:
            self._cache[(type(record), key_of(record))] = record
            self._versions[(type(record), key_of(record))] = item.version

    # ------------------------------------------------------------------------------------------ other items (journals)
    def _put(self, item: CatalogItem, condition: Condition) -> dict[str, Any]:
        return {"Put": {"TableName": self.table, "Item": item.to_item(), **condition.request()}}

    def check(self, sk: str, condition: Condition) -> dict[str, Any]:
        """A TransactItem that fails the transaction unless the item under ``sk`` meets ``condition``."""
        return {"ConditionCheck": {"TableName": self.table, "Key": key(self.pk, sk), **condition.request()}}

    def removal(self, sk: str, condition: Condition) -> dict[str, Any]:
        """A TransactItem deleting the item under ``sk`` if it meets ``condition``."""
        return {"Delete": {"TableName": self.table, "Key": key(self.pk, sk), **condition.request()}}

    def read_item(self, sk: str) -> CatalogItem | None:
        """The tenant's item under ``sk`` (consistent), whatever its kind."""
        raw = self.client.get_item(TableName=self.table, Key=key(self.pk, sk), ConsistentRead=True).get("Item")
        return CatalogItem.from_item(raw) if raw is not None else None

    def create_item(self, item: CatalogItem) -> bool:
        """Put ``item`` unless something exists under its key; False when something does."""
        try:
            self.client.put_item(TableName=self.table, Item=item.to_item(), **NEW.request())
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def set_data(self, item: CatalogItem, name: str, value: Any) -> bool:
        """Set one field of ``item``'s data, conditioned on the version it was read at (which it increments);
        False when it changed meanwhile."""
        condition = at_version(item.version)
        try:
            self.client.update_item(
                TableName=self.table, Key=key(item.pk, item.sk), UpdateExpression="SET #d.#f = :value, #v = :next",
                ConditionExpression=condition.expression,
                ExpressionAttributeNames={"#d": "data", "#f": name, "#v": VERSION},
                ExpressionAttributeValues=to_attributes({**condition.values, ":value": value,
                                                         ":next": (item.version or 0) + 1}))
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def delete_item(self, sk: str, condition: Condition | None = None) -> bool:
        """Delete the item under ``sk`` (if it meets ``condition``); False when the condition failed."""
        try:
            self.client.delete_item(TableName=self.table, Key=key(self.pk, sk),
                                    **(condition.request() if condition else {}))
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True
