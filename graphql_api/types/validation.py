"""GraphQL types of the product validator and of guided setup / activation results."""

from typing import TYPE_CHECKING

import strawberry

from graphql_api.ids import to_global_id

if TYPE_CHECKING:
    from core.validation import findings as f


@strawberry.type(description="A catalog record a finding or result names: its type, opaque id and a readable name.")
class RecordRef:
    object_type: str
    id: strawberry.ID
    name: str

    @classmethod
    def from_domain(cls, ref: "f.RecordRef") -> "RecordRef":
        return cls(object_type=ref.object_type, id=to_global_id(ref.object_type, ref.key), name=ref.name)


@strawberry.type
class ValidationFinding:
    rule: str
    code: str
    message: str
    records: list[RecordRef]

    @classmethod
    def from_domain(cls, finding: "f.Finding") -> "ValidationFinding":
        return cls(rule=finding.rule, code=finding.code, message=finding.message,
                   records=[RecordRef.from_domain(r) for r in finding.records])


@strawberry.type
class ProductValidation:
    product_code: str
    valid: bool
    errors: list[ValidationFinding]
    warnings: list[ValidationFinding]

    @classmethod
    def from_domain(cls, result: "f.ProductValidation") -> "ProductValidation":
        return cls(product_code=result.product_code, valid=result.valid,
                   errors=[ValidationFinding.from_domain(x) for x in result.errors],
                   warnings=[ValidationFinding.from_domain(x) for x in result.warnings])
