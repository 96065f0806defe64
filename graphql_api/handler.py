"""Lambda entry point: the Starlette app behind Mangum (API Gateway HTTP API, payload v2), observed like every
function (infra/observability.py: the Lambda context in the log lines, X-Ray when tracing is on).

The app's modules (Strawberry, Starlette, the schema, built once at import) are imported at init, which SnapStart
snapshots (template.yaml): a restored instance starts with them loaded. Clients and tables are bound on the first
call, after any restore, so no connection or credential is ever taken from a snapshot, and the `random` module
is seeded again then: instances restored from one snapshot would otherwise share its state, and with it the
jitter of their retries.
"""

from __future__ import annotations

import random
from typing import Any

from mangum import Mangum

from graphql_api.app import create_app
from infra.bootstrap import connect
from infra.observability import observed

_handler: Mangum | None = None


@observed
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:  # first call (after init, or after a SnapStart restore): bind to the configured tables once
        random.seed()  # from os.urandom, per instance
        connect(create_tables=False)
        _handler = Mangum(create_app(), lifespan="off")
    return _handler(event, context)
