"""Replay stream batches through the rate handler on Amazon DynamoDB Local and report its process CPU per record,
once the accounts are warm (issue 14 §3; what infra/README.md, "Rating's CPU per event", quotes).

    PYTHONPATH=. .venv/bin/python scripts/rate_replay.py steady 8    # or: burst 6

A tenant with `bench.realtime`'s catalog (the Cell Phone Plan) and 500 (steady) or 50 (burst) subscribed accounts;
the API runs in a process of its own (`bench.workers.api_worker`), so this process holds what a rate container
holds. Usage goes in through GraphQL; the rate handler gets the usage stream's batches from a `StreamPoller` run
here (no background polling). steady: every account first sees each resource once (three warm-up batches), then
each round is a batch of 300 records over 300 of the accounts, each its own usage time; burst: rounds of 1,000
records over 50 accounts in one metering minute (the first is the warm-up). The first round after the warm-up is
not measured either. Printed: every batch's CPU per record, and the measured batches' (with the collector's share).

Environment: REPLAY_PROFILE=/tmp/x.prof (cProfile of the measured invocations); REPLAY_SPY=/tmp/x.txt (py-spy, GIL
holder, raw stacks of the measured rounds); REPLAY_SPY_COLD=/tmp/x.txt (the same, of the first steady warm-up
batch); REPLAY_PREWARM=1 (the cold start on an account of its own first); REPLAY_METER=1 (with `bench.counting`).
"""

from __future__ import annotations

import gc
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

ACCOUNTS = {"steady": 500, "burst": 50}
WARM_QUANTITY = {"TEXTS": "1", "DATA": "0.01", "MINUTES": "1"}


