"""Lambda entry point: the Starlette app behind Mangum (API Gateway HTTP API, payload v2), observed like every
function (infra/observability.py: the Lambda context in the log lines, X-Ray when tracing is on)."""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from infra.observability import observed

_handler: Mangum | None = None


@observed
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:  # cold start: bind to the configured tables once, never at import time
        from graphql_api.app import create_app
        from infra.bootstrap import connect

        connect(create_tables=False)
        _handler = Mangum(create_app(), lifespan="off")
    return _handler(event, context)  # type: ignore[no-any-return]
