"""What a fuzz run did: operations sent, 5xx answers, "Unexpected error." answers, the slowest answer."""

from __future__ import annotations

import sys


class Figures:
    def __init__(self) -> None:
        self.sent = self.server_errors = self.masked = 0
        self.slowest = (0.0, "")

    def add(self, label: str, status: int, masked: bool, elapsed: float) -> None:
        self.sent += 1
        self.server_errors += status >= 500
        self.masked += masked
        self.slowest = max(self.slowest, (elapsed, label))

    def report(self) -> None:
        print(f"\nfuzz: {self.sent} operations sent, {self.server_errors} answered 5xx, {self.masked} masked "
              f"('Unexpected error.'), slowest {self.slowest[0] * 1000:.0f} ms ({self.slowest[1]})", file=sys.stderr)
