"""What the real-time path costs a user, tried as a partner would (GraphQL over HTTP), on the store of the run
(`make bench` uses Amazon DynamoDB Local, in its own process), for the two workloads of issue 14:

- **burst**: 5,000 events over 50 accounts, sent as 5 recordUsage calls of 1,000 (each call one metering
  minute), back to back;
- **steady**: 150 events/s asked over 500 accounts — a call of 75 events every 0.5 s for
  ``USAGE_BENCH_STEADY_S`` seconds (default 60; e.g. ``USAGE_BENCH_STEADY_S=15`` for a quick run), every event
  with its own timestamp, sent open-loop (a call goes out on time even while earlier ones are still being
  answered, up to ``SENDERS`` in flight); one event per call goes to a **probe** account whose summary the
  driver polls over GraphQL (every ``PROBE_EVERY_S``), which is how a user sees an event arrive. Before it,
  every steady account (and the probe) uses each resource once (``steady_warmup_calls``, not measured): a
  steady state has its period's summaries and wallet counters already, and warm rating containers;
  ``USAGE_BENCH_STEADY_WARM=0`` measures from cold instead.

``USAGE_BENCH_WORKLOADS=steady`` (or ``burst``) runs one of them; ``USAGE_BENCH_PROFILE_RATE=/tmp/rate.prof``
writes cProfile stats of the rate invocations (their own thread) when the run ends.

Three processes besides the driver, as on AWS: the API (uvicorn, ``bench.workers.api_worker``), the stream
pollers running the rate and summarize handlers (``bench.workers.rate_worker``), and the store. Reported per
workload, from the same run:

- **billed WCU per event** (and the share of index writes) and **RCU per event**, computed from the requests
  themselves (``bench.counting``: item sizes by DynamoDB's rules, ×2 inside transactions, index entries), split
  by table and by kind of write; the probe's polls are left out of the reads;
- **CPU per event**: the API process (per record), the rate handler's invocations (process CPU while it runs)
  and the whole poller process (also its idle GetRecords polling, which Lambda does for free), and the store's
  own CPU (the DynamoDB Local JVM, from /proc/<pid>/stat; it also serves the pollers' GetRecords);
- **sustained events/s** (events ÷ first call to last event visible) and the client's own pace;
- **p50/p99 from the recordUsage call to the event being visible in its summary**: for every event, when the
  rate invocation that wrote its summary returned (its summary is written in the same transaction as its rated
  status); for the steady run also as the probe sees it through the API.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import socket
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

BURST_EVENTS, BURST_ACCOUNTS, BURST_CALL = 5_000, 50, 1_000
STEADY_RATE, STEADY_ACCOUNTS, STEADY_CALL, STEADY_EVERY_S = 150, 500, 75, 0.5
PROBE = "probe"
PROBE_EVERY_S = 0.2
SENDERS = 8  # steady calls in flight at most (the client's side)
TARGETS = {"burst": {"wcu": 4.0, "cpu_ms": 1.0, "api_ms": 0.6},
           "steady": {"wcu": 7.0, "cpu_ms": 1.5, "p99_s": 2.0, "pace": 0.9}}

PROBE_QUERY = """query($a: String!) { account(externalId: $a) { usageSummaries(first: 10) {
  edges { node { usageCount } } } } }"""


def steady_seconds() -> float:
    return float(os.environ.get("USAGE_BENCH_STEADY_S", "60"))


# ---------------------------------------------------------------------------------------------- processes
def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its reaped children), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class Worker:
    def __init__(self, target: Any, *args: Any):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=target, args=(child, *args), daemon=True)
        self.process.start()
        self.expect()

    def expect(self) -> Any:
        status, value = self.conn.recv()
        if status != "ok":
            raise RuntimeError(value)
        return value

    def __call__(self, command: str, argument: Any = None) -> Any:
        self.conn.send((command, argument))
        return self.expect()

    @property
    def cpu(self) -> float:
        assert self.process.pid is not None
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(EOFError, OSError, RuntimeError):
                self("stop")
            self.process.join(10)
            if self.process.is_alive():
                self.process.terminate()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------- workloads
def _event(rng: random.Random, key: str, account: str, begin: datetime, end: datetime) -> dict[str, Any]:
    from bench.pipeline import iso, usage_mix

    resource, quantity = usage_mix(rng)
    return {"idempotencyKey": key, "accountExternalId": account, "resourceCode": resource, "quantity": quantity,
            "startTime": iso(begin), "endTime": iso(end)}


def burst_calls(rng: random.Random, run: str, now: datetime) -> list[list[dict[str, Any]]]:
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = max(month_start, now - timedelta(minutes=15))
    calls = []
    for k in range(BURST_EVENTS // BURST_CALL):
        begin, end = start + timedelta(minutes=k), start + timedelta(minutes=k + 1)
        calls.append([_event(rng, f"{run}-b{i}", f"b{i % BURST_ACCOUNTS:03d}", begin, end)
                      for i in range(k * BURST_CALL, (k + 1) * BURST_CALL)])
    return calls


def steady_call(rng: random.Random, run: str, number: int) -> list[dict[str, Any]]:
    """Call ``number``: STEADY_CALL - 1 accounts in turn and the probe, each event stamped now."""
    now = datetime.now(UTC)
    call = []
    for j in range(STEADY_CALL - 1):
        i = number * (STEADY_CALL - 1) + j
        at = now - timedelta(microseconds=j)
        call.append(_event(rng, f"{run}-s{i}", f"s{i % STEADY_ACCOUNTS:03d}", at, at))
    call.append({"idempotencyKey": f"{run}-p{number}", "accountExternalId": PROBE, "resourceCode": "TEXTS",
                 "quantity": "1", "startTime": call[0]["startTime"], "endTime": call[0]["endTime"]})
    return call


def steady_warmup_calls(run: str) -> list[list[dict[str, Any]]]:
    """One event of every resource for every steady account and the probe, an hour ago, in calls of 300."""
    from bench.pipeline import iso

    now = datetime.now(UTC)
    at = iso(max(now - timedelta(hours=1), now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)))
    events = [{"idempotencyKey": f"{run}-{account}-{resource}", "accountExternalId": account,
               "resourceCode": resource, "quantity": quantity, "startTime": at, "endTime": at}
              for account in [*(f"s{i:03d}" for i in range(STEADY_ACCOUNTS)), PROBE]
              for resource, quantity in (("TEXTS", "1"), ("DATA", "0.01"), ("MINUTES", "1"))]
    return [events[i:i + 300] for i in range(0, len(events), 300)]


class Http:
    """The partner's client: GraphQL over HTTP to the API process."""

    def __init__(self, base: str, key: str):
        import httpx

        self.client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120)

    def __call__(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = self.client.post("/graphql", json={"query": query, "variables": variables}).json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body["data"]  # type: ignore[no-any-return]

    def record(self, call: list[dict[str, Any]]) -> None:
        from bench.pipeline import RECORD

        answer = self(RECORD, {"records": call})["recordUsage"]
        if answer["accepted"] != len(call):
            raise RuntimeError(f"recordUsage did not accept every event: {answer}")

    def probe_count(self) -> int:
        edges = self(PROBE_QUERY, {"a": PROBE})["account"]["usageSummaries"]["edges"]
        return sum(e["node"]["usageCount"] for e in edges)


class Probe(threading.Thread):
    """Polls the probe account's summaries: when its count reaches n, the n-th probe event is visible."""

    def __init__(self, http: Http, base_count: int):
        super().__init__(daemon=True)
        self.http, self.base = http, base_count
        self.seen: dict[int, float] = {}
        self.polls = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            count = self.http.probe_count() - self.base
            at = time.time()
            self.polls += 1
            for n in range(1, count + 1):
                self.seen.setdefault(n, at)
            self.done.wait(PROBE_EVERY_S)


# ---------------------------------------------------------------------------------------------- measuring
class Meters:
    def __init__(self, api: Worker, rate: Worker, store_pid: int | None):
        self.api, self.rate, self.store_pid = api, rate, store_pid

    def start(self) -> dict[str, Any]:
        self.rate("drain", 300)
        self.api("reset")
        self.rate("reset")
        return {"api": self.api.cpu, "rate": self.rate.cpu, "store": cpu_seconds(self.store_pid)
                if self.store_pid else None, "at": time.time()}

    def stop(self, started: dict[str, Any]) -> dict[str, Any]:
        return {"api_cpu": self.api.cpu - started["api"], "rate_cpu": self.rate.cpu - started["rate"],
                "store_cpu": cpu_seconds(self.store_pid) - started["store"] if self.store_pid else None,
                "api": self.api("snapshot"), "rate": self.rate("snapshot")}


def wait_visible(rate: Worker, keys: list[str], timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        visible = rate("snapshot")["visible"]
        missing = [k for k in keys if k not in visible]
        if not missing:
            return visible  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(missing)} events were not rated in {timeout:.0f}s")
        time.sleep(0.5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(q * len(ordered))) - 1))]


