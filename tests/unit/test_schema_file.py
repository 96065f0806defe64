"""The committed schema.graphql is the authoritative contract: it must match the code exactly."""

from pathlib import Path

from graphql_api.export_schema import sdl

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == sdl(), "schema.graphql is stale: run `make schema` and commit it"


def test_public_contract_names_are_present() -> None:
    text = sdl()
    for name in ("product(code: String!): Product", "products(", "usageResource(code: String!)",
                 "usageResources(", "unitOfMeasureClasses: [UnitOfMeasureClass!]!",
                 "effectivePolicy: EffectivePolicy!", "createUnitOfMeasureClass(", "createUsageResource(",
                 "createProduct("):
        assert name in text, name
