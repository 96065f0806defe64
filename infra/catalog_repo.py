"""The catalog store over DynamoDB: one tenant per repository, every read a GetItem, BatchGetItem or Query.

A repository lives for one request (or one Lambda batch): it remembers what it read, so the service's checks
and the GraphQL loaders never read one item twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pynamodb.exceptions import DeleteError, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

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
from infra.items import CatalogItem

T = TypeVar("T")


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


class CatalogRepository:
    def __init__(self, tenant: str):
        self.tenant = tenant
        self.pk = keys.tenant_pk(tenant)
        self._cache: dict[tuple[type, str], Any] = {}
        self._versions: dict[tuple[type, str], int | None] = {}

    # ------------------------------------------------------------------------------------------ item mapping
    def _remember(self, item: CatalogItem) -> CatalogRecord | None:
        spec = BY_NAME.get(item.kind)
        if spec is None:
            return None
        record: Any = decode(spec.cls, item.data.as_dict())
        cache_key = (spec.cls, spec.key_of(record))
        self._cache[cache_key] = record
        self._versions[cache_key] = item.version
        return record

    def _item(self, record: CatalogRecord) -> CatalogItem:
        spec = KINDS[type(record)]
        key = spec.key_of(record)
        ref = spec.ref(record)
        item = CatalogItem(self.pk, spec.sk(key), kind=spec.cls.__name__, data=encode(record))
        if ref:
            item.gsi1pk = keys.resource_ref_pk(self.tenant, ref)
            item.gsi1sk = spec.sk(key)
        return item

    # ------------------------------------------------------------------------------------------ reads
    def get(self, kind: type[T], key: str) -> T | None:
        cache_key = (kind, key)
        if cache_key not in self._cache:
            try:
                sk = KINDS[kind].sk(key)
            except (ValueError, IndexError):  # an id of the wrong shape names nothing
                return None
            item = _get_or_none(self.pk, sk)
            if item is None or item.kind != kind.__name__:
                self._cache[cache_key] = None
            else:
                self._remember(item)
        return self._cache[cache_key]

    def batch_get(self, kind: type[T], keys_: Iterable[str]) -> dict[str, T]:
        wanted = [k for k in dict.fromkeys(keys_) if (kind, k) not in self._cache]
        if wanted:
            spec = KINDS[kind]
            for item in CatalogItem.batch_get([(self.pk, spec.sk(k)) for k in wanted]):
                self._remember(item)
            for k in wanted:
                self._cache.setdefault((kind, k), None)
        return {k: v for k in keys_ if (v := self._cache.get((kind, k))) is not None}

    def batch_get_mixed(self, wanted: Iterable[tuple[type, str]]) -> dict[tuple[type, str], Any]:
        """Records of several kinds in one BatchGetItem (100 keys a call); absent keys are left out."""
        wanted = list(dict.fromkeys(wanted))
        missing = [(kind, key) for kind, key in wanted if (kind, key) not in self._cache]
        if missing:
            for item in CatalogItem.batch_get([(self.pk, KINDS[kind].sk(key)) for kind, key in missing]):
                self._remember(item)
            for cache_key in missing:
                self._cache.setdefault(cache_key, None)
        return {k: v for k in wanted if (v := self._cache.get(k)) is not None}

    def _query(self, condition: Any, page_size: int | None = None) -> Iterable[CatalogItem]:
        return CatalogItem.query(self.pk, condition, consistent_read=True, page_size=page_size)

    def product_graph(self, code: str) -> ProductGraph | None:
        low, high = keys.product_range(code)
        graphs, _ = self._graphs(CatalogItem.sk.between(low, high), None)
        return graphs[0] if graphs else None

    def products_page(self, after: str | None, first: int,
                      accept: Callable[[Product], bool] = lambda p: True) -> tuple[list[ProductGraph], bool]:
        """Up to ``first`` products after ``after`` (code order), each with its nesting; and whether more exist."""
        low, high = keys.products_after(after)
        return self._graphs(CatalogItem.sk.between(low, high), first, accept)

    def _graphs(self, condition: Any, first: int | None,
                accept: Callable[[Product], bool] = lambda p: True) -> tuple[list[ProductGraph], bool]:
        graphs: list[ProductGraph] = []
        current: ProductGraph | None = None
        # a product with its nesting is ~10 items: size the requests to the page, not to the whole catalog
        for item in self._query(condition, page_size=None if first is None else max(100, (first + 1) * 16)):
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
        for item in self._query(CatalogItem.sk.startswith(keys.UOM_PREFIX)):
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
        for item in self._query(CatalogItem.sk.startswith(keys.CARD_PREFIX)):
            record = self._remember(item)
            if isinstance(record, RateCard):
                cards.append(record)
            elif isinstance(record, RateCardEntry):
                entries.append(record)
        return cards, entries

    def resources_page(self, after: str | None, first: int) -> tuple[list[UsageResource], bool]:
        start = keys.resource_sk(after) + "#~" if after else "RES#"
        found: list[UsageResource] = []
        for item in self._query(CatalogItem.sk.between(start, "RES$")):
            record = self._remember(item)
            if isinstance(record, UsageResource):
                if len(found) == first:
                    return found, True
                found.append(record)
        return found, False

    def policies(self) -> list[Policy]:
        return [r for item in self._query(CatalogItem.sk.startswith("POLICY#"))
                if isinstance(r := self._remember(item), Policy)]

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

    def products_using(self, resource_codes: Iterable[str]) -> set[str]:
        """The codes of the products with a PUR for any of the resources: one GSI1 Query per resource, keys only
        (a PUR's sort key names its product)."""
        found: set[str] = set()
        for code in sorted(set(resource_codes)):
            for item in CatalogItem.resource_refs.query(keys.resource_ref_pk(self.tenant, code),
                                                        CatalogItem.gsi1sk.startswith(keys.PRODUCT_PREFIX)):
                product_code = keys.product_of_pur_sk(item.gsi1sk or "")
                if product_code is not None:
                    found.add(product_code)
        return found

    def resource_is_referenced(self, resource_code: str) -> bool:
        hits = CatalogItem.resource_refs.query(keys.resource_ref_pk(self.tenant, resource_code), limit=1)
        return any(True for _ in hits)

    def insert(self, record: CatalogRecord) -> None:
        item = self._item(record)
        try:
            item.save(condition=CatalogItem.pk.does_not_exist())
        except PutError as exc:
            if _conditional(exc):
                raise DomainError(ErrorCode.DUPLICATE_CODE,
                                  f"{type(record).__name__} '{key_of(record)}' already exists",
                                  "unitCode" if isinstance(record, UnitOfMeasure) else "code") from None
            raise
        self._cache[(type(record), key_of(record))] = record
        self._versions[(type(record), key_of(record))] = item.version

    def replace(self, old: CatalogRecord, new: CatalogRecord) -> None:
        cache_key = (type(old), key_of(old))
        item = self._item(new)
        item.version = self._versions.get(cache_key)
        try:
            item.save()
        except PutError as exc:
            if _conditional(exc):
                raise Conflict(f"{type(old).__name__} '{key_of(old)}' was changed meanwhile; read it again") from None
            raise
        self._cache[cache_key] = new
        self._versions[cache_key] = item.version

    def delete(self, record: CatalogRecord) -> None:
        cache_key = (type(record), key_of(record))
        item = self._item(record)
        item.version = self._versions.get(cache_key)
        try:
            item.delete()
        except DeleteError as exc:
            if _conditional(exc):
                raise Conflict(f"{type(record).__name__} '{key_of(record)}' was changed meanwhile") from None
            raise
        self._cache[cache_key] = None

    def transact(self, inserts: Sequence[CatalogRecord] = (),
                 replaces: Sequence[tuple[CatalogRecord, CatalogRecord]] = (),
                 checks: Sequence[tuple[CatalogItem, Any]] = (),
                 deletes: Sequence[tuple[CatalogItem, Any]] = ()) -> None:
        """One DynamoDB transaction (≤ 100 items), all or none: ``inserts`` must not exist yet, each ``replaces``
        (old, new) must still be at the version read; ``checks`` and ``deletes`` are (item, condition) pairs of other
        items (a journal). A failed condition raises DUPLICATE_CODE (for an insert) or Conflict and writes nothing."""
        new_items = [self._item(r) for r in inserts]
        changed = []
        for old, new in replaces:
            item = self._item(new)
            item.version = self._versions.get((type(old), key_of(old)))
            changed.append(item)
        try:
            with TransactWrite(connection=CatalogItem._get_connection().connection) as tx:
                for item, condition in checks:
                    tx.condition_check(CatalogItem, item.pk, item.sk, condition)
                for item, condition in deletes:
                    tx.delete(item, condition, add_version_condition=False)
                for item in new_items:
                    tx.save(item, condition=CatalogItem.pk.does_not_exist())
                for item in changed:
                    tx.save(item)
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons or []
            failed = [i for i, r in enumerate(reasons) if r is not None and r.code == "ConditionalCheckFailed"]
            first_insert = len(checks) + len(deletes)
            clash = [inserts[i - first_insert] for i in failed if first_insert <= i < first_insert + len(inserts)]
            if clash:
                raise DomainError(ErrorCode.DUPLICATE_CODE, f"{type(clash[0]).__name__} '{key_of(clash[0])}' "
                                  "already exists") from None
            if failed or exc.cause_response_code == "TransactionCanceledException":
                raise Conflict("records were changed meanwhile; read them again and retry") from None
            raise
        for record, item in [*zip(inserts, new_items, strict=True),
                             *zip((new for _, new in replaces), changed, strict=True)]:
            self._cache[(type(record), key_of(record))] = record
            self._versions[(type(record), key_of(record))] = item.version


def _get_or_none(pk: str, sk: str) -> CatalogItem | None:
    try:
        return CatalogItem.get(pk, sk, consistent_read=True)
    except CatalogItem.DoesNotExist:
        return None


def _conditional(exc: Exception) -> bool:
    cause = getattr(exc, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"