def figures(name: str, events: int, sent: dict[str, float], measured: dict[str, Any], started_at: float,
            poll_cost: tuple[float, float] = (0.0, 0.0), polls: int = 0,
            probe: list[float] | None = None, pace: float | None = None) -> dict[str, Any]:
    api, rate = measured["api"], measured["rate"]
    visible = rate["visible"]
    index = sum(api["index_wcu"].values()) + sum(rate["index_wcu"].values())
    wcu = sum(api["wcu"].values()) + sum(rate["wcu"].values()) + index
    rcu = sum(api["rcu"].values()) + sum(rate["rcu"].values()) - polls * poll_cost[0]
    latencies = [visible[k] - sent[k] for k in sent]
    finished = max(visible[k] for k in sent)
    by_kind: dict[str, float] = {}
    for side in (api, rate):
        for kind, units in side["writes_by_kind"].items():
            by_kind[kind] = by_kind.get(kind, 0) + units
        for table, units in side["index_wcu"].items():
            by_kind[f"{table}/index"] = by_kind.get(f"{table}/index", 0) + units
    return {
        "name": name, "events": events,
        "wcu": wcu / events, "index_wcu": index / events, "rcu": rcu / events,
        "by_kind": {k: v / events for k, v in sorted(by_kind.items())},
        "api_ms": (measured["api_cpu"] - api["meter_cpu"] - polls * poll_cost[1]) / events * 1000,
        "rate_ms": (rate["handler_cpu"] - rate["meter_cpu"]) / events * 1000,
        "rate_process_ms": (measured["rate_cpu"] - rate["meter_cpu"]) / events * 1000,
        "meter_ms": (api["meter_cpu"] + rate["meter_cpu"]) / events * 1000,
        "store_ms": measured["store_cpu"] / events * 1000 if measured["store_cpu"] is not None else None,
        "events_per_s": events / (finished - started_at), "pace": pace,
        "p50": statistics.median(latencies), "p99": percentile(latencies, 0.99),
        "probe_p50": statistics.median(probe) if probe else None,
        "probe_p99": percentile(probe, 0.99) if probe else None,
        "unparsed": {**api["unparsed"], **rate["unparsed"]},
    }