def spy(to: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([".venv/bin/py-spy", "record", "-r", "500", "--gil", "-f", "raw", "-o", to,
                                "--pid", str(os.getpid())])
    time.sleep(2)
    return process


def main() -> None:
    workload = sys.argv[1] if len(sys.argv) > 1 else "steady"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    from bench import store as bench_store

    if os.environ.get("REPLAY_METER"):
        bench_store.ensure_store()
    else:  # no bench.counting: our own CPU alone
        from local.dynamodb_local import start_dynamodb_local

        bench_store._store = start_dynamodb_local()
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = bench_store._store.endpoint
        os.environ["AWS_ENDPOINT_URL_DYNAMODBSTREAMS"] = bench_store._store.endpoint
    import httpx

    from bench.pipeline import RECORD, SUBSCRIBE, Api, catalog, iso, usage_mix
    from bench.realtime import Worker, free_port
    from bench.workers import api_worker
    from core.auth import Role
    from infra.apikeys import create_key
    from infra.bootstrap import bootstrap_tenant, connect
    from infra.settings import get_settings
    from local.pollers import build_pollers

    connect()
    tenant = f"replay-{uuid.uuid4().hex[:8]}"
    bootstrap_tenant(tenant)
    key = create_key(tenant, {Role.ADMIN}, "replay")
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    names = [f"a{n:03d}" for n in range(ACCOUNTS[workload])]
    measured: list[tuple[int, float]] = []
    every: list[tuple[int, float]] = []
    phase = {"measure": False, "in_handler": False}
    profiler = None
    if os.environ.get("REPLAY_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
    gc_time = {0: 0.0, 1: 0.0, 2: 0.0}
    gc_count = {0: 0, 1: 0, 2: 0}
    gc_start = [0.0]

    def on_gc(step: str, info: dict[str, Any]) -> None:
        if not phase["measure"]:
            return
        if step == "start":
            gc_start[0] = time.process_time()
        else:
            gc_time[info["generation"]] += time.process_time() - gc_start[0]
            gc_count[info["generation"]] += 1

    gc.callbacks.append(on_gc)

    def wrap(handler: Any) -> Any:
        def timed(event: dict[str, Any], context: Any) -> Any:
            cpu = time.process_time()
            if phase["measure"] and profiler is not None:
                response = profiler.runcall(handler, event, context)
            else:
                response = handler(event, context)
            spent = time.process_time() - cpu
            every.append((len(event["Records"]), spent))
            if phase["measure"]:
                measured.append((len(event["Records"]), spent))
            if response and response.get("batchItemFailures"):
                print("batch item failures:", len(response["batchItemFailures"]))
            return response
        timed.__name__ = handler.__name__
        timed.__module__ = handler.__module__
        return timed

    port = free_port()
    api_proc = Worker(api_worker, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            api = Api(http, key)
            catalog(api)
            for name in names:
                api(SUBSCRIBE, {"input": {"externalId": f"sub-{name}", "accountExternalId": name,
                                          "productCode": "CELL", "startDate": iso(month_start)}})
            rate = build_pollers(get_settings(), wrap=wrap, tenant=tenant, batch_size=1000,
                                 batching_window_s=0).pollers[0]
            rng = random.Random(14)
            counter = [0]

            def record(events: list[dict[str, Any]]) -> None:
                for start in range(0, len(events), 500):
                    answer = api(RECORD, {"records": events[start:start + 500]})["recordUsage"]
                    assert answer["accepted"] == len(events[start:start + 500]), answer

            def event(account: str, resource: str, quantity: str, begin: datetime, end: datetime) -> dict[str, Any]:
                counter[0] += 1
                return {"idempotencyKey": f"e{counter[0]}", "accountExternalId": account, "resourceCode": resource,
                        "quantity": quantity, "startTime": iso(begin), "endTime": iso(end)}

            def steady_round(resource: str | None = None) -> list[dict[str, Any]]:
                at0 = datetime.now(UTC)
                picked = rng.sample(names, 300) if resource is None else names
                out = []
                for j, name in enumerate(picked):
                    code, quantity = usage_mix(rng) if resource is None else (resource, WARM_QUANTITY[resource])
                    at = at0 - timedelta(microseconds=j)
                    out.append(event(name, code, quantity, at, at))
                return out

            def burst_round(k: int) -> list[dict[str, Any]]:
                start = max(month_start, now - timedelta(minutes=30)) + timedelta(minutes=k)
                return [event(names[i % len(names)], *usage_mix(rng), start, start + timedelta(minutes=1))
                        for i in range(1000)]

            if os.environ.get("REPLAY_PREWARM"):
                record([event("prewarm", "TEXTS", "1", now, now)])
            rate.run_once()
            if workload == "steady":
                for resource in ("TEXTS", "DATA", "MINUTES"):
                    record(steady_round(resource))
                    cold = spy(os.environ["REPLAY_SPY_COLD"]) \
                        if os.environ.get("REPLAY_SPY_COLD") and resource == "TEXTS" else None
                    rate.run_once()
                    if cold is not None:
                        cold.send_signal(signal.SIGINT)
                        cold.wait()
            else:
                record(burst_round(0))
                rate.run_once()
            sampling = None
            for k in range(rounds):
                record(steady_round() if workload == "steady" else burst_round(k + 1))
                if os.environ.get("REPLAY_SPY") and k == 1:
                    sampling = spy(os.environ["REPLAY_SPY"])
                phase["measure"] = k >= 1
                rate.run_once()
                phase["measure"] = False
            if sampling is not None:
                sampling.send_signal(signal.SIGINT)
                sampling.wait()
    finally:
        api_proc.stop()
        stop = getattr(bench_store._store, "stop", None)
        if stop:
            stop()
    print("every batch (records, ms/record):", [(n, round(c / n * 1000, 2)) for n, c in every])
    records = sum(n for n, _ in measured)
    cpu = sum(c for _, c in measured)
    if records:
        print(f"{workload}: {len(measured)} batches, {records} records, rate handler CPU "
              f"{cpu / records * 1000:.3f} ms/record (per batch: "
              f"{', '.join(f'{c / n * 1000:.2f}' for n, c in measured)}); of it the collector "
              f"{sum(gc_time.values()) / records * 1000:.3f} ms/record ({gc_count})")
    if profiler is not None:
        profiler.dump_stats(os.environ["REPLAY_PROFILE"])


if __name__ == "__main__":
    main()
