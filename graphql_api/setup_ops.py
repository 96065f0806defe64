"""What guided setup, the validator and activation do in a worker thread: read the chain, plan, write.

``graphql_api.setup_api`` imports this module on the first call of one of its fields: the validator, the
planners and the chain repository are not needed to build the schema, nor by any other request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core import catalog as c
from core.activation import plan_activation
from core.errors import ErrorCode, NotFound
from core.guided_setup import GuidedSetup, plan_setup
from core.validation import ProductValidation as DomainValidation
from core.validation import Window, validate
from core.validation.findings import Finding, Severity, ref
from graphql_api.types.validation import RecordRef
from infra.activation_repo import ChainReader, ChainWriter, StorageIds
from infra.catalog_repo import CatalogRepository

__all__ = ["Activation", "Window", "activate", "configure", "ref", "validations"]


@dataclass
class Activation:
    product: c.Product
    activated: list[c.CatalogRecord] = field(default_factory=list)
    completed_interrupted: bool = False
    validation: DomainValidation | None = None


def validations(repo: CatalogRepository, codes: list[str], window: Window) -> list[DomainValidation]:
    reader = ChainReader(repo)
    results = []
    for code in dict.fromkeys(codes):
        snapshot = reader.snapshot(code)
        if snapshot is None:
            results.append(DomainValidation(code, errors=(Finding(
                "PRODUCT_EXISTS", ErrorCode.NOT_FOUND, Severity.ERROR, f"product '{code}' does not exist", ()),)))
        else:
            results.append(validate(snapshot, window))
    return results


def configure(repo: CatalogRepository, setup: GuidedSetup) -> tuple[c.Product, list[RecordRef], list[RecordRef]]:
    writer = ChainWriter(repo)
    writer.roll_back_setup(setup.product_code)  # what an interrupted earlier setup left behind
    plan = plan_setup(setup, ChainReader(repo).setup_catalog(setup), StorageIds())
    writer.create(plan)
    return (plan.product, [RecordRef.from_domain(ref(r)) for r in plan.records],
            [RecordRef.from_domain(ref(p)) for p in plan.reused_policies])


def activate(repo: CatalogRepository, product_code: str, run_validator: bool) -> Activation:
    writer = ChainWriter(repo)
    reader = ChainReader(repo)
    completed = writer.complete_activation(product_code, reader)
    if completed is not None:
        product = repo.get(c.Product, product_code)
        if product is None:
            raise NotFound("Product", product_code, "productCode")
        return Activation(product, completed, completed_interrupted=True)
    writer.roll_back_setup(product_code)
    snapshot = reader.snapshot(product_code)
    if snapshot is None:
        raise NotFound("Product", product_code, "productCode")
    result = validate(snapshot) if run_validator else None
    if result is not None and not result.valid:
        return Activation(snapshot.product, validation=result)
    plan = plan_activation(snapshot)
    activated = writer.activate(plan)
    product = next((r for r in activated if isinstance(r, c.Product)), snapshot.product)
    return Activation(product, activated, validation=result)