def show(f: dict[str, Any]) -> None:
    target = TARGETS[f["name"]]
    cpu = f["api_ms"] + (f["rate_ms"] or f["rate_process_ms"])

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT MET"

    print(f"--- {f['name']}: {f['events']} events")
    print(f"billed WCU/event {f['wcu']:.2f} (index {f['index_wcu']:.2f}) [target ≤ {target['wcu']:g}: "
          f"{verdict(f['wcu'] <= target['wcu'])}]; RCU/event {f['rcu']:.2f}")
    print("  WCU/event by table and write: " + ", ".join(f"{k} {v:.2f}" for k, v in f["by_kind"].items()))
    store = f"{f['store_ms']:.2f} ms" if f["store_ms"] is not None else "n/a (in process)"
    print(f"CPU/event: API {f['api_ms']:.2f} ms, rate handler {f['rate_ms']:.2f} ms (poller process "
          f"{f['rate_process_ms']:.2f} ms), store {store}; API + rating {cpu:.2f} ms "
          f"(the meter's own {f['meter_ms']:.2f} ms left out) "
          f"[target ≤ {target['cpu_ms']:g}: {verdict(cpu <= target['cpu_ms'])}]")
    pace = f" (the client sent {f['pace']:.0f} events/s)" if f["pace"] else ""
    print(f"sustained {f['events_per_s']:.0f} events/s{pace}; recordUsage → visible in summary: "
          f"p50 {f['p50']:.2f} s, p99 {f['p99']:.2f} s"
          + (f"; as the probe sees it: p50 {f['probe_p50']:.2f} s, p99 {f['probe_p99']:.2f} s"
             if f["probe_p50"] is not None else ""))
    if "p99_s" in target:
        p99 = f["probe_p99"] if f["probe_p99"] is not None else f["p99"]
        print(f"  [p99 ≤ {target['p99_s']:g} s: {verdict(p99 <= target['p99_s'])}; ≥ 90 % of "
              f"{STEADY_RATE} events/s sustained: {verdict(f['events_per_s'] >= target['pace'] * STEADY_RATE)}]")
    if f["unparsed"]:
        print(f"  (meter: requests it could not price exactly: {f['unparsed']})")


