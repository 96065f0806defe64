"""Many threads debiting one wallet on the embedded store: never overdrawn, every unit debited or overage, and a
ledger whose opening and closing balances chain exactly (the debits were serialised by the conditional writes)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

from core.catalog import (
    GrantType,
    Product,
    ProductUsageGrant,
    ProductUsageResource,
    RecordStatus,
    ResourceCategory,
    UnitOfMeasure,
    UsageModelType,
    UsageResource,
    ValidityUnit,
)
from core.subscriptions import BindingTarget, ProductOffer, SubscriptionRequest, build_subscription
from core.wallets import LedgerEntryType
from infra.accounts_repo import AccountsRepository
from infra.wallets_repo import WalletsRepository

ACTIVE = RecordStatus.ACTIVE
START = datetime(2026, 1, 1, tzinfo=UTC)
THREADS = 6
DEBITS_PER_THREAD = 12
SIZES = [7, 13, 29, 3, 41, 17]


def one_wallet_of(tenant: str, granted: int) -> None:
    """Account ``acme`` with one ACCOUNT-bound subscription granting ``granted`` texts once (valid a year)."""
    pur = ProductUsageResource("PLAN:P", "PLAN", "TEXTS", START, status=ACTIVE)
    grant = ProductUsageGrant("PLAN:P:G", "PLAN", pur.id, GrantType.GRANT, Decimal(granted), "EA", 1,
                              ValidityUnit.YEAR, START, status=ACTIVE)
    offer = ProductOffer(Product("PLAN", "Plan", UsageModelType.ANCHOR, ACTIVE), purs=[pur],
                         grants={pur.id: [grant]},
                         resources={"TEXTS": UsageResource("TEXTS", "Texts", ResourceCategory.USAGE, "COUNT", "EA",
                                                           status=ACTIVE)},
                         units={"EA": UnitOfMeasure("EA", "Each", "COUNT", Decimal(1), status=ACTIVE)})
    request = SubscriptionRequest("sub-1", "acme", "PLAN", START, binding_target=BindingTarget.ACCOUNT)
    AccountsRepository(tenant).add(request, build_subscription(request, offer, START), START)


def test_concurrent_debits_of_one_wallet_never_overdraw_it(tenant: str) -> None:
    # GIVEN a wallet of 1,000 texts
    one_wallet_of(tenant, 1000)
    results: list[tuple[Decimal, Decimal, Decimal]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    gate = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        repo = WalletsRepository(tenant)
        gate.wait()
        try:
            for n in range(DEBITS_PER_THREAD):
                quantity = Decimal(SIZES[(index + n) % len(SIZES)])
                at = datetime(2026, 1, 2 + n, index, tzinfo=UTC)
                plan = repo.commit(lambda q=quantity, t=at, ref=f"rec-{index}-{n}": repo.plan_debit(
                    "acme", "TEXTS", t, q, usage_record_id=ref))
                assert plan is not None
                with lock:
                    results.append((quantity, plan.debited, plan.overage))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    # WHEN several threads debit it at once, more in total than it holds
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not failures, failures
    assert len(results) == THREADS * DEBITS_PER_THREAD

    # THEN every unit asked for was debited or is overage, and exactly what the wallet held was debited
    asked = sum((r[0] for r in results), Decimal(0))
    debited = sum((r[1] for r in results), Decimal(0))
    overage = sum((r[2] for r in results), Decimal(0))
    assert asked > 1000 and debited + overage == asked and debited == 1000
    repo = WalletsRepository(tenant)
    (view,) = repo.wallets("acme", datetime(2026, 6, 1, tzinfo=UTC))
    assert view.balance.balance == 0
    (bucket,) = view.balance.buckets
    assert (bucket.granted, bucket.debited, bucket.balance) == (1000, 1000, 0)
    # and the ledger's balances chain from 1,000 down to 0 without a gap or a repeat: the debits were serial
    lines, more = repo.ledger_page(view, 100, None)
    assert not more
    debits = sorted((line for line in lines if line.type == LedgerEntryType.DEBIT), key=lambda line: -line.opening)
    assert debits[0].opening == 1000 and debits[-1].closing == 0
    assert all(a.closing == b.opening for a, b in zip(debits, debits[1:], strict=False))
    assert sum((-line.quantity for line in debits), Decimal(0)) == 1000
