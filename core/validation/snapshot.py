"""A read-only view of one product and everything its chain points at: what the validator and activation read.

Built once per product by ``infra`` (one Query for the product's nesting, one each for the tenant's units, policies
and rate cards, one BatchGetItem for the resources), then handed to pure rules that never write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from core.catalog import (
    CatalogRecord,
    EffectivePolicy,
    GrantBindingPolicy,
    Policy,
    Product,
    ProductResourcePolicy,
    ProductUsageGrant,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    RateCardType,
    RecordStatus,
    ResourcePolicy,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageModelType,
    UsageResource,
)
from core.errors import DomainError, ErrorCode
from core.policies import resolve
from core.values import immutable

#: (record kind, key): how a record names another (the key is a code, or an id for records without one).
RecordKey = tuple[type, str]


def frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@immutable
class Window:
    """An optional date range; a record is in it when its effective range overlaps it."""

    start: datetime | None = None
    end: datetime | None = None

    def overlaps(self, start: datetime, end: datetime | None) -> bool:
        return (self.end is None or start < self.end) and (end is None or self.start is None or end > self.start)


#: How many products one validator call may judge.
MAX_PRODUCTS_PER_VALIDATION = 10


def validation_window(product_codes: Sequence[str], start: datetime | None, end: datetime | None) -> Window:
    """The window of one validator call over ``product_codes``: DomainError for too many products or a range that
    ends before it starts."""
    if len(product_codes) > MAX_PRODUCTS_PER_VALIDATION:
        raise DomainError(ErrorCode.MAX_LIMIT_EXCEEDED, f"at most {MAX_PRODUCTS_PER_VALIDATION} products per "
                          f"call (got {len(product_codes)})", "productCodes")
    if start is not None and end is not None and end <= start:
        raise DomainError(ErrorCode.INVALID_RANGE, "to must be after from", "to")
    return Window(start, end)


@immutable
class Anchor:
    """An ANCHOR product that uses one of a PACK's resources: what a pack's overage may be priced by (DOMAIN §1.2).

    ``purs`` are its product usage resources for the pack's resources; ``entries`` the BASE rate card entries of
    those resources that serve it (its own or no product's)."""

    product: Product
    purs: tuple[ProductUsageResource, ...] = ()
    entries: tuple[RateCardEntry, ...] = ()

    def prices(self, resource_code: str) -> bool:
        """Whether this anchor, as it serves at runtime (ACTIVE product, PUR and entry), prices the resource."""
        active = RecordStatus.ACTIVE
        return (self.product.status == active
                and any(p.resource_code == resource_code and p.status == active for p in self.purs)
                and any(e.resource_code == resource_code and e.status == active for e in self.entries))

    def uses(self, resource_code: str) -> bool:
        return self.product.status != RecordStatus.INACTIVE and any(
            p.resource_code == resource_code and p.status != RecordStatus.INACTIVE for p in self.purs)


@immutable
class ProductSnapshot:
    product: Product
    binding: GrantBindingPolicy | None = None
    purs: tuple[ProductUsageResource, ...] = ()
    grants: Mapping[str, tuple[ProductUsageGrant, ...]] = field(default_factory=frozen)  # by PUR id
    product_policies: Mapping[str, ProductResourcePolicy] = field(default_factory=frozen)  # by PUR id
    resources: Mapping[str, UsageResource] = field(default_factory=frozen)  # every resource the chain names
    resource_policies: Mapping[str, ResourcePolicy] = field(default_factory=frozen)  # by resource code
    classes: Mapping[str, UnitOfMeasureClass] = field(default_factory=frozen)
    units: Mapping[str, UnitOfMeasure] = field(default_factory=frozen)
    policies: Mapping[str, Policy] = field(default_factory=frozen)  # by id
    rate_cards: Mapping[str, RateCard] = field(default_factory=frozen)  # by id
    entries: tuple[RateCardEntry, ...] = ()  # BASE entries of the chain's resources: this product's or no product's
    #: for a PACK: the ANCHOR products using its resources (whose wallets it tops up and whose rates price it)
    anchors: tuple[Anchor, ...] = ()

    @classmethod
    def of(cls, product: Product, *, binding: GrantBindingPolicy | None = None,
           purs: Iterable[ProductUsageResource] = (), grants: Iterable[ProductUsageGrant] = (),
           product_policies: Iterable[ProductResourcePolicy] = (), resources: Iterable[UsageResource] = (),
           resource_policies: Iterable[ResourcePolicy] = (), classes: Iterable[UnitOfMeasureClass] = (),
           units: Iterable[UnitOfMeasure] = (), policies: Iterable[Policy] = (), rate_cards: Iterable[RateCard] = (),
           entries: Iterable[RateCardEntry] = (), anchors: Iterable[tuple[Product, Iterable[ProductUsageResource]]] = ()
           ) -> ProductSnapshot:
        """Index plain records; entries are kept when they belong to this product's chain (see ``entries``): the
        entries of its resources and of the token resources they convert to (DOMAIN §3.7). ``anchors``: for a PACK,
        the ANCHOR products using its resources, each with its product usage resources."""
        purs = tuple(sorted(purs, key=lambda p: (p.resource_code, p.effective_from, p.id)))
        resources = tuple(resources)
        by_pur: dict[str, list[ProductUsageGrant]] = {p.id: [] for p in purs}
        for grant in grants:
            by_pur.setdefault(grant.pur_id, []).append(grant)
        cards = {c.id: c for c in rate_cards}
        by_code = {r.code: r for r in resources}
        resource_codes = {p.resource_code for p in purs}
        resource_codes |= {c for p in purs for c in (p.token_resource_code, getattr(
            by_code.get(p.resource_code), "token_resource_code", None)) if c}
        entries = tuple(entries)

        def base(e: RateCardEntry) -> bool:
            return e.rate_card_id not in cards or cards[e.rate_card_id].type == RateCardType.BASE

        chain_entries = tuple(sorted(
            (e for e in entries if e.resource_code in resource_codes and e.product_code in (None, product.code)
             and base(e)), key=lambda e: (e.effective_from, e.id)))
        pack_codes = {p.resource_code for p in purs}
        anchor_views = tuple(
            Anchor(a, tuple(p for p in a_purs if p.resource_code in pack_codes),
                   tuple(e for e in entries if e.resource_code in pack_codes and e.product_code in (None, a.code)
                         and base(e)))
            for a, a_purs in sorted(anchors, key=lambda pair: pair[0].code)
            if a.code != product.code and a.usage_model_type == UsageModelType.ANCHOR)
        return cls(
            product=product, binding=binding, purs=purs,
            grants=frozen({k: tuple(sorted(v, key=lambda g: g.id)) for k, v in by_pur.items()}),
            product_policies=frozen({p.pur_id: p for p in product_policies}),
            resources=frozen({r.code: r for r in resources}),
            resource_policies=frozen({r.resource_code: r for r in resource_policies}),
            classes=frozen({c.code: c for c in classes}), units=frozen({u.unit_code: u for u in units}),
            policies=frozen({p.id: p for p in policies}), rate_cards=frozen(cards), entries=chain_entries,
            anchors=anchor_views)

    # ------------------------------------------------------------------------------------------ navigation
    def grants_of(self, pur: ProductUsageResource) -> tuple[ProductUsageGrant, ...]:
        return self.grants.get(pur.id, ())

    def all_grants(self) -> list[ProductUsageGrant]:
        return [g for pur in self.purs for g in self.grants_of(pur)]

    def entries_of(self, pur: ProductUsageResource) -> list[RateCardEntry]:
        """Every rate card entry for the PUR's resource in this product, by start."""
        return self.entries_for(pur.resource_code)

    def entries_for(self, resource_code: str) -> list[RateCardEntry]:
        """Every rate card entry for a resource of the chain (a token resource too) in this product, by start."""
        return [e for e in self.entries if e.resource_code == resource_code]

    def token_resource_code(self, pur: ProductUsageResource) -> str | None:
        """The token resource the PUR's usage converts to: the PUR's, else its resource's (DOMAIN §3.7)."""
        resource = self.resources.get(pur.resource_code)
        return pur.token_resource_code or (resource.token_resource_code if resource else None)

    def effective_policy(self, pur: ProductUsageResource) -> EffectivePolicy:
        prp = self.product_policies.get(pur.id)
        rp = self.resource_policies.get(pur.resource_code)
        return resolve(prp.policies if prp else None, rp.policies if rp else None, self.policies)

    def lookup(self, key: RecordKey) -> CatalogRecord | None:
        kind, code = key
        table: Mapping[str, Any] = {
            UnitOfMeasureClass: self.classes, UnitOfMeasure: self.units, UsageResource: self.resources,
            ResourcePolicy: self.resource_policies, Policy: self.policies, RateCard: self.rate_cards,
            ProductResourcePolicy: self.product_policies,
            ProductUsageResource: {p.id: p for p in self.purs},
            ProductUsageGrant: {g.id: g for g in self.all_grants()},
            RateCardEntry: {e.id: e for e in self.entries},
            Product: {self.product.code: self.product},
            GrantBindingPolicy: {self.binding.product_code: self.binding} if self.binding else {},
        }.get(kind, {})
        return table.get(code)

    def within(self, window: Window) -> ProductSnapshot:
        """The snapshot as seen in a date range: PURs, grants and entries that overlap it."""
        if window.start is None and window.end is None:
            return self
        purs = tuple(p for p in self.purs if window.overlaps(p.effective_from, p.effective_to))
        kept = {p.id for p in purs}
        grants = frozen({k: tuple(g for g in v if window.overlaps(g.effective_from, g.effective_to))
                         for k, v in self.grants.items() if k in kept})
        entries = tuple(e for e in self.entries if window.overlaps(e.effective_from, e.effective_to))
        return replace(self, purs=purs, grants=grants, entries=entries)

    def in_service(self) -> ProductSnapshot:
        """The snapshot without INACTIVE PURs, grants and entries (they are out of service, not wrong)."""
        purs = tuple(p for p in self.purs if p.status != RecordStatus.INACTIVE)
        kept = {p.id for p in purs}
        grants = frozen({k: tuple(g for g in v if g.status != RecordStatus.INACTIVE)
                         for k, v in self.grants.items() if k in kept})
        entries = tuple(e for e in self.entries if e.status != RecordStatus.INACTIVE)
        policies = frozen({k: v for k, v in self.product_policies.items() if k in kept})
        return replace(self, purs=purs, grants=grants, entries=entries, product_policies=policies)

    def chain(self) -> list[CatalogRecord]:
        """Every record of the product's chain, each once: the product and its nesting, the resources with their
        classes (and all their units) and resource policies, the policies, units (with their classes) and rate cards
        pointed at, and the rate entries. Activation orders them."""
        found: dict[RecordKey, CatalogRecord] = {}

        def add(record: CatalogRecord | None) -> None:
            if record is not None:
                found.setdefault(key_of(record), record)

        owned: list[CatalogRecord | None] = [
            self.product, self.binding, *self.purs, *self.product_policies.values(), *self.all_grants(),
            *self.resources.values(), *self.resource_policies.values(), *self.entries]
        for item in owned:
            add(item)
        for record in list(found.values()):
            for kind, key in references(record):
                if kind in (Policy, RateCard, UnitOfMeasure):
                    add(self.lookup((kind, key)))
                if kind is UnitOfMeasure and key in self.units:  # e.g. a rate's currency: the unit and its class
                    add(self.classes.get(self.units[key].class_code))
        class_codes = {r.unit_class_code for r in self.resources.values()}
        for code in class_codes:  # usage may come in any unit of a resource's class
            add(self.classes.get(code))
        for unit in self.units.values():
            if unit.class_code in class_codes:
                add(unit)
        for cls in [r for r in found.values() if isinstance(r, UnitOfMeasureClass)]:
            for unit_key in references(cls):  # its base and default units
                add(self.lookup(unit_key))
        return list(found.values())


def key_of(record: CatalogRecord) -> RecordKey:
    """The (kind, key) that names a record in its tenant."""
    r: Any = record
    if isinstance(record, UnitOfMeasure):
        return UnitOfMeasure, r.unit_code
    if isinstance(record, (UnitOfMeasureClass, UsageResource, Product)):
        return type(record), r.code
    if isinstance(record, (ResourcePolicy,)):
        return ResourcePolicy, r.resource_code
    if isinstance(record, GrantBindingPolicy):
        return GrantBindingPolicy, r.product_code
    if isinstance(record, ProductResourcePolicy):
        return ProductResourcePolicy, r.pur_id
    return type(record), r.id


def references(record: CatalogRecord) -> list[RecordKey]:
    """Every record a record points at (kind, key), in the order a person would read them."""
    refs: list[tuple[type, str | None]] = []
    if isinstance(record, UnitOfMeasure):
        refs = [(UnitOfMeasureClass, record.class_code)]
    elif isinstance(record, UnitOfMeasureClass):
        refs = [(UnitOfMeasure, record.base_unit_code), (UnitOfMeasure, record.default_unit_code)]
    elif isinstance(record, UsageResource):
        refs = [(UnitOfMeasureClass, record.unit_class_code), (UnitOfMeasure, record.default_unit_code),
                (UsageResource, record.token_resource_code)]
    elif isinstance(record, ResourcePolicy):
        refs = [(UsageResource, record.resource_code), *((Policy, i) for i in record.policies.ids())]
    elif isinstance(record, GrantBindingPolicy):
        refs = [(Product, record.product_code)]
    elif isinstance(record, ProductUsageResource):
        refs = [(Product, record.product_code), (UsageResource, record.resource_code),
                (UsageResource, record.token_resource_code)]
    elif isinstance(record, ProductResourcePolicy):
        refs = [(ProductUsageResource, record.pur_id), *((Policy, i) for i in record.policies.ids())]
    elif isinstance(record, ProductUsageGrant):
        refs = [(ProductUsageResource, record.pur_id), (UnitOfMeasure, record.unit_code),
                (Policy, record.refresh_policy_id), (Policy, record.rollover_policy_id)]
    elif isinstance(record, RateCardEntry):
        refs = [(RateCard, record.rate_card_id), (UsageResource, record.resource_code),
                (Product, record.product_code), (UnitOfMeasure, record.rate_unit_code)]
    return [(kind, key) for kind, key in refs if key]
