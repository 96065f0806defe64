"""Schemathesis over the committed schema.graphql, against the ASGI app in-process (moto store), for every role.

Each generated operation is sent with an ADMIN, a PARTNER and a VIEWER key of a tenant holding the demo catalog.
No answer may be a 5xx, an unmasked or masked unexpected error ("Unexpected error." is a failure: every bad input
has a typed error), or slower than the time budget. Decimal and DateTime arguments come from hostile strategies.

    FUZZ_EXAMPLES (default 1): examples per operation; `make fuzz` runs 25 (FUZZ_EXAMPLES=... to change)
    FUZZ_TIME_BUDGET_SECONDS (default 10): slowest answer allowed (the machine may be shared: 2 cores, loaded)
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from tests.fuzz.figures import Figures

JSON = "application/json"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1"))
BUDGET = float(os.environ.get("FUZZ_TIME_BUDGET_SECONDS", "10"))

HOSTILE_DECIMALS = ["1E+100", "1e309", "NaN", "-0", "9" * 45, "1E+999999999", "-1E+999999999", "Infinity", "sNaN",
                    "1e21", "0.000000000000000000001", "-1", "", " 1", "1_000", "0x10", "1,5", "\ud800",
                    "1" * 5000]
HOSTILE_DATETIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z",
                     "2026-13-01T00:00:00Z", "2026-01-01", "2026-01-01T00:00:00", "", "\ud800", "x" * 100_000,
                     "2026-01-01T00:00:00+23:59", "2026-02-30T00:00:00Z"]

decimals = st.one_of(st.sampled_from(HOSTILE_DECIMALS),
                     st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: format(d, "f")),
                     st.integers(min_value=-10**30, max_value=10**30).map(str))


def with_offset(moment: datetime, minutes: int) -> str:
    """``moment`` (any year, 0001 included) written with a UTC offset of ``minutes``."""
    hours, rest = divmod(abs(minutes), 60)
    return f"{moment.isoformat()}{'-' if minutes < 0 else '+'}{hours:02d}:{rest:02d}"


offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59)
datetimes = st.one_of(st.sampled_from(HOSTILE_DATETIMES), st.builds(with_offset, st.datetimes(), offsets))
json_values = st.sampled_from(["x", "\ud800", "y" * 10_000, ""])

schemathesis.graphql.scalar("Decimal", decimals.map(nodes.String))
schemathesis.graphql.scalar("DateTime", datetimes.map(nodes.String))
schemathesis.graphql.scalar("JSON", json_values.map(nodes.String))

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
schema = schemathesis.graphql.from_path(SCHEMA_FILE)
FIGURES = Figures()


@pytest.fixture(scope="module")
def world(store_endpoint: str) -> Iterator[dict[str, Any]]:
    """One tenant with the demo catalog for the whole module, its three keys, and the app."""
    from starlette.testclient import TestClient

    from core.auth import Role
    from graphql_api.app import create_app
    from infra.bootstrap import bootstrap_tenant
    from tests.builders import cell_phone_plan
    from tests.conftest import Api

    tenant = f"fuzz-{uuid.uuid4().hex[:10]}"
    bootstrap_tenant(tenant)
    app = create_app()
    with TestClient(app) as client:
        api = Api(client, tenant)
        cell_phone_plan(api)
        yield {"keys": [api.keys[role] for role in Role], "client": client}
    FIGURES.report()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
          suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_5xx_an_unexpected_error_or_a_slow_answer(world: dict[str, Any], case: Any) -> None:
    for key in world["keys"]:
        started = time.monotonic()
        response = world["client"].post("/graphql", content=json.dumps({"query": case.body}).encode(),
                                        headers={"Authorization": f"Bearer {key}", "content-type": JSON})
        elapsed = time.monotonic() - started
        text = response.text
        FIGURES.add(case.operation.label, response.status_code, "Unexpected error." in text, elapsed)
        assert response.status_code < 500, (case.body, text[:2000])
        assert "Unexpected error." not in text, (case.body, text[:2000])
        if response.status_code == 200:
            body = json.loads(text)
            for error in body.get("errors") or []:
                assert (error.get("extensions") or {}).get("code"), (case.body, error)
        assert elapsed < BUDGET, (case.body, elapsed)
