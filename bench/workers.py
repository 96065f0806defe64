"""The processes of `bench.realtime`, apart as on AWS: the GraphQL API (uvicorn), and the stream pollers (the
rate and summarize Lambdas). Each counts its own DynamoDB requests (``bench.counting``) and answers the driver
over a pipe: ``reset``, ``snapshot`` (billed units, and for the pollers when each record became visible),
``drain`` (pollers), ``stop``. Their CPU is read by the driver from /proc/<pid>/stat.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any


def _serve_commands(conn: Any, handlers: dict[str, Any]) -> None:
    while True:
        command, argument = conn.recv()
        try:
            conn.send(("ok", handlers[command](argument)))
        except Exception as exc:
            conn.send(("error", repr(exc)))
        if command == "stop":
            return


def api_worker(conn: Any, port: int) -> None:
    """uvicorn serving the GraphQL app on 127.0.0.1:port."""
    import uvicorn

    from bench import counting

    counting.install()
    from graphql_api.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    def stop(_: Any) -> None:
        server.should_exit = True
        thread.join(10)

    conn.send(("ok", "started"))
    _serve_commands(conn, {"reset": lambda _: counting.reset(), "snapshot": lambda _: counting.snapshot(),
                           "stop": stop})


def rate_worker(conn: Any, tenant: str, overrides: dict[str, Any]) -> None:
    """The rate and summarize pollers of one tenant's records, each invocation timed."""
    from bench import counting

    counting.install()
    from infra.settings import get_settings
    from infra.usage_repo import record_from_item
    from local.pollers import start_pollers

    settings = get_settings()
    visible: dict[str, float] = {}
    busy = [0.0, 0.0]  # wall seconds in the handlers, process CPU seconds while they ran
    lock = threading.Lock()

    def wrap(handler: Any) -> Any:
        def timed(event: dict[str, Any], context: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            for record in event["Records"]:  # the meter learns the records as the stream shows them
                image = record["dynamodb"].get("NewImage")
                if image:
                    counting.observe(settings.usage_table, image)
            response = handler(event, context)
            done, wall, cpu_done = time.perf_counter(), time.time(), time.process_time()
            failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
            with lock:
                busy[0] += done - started
                busy[1] += cpu_done - cpu
                for record in event["Records"]:
                    if record["dynamodb"]["SequenceNumber"] not in failed and record["dynamodb"].get("NewImage"):
                        key = record_from_item(record["dynamodb"]["NewImage"]).idempotency_key
                        visible.setdefault(key, wall)
            return response
        timed.__name__ = getattr(handler, "__name__", "handler")
        return timed

    profile_to = os.environ.get("USAGE_BENCH_PROFILE_RATE")  # a file: cProfile stats of the rate invocations
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        plain_wrap = wrap

        def wrap(handler: Any) -> Any:  # type: ignore[no-redef]
            timed = plain_wrap(handler)
            if getattr(handler, "__module__", "") != "functions.rate.handler":
                return timed

            def profiled(event: dict[str, Any], context: Any) -> Any:
                return profiler.runcall(timed, event, context)
            return profiled

    pollers = start_pollers(settings, wrap=wrap, tenant=tenant, **overrides)

    def snapshot(_: Any) -> dict[str, Any]:
        with lock:
            return {**counting.snapshot(), "visible": dict(visible), "busy": busy[0], "handler_cpu": busy[1]}

    def reset(_: Any) -> None:
        counting.reset()
        with lock:
            busy[0] = busy[1] = 0.0

    def stop(_: Any) -> None:
        pollers.stop()
        if profile_to:
            profiler.dump_stats(profile_to)

    conn.send(("ok", "started"))
    _serve_commands(conn, {"reset": reset, "snapshot": snapshot, "drain": lambda t: pollers.drain(t or 300),
                           "stop": stop})
