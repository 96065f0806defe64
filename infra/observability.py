"""Powertools for every Lambda handler (functions/ and the API), configured the way its users expect: by the
standard variables template.yaml sets.

- Logger: JSON lines, service ``POWERTOOLS_SERVICE_NAME``, level ``POWERTOOLS_LOG_LEVEL``, each line carrying the
  Lambda context (function, request id, cold start).
- Tracer (X-Ray; the template turns ``Tracing: Active`` on): built at the handler's first call, not at import
  (but at import under SnapStart, whose snapshot is taken after init), and not at all when tracing is off —
  ``POWERTOOLS_TRACE_DISABLED=true``, or outside Lambda (tests, `make serve`) — because building one imports
  aws_xray_sdk (0.15–0.3 s of CPU). It patches botocore, so each DynamoDB and S3
  call is a subsegment. A deployment that does not read X-Ray saves that time with POWERTOOLS_TRACE_DISABLED.
- Metrics (CloudWatch embedded metric format, printed to stdout): namespace ``POWERTOOLS_METRICS_NAMESPACE``
  (``UsageManagement`` when unset), dimensions ``service`` and ``function``; ``POWERTOOLS_METRICS_DISABLED=true``
  prints nothing. Each call of ``publish`` is one EMF document with its own metric set: Powertools' ``Metrics``
  keeps one set per process, which the local pollers' concurrent handlers would mix up.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aws_lambda_powertools import Logger

DEFAULT_NAMESPACE = "UsageManagement"
_TRUE = ("1", "true", "yes", "on")

#: the one logger of every function: Powertools takes its service from POWERTOOLS_SERVICE_NAME
logger = Logger()

H = TypeVar("H", bound=Callable[..., Any])


def tracing_on() -> bool:
    """As Powertools decides: off when POWERTOOLS_TRACE_DISABLED says so, or outside Lambda (no X-Ray daemon)."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in _TRUE:
        return False
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not os.environ.get("AWS_SAM_LOCAL")


def observed(handler: H) -> H:
    """A Lambda handler with the Lambda context in its log lines and, when tracing is on, an X-Ray segment."""
    logged = logger.inject_lambda_context(handler)
    chosen: list[Callable[..., Any]] = []

    def choose() -> None:
        if tracing_on():
            from aws_lambda_powertools import Tracer

            chosen.append(Tracer().capture_lambda_handler(logged, capture_response=False))
        else:
            chosen.append(logged)

    @functools.wraps(handler)
    def observed_handler(event: Any, context: Any) -> Any:
        if not chosen:  # the first call of this container (cold start)
            choose()
        return chosen[0](event, context)

    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        choose()  # SnapStart snapshots the container after init: a Tracer built now is in the snapshot
    return observed_handler  # type: ignore[return-value]


def publish(function: str, counts: Mapping[str, int | float]) -> None:
    """One EMF document of these counts (zeros included: an alarm sees 0, not missing data)."""
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    metrics = AmazonCloudWatchEMFProvider(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
                                          or DEFAULT_NAMESPACE)
    metrics.add_dimension(name="function", value=function)
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if counts:
        metrics.flush_metrics()