def run() -> None:
    from bench import store as bench_store
    from bench.store import ensure_store

    ensure_store()
    from starlette.testclient import TestClient

    from bench.pipeline import SUBSCRIBE, Api, catalog, iso
    from bench.workers import api_worker, rate_worker
    from core.auth import Role
    from graphql_api.app import create_app
    from infra.apikeys import create_key
    from infra.bootstrap import bootstrap_tenant

    tenant = f"bench-rt-{uuid.uuid4().hex[:8]}"
    bootstrap_tenant(tenant)
    key = create_key(tenant, {Role.ADMIN}, "bench")
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with TestClient(create_app()) as http:
        api = Api(http, key)
        catalog(api)
        names = [f"b{n:03d}" for n in range(BURST_ACCOUNTS)] + [f"s{n:03d}" for n in range(STEADY_ACCOUNTS)]
        for name in [*names, PROBE]:
            api(SUBSCRIBE, {"input": {"externalId": f"sub-{name}", "accountExternalId": name,
                                      "productCode": "CELL", "startDate": iso(month_start)}})
    process = getattr(bench_store._store, "process", None)
    store_pid = process.pid if process is not None else None
    port = free_port()
    api_proc = Worker(api_worker, port)
    rate_proc = Worker(rate_worker, tenant, {})
    try:
        meters = Meters(api_proc, rate_proc, store_pid)
        client = Http(f"http://127.0.0.1:{port}", key)
        rng = random.Random(14)
        run_id = uuid.uuid4().hex[:6]
        client.record(steady_call(rng, f"warm-{run_id}", 0))  # warm: schema, catalog, connections, JIT
        client.probe_count()

        workloads = os.environ.get("USAGE_BENCH_WORKLOADS", "burst,steady").split(",")
        # burst
        calls = burst_calls(rng, run_id, now) if "burst" in workloads else []
        started = meters.start()
        sent: dict[str, float] = {}
        for call in calls:
            at = time.time()
            client.record(call)
            sent.update({e["idempotencyKey"]: at for e in call})
        if calls:
            wait_visible(rate_proc, list(sent), 600)
            show(figures("burst", len(sent), sent, meters.stop(started), started["at"]))
        if "steady" not in workloads:
            return

        # the steady state of a billing period: each account has used each resource this period already (its
        # summaries and wallet counters exist) and rating's containers are warm, as they are under steady traffic;
        # without this a short run measures the first sight of 500 accounts (new summaries, index entries, cold
        # reads) as if it were the steady cost (USAGE_BENCH_STEADY_WARM=0 measures from cold)
        if os.environ.get("USAGE_BENCH_STEADY_WARM", "1") != "0":
            for warm_call in steady_warmup_calls(f"warm-{run_id}"):
                client.record(warm_call)

        # the cost of one probe poll, to leave out of the steady figures
        rate_proc("drain", 300)
        api_proc("reset")
        cpu_before = api_proc.cpu
        for _ in range(20):
            client.probe_count()
        polled = api_proc("snapshot")
        poll_cost = (sum(polled["rcu"].values()) / 20, (api_proc.cpu - cpu_before - polled["meter_cpu"]) / 20)

        # steady
        seconds = steady_seconds()
        started = meters.start()
        probe = Probe(client, client.probe_count())
        probe_sent: list[float] = []
        sent = {}
        probe.start()
        calls_total = int(seconds / STEADY_EVERY_S)
        first = time.time()
        lock = threading.Lock()

        def send(call: list[dict[str, Any]], due: float) -> None:
            client.record(call)
            with lock:
                sent.update({e["idempotencyKey"]: due for e in call})

        # open loop: a call goes out on its schedule whether or not the ones before it are answered (partners
        # are many clients), and its events are timed from that moment, so a slow answer is not hidden
        with ThreadPoolExecutor(max_workers=SENDERS) as senders:
            pending = []
            for number in range(calls_total):
                due = first + number * STEADY_EVERY_S
                time.sleep(max(0.0, due - time.time()))
                pending.append(senders.submit(send, steady_call(rng, run_id, number), time.time()))
                probe_sent.append(time.time())
            for future in pending:
                future.result()
        pace = len(sent) / (time.time() - first)
        wait_visible(rate_proc, list(sent), 600)
        deadline = time.monotonic() + 60
        while len(probe.seen) < len(probe_sent) and time.monotonic() < deadline:
            time.sleep(0.1)
        probe.done.set()
        probe.join()
        measured = meters.stop(started)
        probe_latency = [probe.seen[n + 1] - at for n, at in enumerate(probe_sent) if n + 1 in probe.seen]
        show(figures("steady", len(sent), sent, measured, started["at"], poll_cost, probe.polls, probe_latency,
                     pace))
    finally:
        api_proc.stop()
        rate_proc.stop()
