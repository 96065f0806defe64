"""`make bench`: runs every benchmark in one process, against one embedded store, and prints their figures.

Speed targets are ratios measured within one run (machines are shared and noisy); absolute numbers are shown
for context only.
"""

from __future__ import annotations

import importlib
import os
import sys
import time

#: One line per benchmark module (each has ``run() -> None``).
BENCHES: list[str] = [
    "bench.catalog",
    "bench.coldstart",
    "bench.ingest",
    "bench.pipeline",
    "bench.realtime",
]


def main(argv: list[str]) -> int:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})
    # as under `make serve`: no X-Ray daemon here, and EMF documents would flood the figures (the workers inherit it)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    selected = [b for b in BENCHES if not argv or any(a in b for a in argv)]
    for name in selected:
        started = time.perf_counter()
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(name).run()
        print(f"--- {name}: {time.perf_counter() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
