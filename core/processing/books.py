"""The wallets and summaries a batch touches, held in memory and updated record by record while it is rated.

Drawdown and reversals are ``core.wallets``' (``plan_draw``: COMMITMENT buckets first, then the wallet's
drawdown order; ``plan_reversal``; ``book``) applied to the credit counters storage read at the batch's start.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from core.errors import DomainError, ErrorCode
from core.periods import as_utc
from core.processing.context import RatingContext, WalletState
from core.processing.outcome import WalletDebits
from core.summaries import Contribution, SummaryKey, UsageSummary, aggregate
from core.summaries import apply as apply_delta
from core.wallets import Plans, book, drawable, plan_draw, plan_reversal

ZERO = Decimal(0)
SummaryRef = tuple[str, str]  # (account, summary id)
Saved = tuple[dict[str, WalletState], dict[SummaryRef, UsageSummary], dict[SummaryRef, UsageSummary]]


class Books:
    def __init__(self, context: RatingContext):
        self.now = context.now
        self._wallets: dict[str, WalletState] = dict(context.wallets)
        self._summaries: dict[SummaryRef, UsageSummary] = dict(context.summaries)
        self.created: dict[SummaryRef, UsageSummary] = {}
        #: the grants' bucket plans asked for so far (they depend on the schedule and the time alone)
        self._plans: Plans = {}

    def save(self) -> Saved:
        """A checkpoint to ``restore`` when a record turns out not to be rateable after all."""
        return dict(self._wallets), dict(self._summaries), dict(self.created)

    def restore(self, saved: Saved) -> None:
        self._wallets, self._summaries, self.created = dict(saved[0]), dict(saved[1]), dict(saved[2])

    # ------------------------------------------------------------------------------------------ wallets
    def wallet(self, wallet_id: str) -> WalletState | None:
        return self._wallets.get(wallet_id)

    def holds(self, wallet_id: str, at: datetime) -> bool:
        """Whether the wallet has anything drawable at ``at`` (a wallet without grants holds nothing)."""
        wallet = self._wallets.get(wallet_id)
        if wallet is None:
            return False
        return any(d.bucket.balance > ZERO for d in drawable(wallet.ref.grants, wallet.counters, as_utc(at),
                                                                      self._plans))

    def plan_draw(self, wallet_id: str, quantity: Decimal, at: datetime) -> tuple[WalletDebits | None, Decimal]:
        """What drawing ``quantity`` at ``at`` would take and the overage left; a missing wallet covers nothing."""
        wallet = self._wallets.get(wallet_id)
        if wallet is None or quantity == ZERO:
            return None, quantity
        draw = plan_draw(wallet.ref.grants, wallet.counters, quantity, as_utc(at), plans=self._plans)
        change = WalletDebits(wallet_id, as_utc(at), draw.changes) if draw.changes else None
        return change, draw.overage

    def plan_credit(self, wallet_id: str, debits: tuple[tuple[str, Decimal], ...], at: datetime
                    ) -> WalletDebits | None:
        """Give ``debits`` back to the buckets they came from, effective at the original usage time ``at``."""
        if not debits:
            return None
        wallet = self._wallets.get(wallet_id)
        if wallet is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"wallet '{wallet_id}' does not exist")
        return WalletDebits(wallet_id, as_utc(at), plan_reversal(wallet.counters, debits))

    def commit(self, change: WalletDebits | None) -> None:
        if change is None:
            return
        wallet = self._wallets[change.wallet_id]
        self._wallets[change.wallet_id] = replace(wallet, counters=book(wallet.counters, change.changes))

    # ------------------------------------------------------------------------------------------ summaries
    def summary(self, account: str, summary_id: str) -> UsageSummary | None:
        return self._summaries.get((account, summary_id))

    def open_summary(self, account: str, key: SummaryKey, create: UsageSummary) -> UsageSummary:
        """The summary of ``key``, created as ``create`` when it does not exist yet."""
        ref = (account, key.id)
        if ref not in self._summaries:
            self._summaries[ref] = create
            self.created[ref] = create
        return self._summaries[ref]

    def book(self, account: str, contribution: Contribution) -> None:
        ref = (account, contribution.summary_id)
        delta = aggregate([contribution])[contribution.summary_id]
        self._summaries[ref] = apply_delta(self._summaries[ref], delta, self.now)
