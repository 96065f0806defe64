"""What a fuzz run did: operations sent, 5xx answers, "Unexpected error." answers, the slowest answers."""

from __future__ import annotations

import sys


class Figures:
    def __init__(self) -> None:
        self.server_errors = self.masked = 0
        self.times: list[tuple[float, str]] = []

    def add(self, label: str, status: int, masked: bool, elapsed: float) -> None:
        self.server_errors += status >= 500
        self.masked += masked
        self.times.append((elapsed, label))

    def report(self) -> None:
        if not self.times:
            return
        ordered = sorted(self.times, reverse=True)
        p99 = ordered[len(ordered) // 100][0]
        slowest = ", ".join(f"{elapsed * 1000:.0f} ms {label}" for elapsed, label in ordered[:3])
        print(f"\nfuzz: {len(ordered)} operations sent, {self.server_errors} answered 5xx, {self.masked} masked "
              f"('Unexpected error.'); p99 {p99 * 1000:.0f} ms; slowest: {slowest}", file=sys.stderr)
