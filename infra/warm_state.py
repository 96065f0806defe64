"""What a warm rating container keeps between the stream batches it rates, so that a batch reads only what changed.

The policy, per kind of entry:

- **Subscriptions** of an account, while the account's subscriptions version is unchanged: every batch reads the
  versions of its accounts in one consistent BatchGetItem (``AccountsRepository.subscriptions_versions``, one
  read unit per account) and re-reads an account whose version moved. Every subscription write bumps that version
  in the same transaction, so an amendment or a cancellation is seen by the very next batch, and an entry needs no
  short expiry: it is dropped after ``subscriptions_ttl_s`` (10 min) only as a bound on anything written around
  the repositories. (With the catalog's 30 s, every account of a steady stream was Queried — and its
  subscriptions decoded — again every 30 s: a batch of 75 records over 75 such accounts took about twice the CPU
  of one whose accounts were remembered.) The version is read *before*
  the subscriptions it is stored with, so an entry is never newer-versioned than its subscriptions.
- **The catalog** (what rating reads of it, ``infra.catalog_view``), for ``ttl_s``. It carries no version the
  writes could be conditioned on, so it is trusted only for records that rate cleanly: a batch in which any record
  comes out ERROR or WARNING_UNRATED is rated again on fresh reads (a rate or resource that appears within the TTL
  may be seen that much later — the same as if the usage had arrived that much earlier).
- **Wallet counters and summaries** as this container last wrote or read them, without expiry: every write is
  conditioned on exactly that state (a counter's total, a summary's version), so a stale entry can only make a
  transaction fail, after which the entries of its groups are dropped (``forget``) and read again.

Everything is dropped at once past ``max_entries``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.processing import CatalogView
from core.subscriptions import Subscription
from core.summaries import UsageSummary
from core.wallets import CreditCounter

SummaryRef = tuple[str, str]  # (account external id, summary id)
Subscriptions = tuple[Subscription, ...] | None  # None: no such account


@dataclass(frozen=True, slots=True)
class AccountEntry:
    read_at: float
    version: int | None
    subscriptions: Subscriptions


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    read_at: float
    products: frozenset[str]
    resources: frozenset[str]
    view: CatalogView


class WarmState:
    """One container's remembered reads (see the module docstring for the policy); thread-safe."""

    def __init__(self, ttl_s: float = 30.0, max_entries: int = 100_000, subscriptions_ttl_s: float = 600.0):
        self.ttl_s = ttl_s
        self.subscriptions_ttl_s = subscriptions_ttl_s
        self.max_entries = max_entries
        self.lock = threading.Lock()
        self.accounts: dict[tuple[str, str], AccountEntry] = {}
        self.catalogs: dict[str, CatalogEntry] = {}
        self.counters: dict[tuple[str, str], dict[str, CreditCounter]] = {}
        self.summaries: dict[tuple[str, str, str], UsageSummary] = {}

    def fresh(self, read_at: float, ttl_s: float | None = None) -> bool:
        return time.monotonic() - read_at < (self.ttl_s if ttl_s is None else ttl_s)

    def clear(self) -> None:
        with self.lock:
            self.accounts.clear()
            self.catalogs.clear()
            self.counters.clear()
            self.summaries.clear()

    # ------------------------------------------------------------------------------------------ subscriptions
    def subscriptions(self, tenant: str, versions: Mapping[str, int | None]) -> dict[str, Subscriptions]:
        """The remembered subscriptions of the accounts whose version is still ``versions[name]``."""
        with self.lock:
            entries = {name: self.accounts.get((tenant, name)) for name in versions}
        return {name: e.subscriptions for name, e in entries.items()
                if e is not None and self.fresh(e.read_at, self.subscriptions_ttl_s) and e.version == versions[name]}

    def keep_subscriptions(self, tenant: str, read: Mapping[str, Subscriptions],
                           versions: Mapping[str, int | None]) -> None:
        """Remember subscriptions read after their accounts' ``versions`` were."""
        now = time.monotonic()
        with self.lock:
            self._trim()
            for name, subscriptions in read.items():
                self.accounts[(tenant, name)] = AccountEntry(now, versions.get(name), subscriptions)

    # ------------------------------------------------------------------------------------------ catalog
    def catalog(self, tenant: str, products: set[str], resources: set[str]) -> CatalogView | None:
        """The remembered catalog of the tenant if it was read for (at least) these products and resources."""
        with self.lock:
            entry = self.catalogs.get(tenant)
        if entry is None or not self.fresh(entry.read_at):
            return None
        if not (products <= entry.products and resources <= entry.resources):
            return None
        return entry.view

    def keep_catalog(self, tenant: str, products: set[str], resources: set[str], view: CatalogView) -> None:
        with self.lock:
            self.catalogs[tenant] = CatalogEntry(time.monotonic(), frozenset(products), frozenset(resources), view)

    # ------------------------------------------------------------------------------------------ counters, summaries
    def known_counters(self, tenant: str, wallet_ids: Iterable[str]) -> dict[str, dict[str, CreditCounter]]:
        with self.lock:
            return {w: dict(self.counters[(tenant, w)]) for w in wallet_ids if (tenant, w) in self.counters}

    def known_summaries(self, tenant: str, refs: Iterable[SummaryRef]) -> dict[SummaryRef, UsageSummary]:
        with self.lock:
            found = {(a, s): self.summaries.get((tenant, a, s)) for a, s in refs}
        return {ref: summary for ref, summary in found.items() if summary is not None}

    def remember(self, tenant: str, counters: Mapping[str, Mapping[str, CreditCounter]] | None = None,
                 summaries: Mapping[SummaryRef, UsageSummary] | None = None) -> None:
        with self.lock:
            self._trim()
            for wallet_id, counter in (counters or {}).items():
                self.counters[(tenant, wallet_id)] = dict(counter)
            for (account, summary_id), summary in (summaries or {}).items():
                self.summaries[(tenant, account, summary_id)] = summary

    def forget(self, tenant: str, wallet_ids: Iterable[str], refs: Iterable[SummaryRef]) -> None:
        with self.lock:
            for wallet_id in wallet_ids:
                self.counters.pop((tenant, wallet_id), None)
            for account, summary_id in refs:
                self.summaries.pop((tenant, account, summary_id), None)

    def _trim(self) -> None:  # under the lock
        if len(self.counters) + len(self.summaries) + len(self.accounts) > self.max_entries:
            self.accounts.clear()
            self.counters.clear()
            self.summaries.clear()


#: The container's warm state (one per process: a Lambda container, or `make serve`).
WARM = WarmState()
