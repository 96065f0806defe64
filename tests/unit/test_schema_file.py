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


def test_the_invoicing_loop_has_the_v1_1_names() -> None:
    text = sdl()
    for name in ("closeUsagePeriods(asOf: DateTime", "closeUsageSummaries(ids: [ID!]!)",
                 "markUsageSummariesInvoiced(ids: [ID!]!, invoiceReference: String!)",
                 "usageSummaries(status: SummaryStatus", "periodEndFrom: DateTime", "periodEndTo: DateTime",
                 "accountExternalId: String", "invoiceReference: String"):
        assert name in text, name


def test_the_readme_billing_cycle_snippets_are_valid_operations_of_the_schema() -> None:
    import re

    from graphql import build_schema, parse, validate

    schema = build_schema(sdl())
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Billing cycle", 1)[1].split("\n## ", 1)[0]
    operations = [op for block in re.findall(r"```graphql\n(.*?)```", section, re.S)
                  for op in re.split(r"\n(?=mutation |query )", block.strip())]
    assert len(operations) >= 9
    for op in operations:
        assert validate(schema, parse(op)) == [], op
