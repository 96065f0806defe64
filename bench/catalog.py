"""Nested catalog pages: DynamoDB requests and latency for pages of 10 and 100 fully nested products.

Target (issue 2): at most 10 DynamoDB requests for any page of up to 100 products with the full nesting.
"""

from __future__ import annotations

import statistics
import time
import uuid
from decimal import Decimal

from bench import counting
from bench.store import ensure_store

NESTED_PAGE = """query($first: Int!, $after: String) { products(first: $first, after: $after) {
  pageInfo { hasNextPage endCursor }
  edges { node { code name usageModelType status bindingPolicy { binding }
    usageResources { id effectiveFrom effectiveTo status
      resource { code name category defaultUnit { unitCode } policy { status }
                 unitOfMeasureClass { code baseUnit { unitCode } units { unitCode conversionFactor } } }
      grants { quantity unit { unitCode } validityTerm validityUnit drawdownOrder
               refreshPolicy { frequency unit } rolloverPolicy { rolloverAllowed } }
      rates { rate rateUnit { unitCode } tierMode tiers { lowerBound upperBound adjustmentType adjustmentValue } }
      effectivePolicy { aggregationMethod aggregationPeriod overageChargeable ratingDelayDays commitmentRate }
    } } } } }"""

PRODUCTS = 120
RESOURCES_PER_PRODUCT = 3


def build_catalog(tenant: str) -> None:
    """120 products × 3 resources (from a pool of 30), each with a grant, a tiered rate and policies."""
    from core import catalog as c
    from core.catalog.service import CatalogService
    from core.rating.model import AdjustmentType, TierMode
    from infra import keys
    from infra.catalog_repo import CatalogRepository
    from infra.seed import START, UNIT_CLASSES

    repo = CatalogRepository(tenant)
    svc = CatalogService(repo)
    for code, name, base, default, units in UNIT_CLASSES:
        svc.create_unit_class(c.UnitOfMeasureClass(code, name, c.UnitClassType.USAGE, base, default),
                              [c.UnitOfMeasure(u, n, code, Decimal(f), i) for i, (u, n, f) in enumerate(units)])
    agg = svc.create(c.Policy(keys.new_ulid(), c.PolicyKind.AGGREGATION, "sum",
                              aggregation_method=c.AggregationMethod.SUM,
                              aggregation_period=c.AggregationPeriod.MONTHLY))
    refresh = svc.create(c.Policy(keys.new_ulid(), c.PolicyKind.GRANT_REFRESH, "monthly", refresh_allowed=True,
                                  refresh_frequency=1, refresh_unit=c.PeriodUnit.MONTH))
    pool = [f"RES-{i:02d}" for i in range(30)]
    for code in pool:
        svc.create(c.UsageResource(code, code, c.ResourceCategory.USAGE, "DATA", "GB"))
        svc.create(c.ResourcePolicy(code, c.PolicySet(aggregation_policy_id=agg.id)))
    card = svc.create(c.RateCard(keys.new_ulid(), "bench", c.RateCardType.BASE, START))
    tiers = (c.RateTier(Decimal(0), Decimal(10), AdjustmentType.PERCENTAGE, Decimal(0)),
             c.RateTier(Decimal(10), None, AdjustmentType.PERCENTAGE, Decimal(10)))
    for p in range(PRODUCTS):
        product = f"PROD-{p:04d}"
        svc.create(c.Product(product, f"Product {p}", c.UsageModelType.ANCHOR))
        for r in range(RESOURCES_PER_PRODUCT):
            resource = pool[(p * RESOURCES_PER_PRODUCT + r) % len(pool)]
            pur = svc.create(c.ProductUsageResource(keys.pur_id(product, keys.new_ulid()), product, resource, START))
            svc.create(c.ProductUsageGrant(keys.grant_id(pur.id, keys.new_ulid()), product, pur.id, c.GrantType.GRANT,
                                           Decimal(5), "GB", 1, c.ValidityUnit.MONTH, START,
                                           refresh_policy_id=refresh.id))
            svc.create(c.RateCardEntry(keys.rate_entry_id(card.id, keys.new_ulid()), card.id, resource, product,
                                       Decimal("1.25"), "USD", START, tier_mode=TierMode.TIERED, tiers=tiers))


def run() -> None:
    ensure_store()
    from starlette.testclient import TestClient

    from core.auth import Role
    from graphql_api.app import create_app
    from infra.apikeys import create_key
    from infra.bootstrap import bootstrap_tenant

    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    bootstrap_tenant(tenant)
    build_catalog(tenant)
    key = create_key(tenant, {Role.VIEWER}, "bench")
    with TestClient(create_app()) as client:
        headers = {"Authorization": f"Bearer {key}"}
        client.post("/graphql", json={"query": "{ products(first: 1) { edges { cursor } } }"}, headers=headers)
        for first in (10, 100):
            counts, latencies = [], []
            for _ in range(5):
                counting.reset()
                started = time.perf_counter()
                body = client.post("/graphql", json={"query": NESTED_PAGE, "variables": {"first": first}},
                                   headers=headers).json()
                latencies.append((time.perf_counter() - started) * 1000)
                counts.append(counting.total_requests())
                assert "errors" not in body, body["errors"]
                edges = body["data"]["products"]["edges"]
                assert len(edges) == first and all(len(e["node"]["usageResources"]) == 3 for e in edges)
            by_op = dict(counting.requests)
            verdict = "OK" if max(counts) <= 10 else "OVER TARGET"
            print(f"page of {first:>3} nested products: {max(counts)} DynamoDB requests {by_op} "
                  f"[target <= 10: {verdict}]; latency median {statistics.median(latencies):.0f} ms, "
                  f"max {max(latencies):.0f} ms")
