"""Reading a product's chain, and writing guided setups and activations all or nothing (infra/README.md).

DynamoDB transactions hold at most 100 items; a guided setup or an activation may touch 200. Up to ``chunk_size``
records go in one transaction. Beyond that a journal item per product (``keys.setup_journal_sk`` /
``keys.activation_journal_sk``) lists the records first, then chunks of at most 100 items follow:

- **Setup** (inserts) rolls *back*: every chunk checks the journal is still WRITING; a failure deletes what was
  written, and a journal left behind by a crash is rolled back by the next setup or activation of the product.
  A new product's own item is written in the last chunk, so a half-written new product is never listed.
- **Activation** (DRAFT → ACTIVE) rolls *forward*: staged records first, then the gates — the product and its
  PURs, through which alone runtime reaches a chain — together with the journal's removal in the last
  transaction. Until then the product (or a new PUR) is DRAFT and rating sees nothing; the next activation of
  the product completes the journal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar

from core.activation import ActivationPlan
from core.catalog import (
    CatalogRecord,
    Policy,
    Product,
    ProductUsageResource,
    RateCard,
    RateCardEntry,
    RecordStatus,
    ResourcePolicy,
    UnitOfMeasure,
    UnitOfMeasureClass,
    UsageModelType,
    UsageResource,
)
from core.errors import Conflict
from core.guided_setup import GuidedSetup, SetupCatalog, SetupPlan
from core.validation.snapshot import ProductSnapshot, RecordKey, key_of
from infra import keys
from infra.catalog_repo import BY_NAME, KINDS, CatalogRepository, Condition
from infra.codec import to_iso
from infra.items import CatalogItem

T = TypeVar("T")
#: Records per transaction; a journal is written only when a write needs more than one.
CHUNK_SIZE = 100
WRITING = "WRITING"
ROLLING_BACK = "ROLLING_BACK"


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def encode_key(key: RecordKey) -> str:
    return f"{key[0].__name__}|{key[1]}"


def decode_key(value: str) -> RecordKey:
    kind, _, key = value.partition("|")
    return BY_NAME[kind].cls, key


def journal_is(journal_id: str, state: str | None = None) -> Condition:
    """The journal item is still the one with ``journal_id`` (and in ``state``, when given)."""
    if state is None:
        return Condition("#d.#id = :id", {"#d": "data", "#id": "id"}, {":id": journal_id})
    return Condition("#d.#id = :id AND #d.#state = :state", {"#d": "data", "#id": "id", "#state": "state"},
                     {":id": journal_id, ":state": state})


#: a record still DRAFT (what a rollback may delete)
STILL_DRAFT = Condition("#d.#status = :draft", {"#d": "data", "#status": "status"},
                        {":draft": RecordStatus.DRAFT.value})


# ---------------------------------------------------------------------------------------------- reading
class ChainReader:
    """Product snapshots and setup catalogs. Tenant-wide reference sets (units and classes, policies, rate cards)
    are one Query each, read at most once per reader; each product is one Query; resources one BatchGetItem."""

    def __init__(self, repo: CatalogRepository):
        self.repo = repo

    @cached_property
    def units_and_classes(self) -> tuple[list[UnitOfMeasureClass], list[UnitOfMeasure]]:
        return self.repo.units_and_classes()

    @cached_property
    def policies(self) -> list[Policy]:
        return self.repo.policies()

    @cached_property
    def rate_cards(self) -> tuple[list[RateCard], list[RateCardEntry]]:
        return self.repo.rate_cards()

    def resources(self, codes: Iterable[str]) -> tuple[dict[str, UsageResource], dict[str, ResourcePolicy]]:
        """The resources (with their token resources) and their resource policies."""
        resources: dict[str, UsageResource] = {}
        policies: dict[str, ResourcePolicy] = {}
        asked: set[str] = set()
        wanted = set(codes)
        while wanted:  # a second round for token resources not named directly
            asked |= wanted
            found = self.repo.batch_get_mixed([(UsageResource, c) for c in sorted(wanted)] +
                                              [(ResourcePolicy, c) for c in sorted(wanted)])
            for (kind, code), record in found.items():
                (resources if kind is UsageResource else policies)[code] = record
            wanted = {r.token_resource_code for r in resources.values() if r.token_resource_code} - asked
        return resources, policies

    def snapshot(self, code: str) -> ProductSnapshot | None:
        graph = self.repo.product_graph(code)
        if graph is None:
            return None
        codes = {p.resource_code for p in graph.purs} | {p.token_resource_code for p in graph.purs
                                                         if p.token_resource_code}
        resources, resource_policies = self.resources(codes)
        classes, units = self.units_and_classes
        cards, entries = self.rate_cards
        anchors = self.anchors({p.resource_code for p in graph.purs}, graph.product.code) \
            if graph.product.usage_model_type == UsageModelType.PACK else []
        return ProductSnapshot.of(
            graph.product, binding=graph.binding, purs=graph.purs,
            grants=[g for gs in graph.grants.values() for g in gs], product_policies=graph.policies.values(),
            resources=resources.values(), resource_policies=resource_policies.values(), classes=classes,
            units=units, policies=self.policies, rate_cards=cards, entries=entries, anchors=anchors)

    def anchors(self, resource_codes: Iterable[str], pack_code: str
                ) -> list[tuple[Product, list[ProductUsageResource]]]:
        """The ANCHOR products with a PUR for any of ``resource_codes`` (what a pack's overage may be priced by):
        one GSI1 Query per resource for the products pointing at it, then one Query per such product."""
        codes = set(resource_codes)
        found = []
        for code in sorted(self.repo.products_using(codes) - {pack_code}):
            graph = self.repo.product_graph(code)
            if graph is not None and graph.product.usage_model_type == UsageModelType.ANCHOR:
                found.append((graph.product, [p for p in graph.purs if p.resource_code in codes]))
        return found

    def setup_catalog(self, setup: GuidedSetup) -> SetupCatalog:
        graph = self.repo.product_graph(setup.product_code)
        codes = {r.resource_code for r in setup.resources} | {
            r.new_resource.token_resource_code for r in setup.resources
            if r.new_resource and r.new_resource.token_resource_code}
        resources, _ = self.resources(codes)
        classes, units = self.units_and_classes
        return SetupCatalog(
            product=graph.product if graph else None, product_purs=graph.purs if graph else [],
            resources=resources, classes={c.code: c for c in classes}, units={u.unit_code: u for u in units},
            policies=self.policies)


# ---------------------------------------------------------------------------------------------- writing
class ChainWriter:
    """All-or-nothing writes of many catalog records. ``after_chunk(i)`` runs after each intermediate chunk is
    committed (tests use it to interrupt a write half-way)."""

    def __init__(self, repo: CatalogRepository, chunk_size: int = CHUNK_SIZE,
                 after_chunk: Callable[[int], None] | None = None):
        if not 2 <= chunk_size <= 100:
            raise ValueError("a DynamoDB transaction holds 2 to 100 items here")
        self.repo = repo
        self.chunk_size = chunk_size
        self.after_chunk = after_chunk or (lambda index: None)

    # ------------------------------------------------------------------------------------------ journals
    def journal(self, sk: str) -> CatalogItem | None:
        return self.repo.read_item(sk)

    def _open_journal(self, sk: str, kind: str, product_code: str, data: dict[str, Any]) -> CatalogItem:
        item = CatalogItem(self.repo.pk, sk, kind, {
            "id": keys.new_ulid(), "product": product_code, "started": to_iso(datetime.now(UTC)), **data}, version=1)
        if not self.repo.create_item(item):
            raise Conflict(f"another {kind.removesuffix('Journal').lower()} of '{product_code}' is in progress "
                           "or was interrupted; call again to finish it", field="productCode")
        return item

    # ------------------------------------------------------------------------------------------ guided setup
    def create(self, plan: SetupPlan) -> None:
        """Insert every record of a setup plan, all or nothing."""
        records: list[CatalogRecord] = [r for r in plan.records if not isinstance(r, Product)]
        records += [r for r in plan.records if isinstance(r, Product)]  # a new product becomes visible last
        if len(records) <= self.chunk_size:
            self.repo.transact(inserts=records)
            return
        sk = keys.setup_journal_sk(plan.product.code)
        journal = self._open_journal(sk, "SetupJournal", plan.product.code, {
            "state": WRITING, "records": [encode_key(key_of(r)) for r in records]})
        journal_id = journal.data["id"]
        writing = journal_is(journal_id, WRITING)
        parts = list(chunked(records, self.chunk_size - 1))
        try:
            for index, part in enumerate(parts):
                if index < len(parts) - 1:
                    self.repo.transact(inserts=part, others=[self.repo.check(sk, writing)])
                    self.after_chunk(index)
                else:
                    self.repo.transact(inserts=part, others=[self.repo.removal(sk, writing)])
        except Exception:
            with contextlib.suppress(Exception):  # what stays behind is rolled back by the next call
                self.roll_back_setup(plan.product.code, journal_id)
            raise

    def roll_back_setup(self, product_code: str, journal_id: str | None = None) -> bool:
        """Undo an unfinished setup of the product (only the one with ``journal_id`` when given): delete what it
        wrote that is still DRAFT, then its journal. True when there was one."""
        sk = keys.setup_journal_sk(product_code)
        journal = self.journal(sk)
        if journal is None or (journal_id is not None and journal.data["id"] != journal_id):
            return False
        # from now on no chunk of that setup can commit (each checks the state)
        if journal.data["state"] == WRITING and not self.repo.set_data(journal, "state", ROLLING_BACK):
            raise Conflict(f"the setup of '{product_code}' changed meanwhile; call again")
        for value in reversed(journal.data["records"]):
            kind, key = decode_key(value)
            # a missing (never written) record fails the condition, and is fine; so is one somebody activated since
            self.repo.delete_item(KINDS[kind].sk(key), STILL_DRAFT)
        self.repo.delete_item(sk)
        return True

    # ------------------------------------------------------------------------------------------ activation
    def activate(self, plan: ActivationPlan) -> list[CatalogRecord]:
        """Flip every record of the plan to ACTIVE, all or nothing for rating; returns the records as written."""
        if len(plan.records) <= self.chunk_size:
            done = [replace(r, status=RecordStatus.ACTIVE) for r in plan.records]
            if plan.records:
                self.repo.transact(replaces=list(zip(plan.records, done, strict=True)))
            return done
        journal = self._open_journal(keys.activation_journal_sk(plan.product_code), "ActivationJournal",
                                     plan.product_code, {"staged": [encode_key(key_of(r)) for r in plan.staged],
                                                         "gates": [encode_key(key_of(r)) for r in plan.gates]})
        return self._flip(plan.staged, plan.gates, journal)

    def _flip(self, staged: Sequence[CatalogRecord], gates: Sequence[CatalogRecord],
              journal: CatalogItem) -> list[CatalogRecord]:
        done: list[CatalogRecord] = []
        for index, part in enumerate(chunked(staged, self.chunk_size)):
            flipped = [replace(r, status=RecordStatus.ACTIVE) for r in part]
            self.repo.transact(replaces=list(zip(part, flipped, strict=True)))
            done += flipped
            self.after_chunk(index)
        flipped = [replace(r, status=RecordStatus.ACTIVE) for r in gates]
        self.repo.transact(replaces=list(zip(gates, flipped, strict=True)),
                           others=[self.repo.removal(journal.sk, journal_is(journal.data["id"]))])
        return done + flipped

    def pending_activation(self, product_code: str) -> bool:
        return self.journal(keys.activation_journal_sk(product_code)) is not None

    def complete_activation(self, product_code: str, reader: ChainReader) -> list[CatalogRecord] | None:
        """Finish an interrupted activation from its journal (records listed there and still DRAFT); None when
        there is none. Records deleted since are skipped; records added since are left for the next activation."""
        journal = self.journal(keys.activation_journal_sk(product_code))
        if journal is None:
            return None
        snapshot = reader.snapshot(product_code)
        chain = {key_of(r): r for r in snapshot.chain()} if snapshot else {}

        def still_draft(values: list[str]) -> list[CatalogRecord]:
            found = [chain.get(decode_key(v)) for v in values]
            return [r for r in found if r is not None and r.status == RecordStatus.DRAFT]

        return self._flip(still_draft(journal.data["staged"]), still_draft(journal.data["gates"]), journal)



class StorageIds:
    """New record ids in the shapes the catalog's keys expect (``core.catalog.store.Ids``)."""

    def pur(self, product_code: str) -> str:
        return keys.pur_id(product_code, keys.new_ulid())

    def grant(self, pur_id: str) -> str:
        return keys.grant_id(pur_id, keys.new_ulid())

    def policy(self) -> str:
        return keys.new_ulid()

    def rate_card(self) -> str:
        return keys.new_ulid()

    def rate_entry(self, rate_card_id: str) -> str:
        return keys.rate_entry_id(rate_card_id, keys.new_ulid())


__all__ = ["CHUNK_SIZE", "ChainReader", "ChainWriter", "StorageIds"]
