"""Rating a batch of usage records, in order, against one context (DOMAIN §3, §4).

``process`` decides for each record: its status (PROCESSED, ERROR or WARNING_UNRATED with a code and a message
a person can act on), its converted quantity, the debits it draws (drawdown in the wallet's order, COMMITMENT
buckets first), its overage and its amount — the increment of the summary's price when the cumulative overage
at the record's rate grows by its overage, so the records of a summary add up to ``price(total)`` whatever the
order and batching. A record changes nothing else: a problem leaves the wallets and summaries as they were.

Corrections (``correction_of``): the original's own bookings and debits are reversed — in its summary while that
is still open (re-priced on the cumulative overage), else as a fixed adjustment in the current open period of
the same owner and resource — and an AMEND then books the record's own (amended) values like new usage. An
original that is still NEW is rated first, in the same batch.

Late usage (its summary no longer accepts usage) is booked into the current open period, keeping its dates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from core.catalog import AggregationMethod
from core.errors import DomainError
from core.periods import Period, as_utc
from core.policies import DEFAULT_RATING_DELAY_DAYS
from core.processing.books import Books, SummaryRef
from core.processing.context import RatingContext, billing_terms
from core.processing.matching import Resolution, resolve_record, usage_time
from core.processing.outcome import Outcome, Problem, RatingCode, WalletDebits
from core.rating import PriceSpec, price, price_increment
from core.subscriptions import Subscription
from core.summaries import (
    BillingTerms,
    Contribution,
    SummaryKey,
    UsageSummary,
    WindowPeak,
    new_summary,
    peak_window,
)
from core.usage import CorrectionKind, SummaryBooking, UsageRecord, UsageStatus
from core.values import immutable

ZERO = Decimal(0)


@immutable
class BatchResult:
    outcomes: tuple[Outcome, ...]
    #: summaries the batch creates, as they were before its contributions
    new_summaries: Mapping[SummaryRef, UsageSummary]


def process(records: Sequence[UsageRecord], context: RatingContext,
            originals: Mapping[str, UsageRecord] | None = None) -> BatchResult:
    """Rate ``records`` in order; ``originals`` holds the originals their corrections point at, as stored."""
    books = Books(context)
    seen: dict[str, UsageRecord] = dict(originals or {})
    outcomes: list[Outcome] = []
    for record in with_pending_originals(records, seen):
        outcome = rate_record(record, context, books, seen)
        outcomes.append(outcome)
        seen[record.id] = applied(record, outcome)
        if outcome.reverses is not None and outcome.reverses in seen:
            seen[outcome.reverses] = replace(seen[outcome.reverses], corrected_by=record.id)
    return BatchResult(tuple(outcomes), dict(books.created))


def with_pending_originals(records: Sequence[UsageRecord], originals: Mapping[str, UsageRecord]) -> list[UsageRecord]:
    """The records, each correction preceded by its original when that is still NEW and not in the batch
    (recursively: an AMEND that is itself still NEW comes after its own original)."""
    ids = {r.id for r in records}
    out: list[UsageRecord] = []

    def add_with_originals(record: UsageRecord) -> None:
        original = originals.get(record.correction_of or "")
        if original is not None and original.status == UsageStatus.NEW and original.id not in ids:
            ids.add(original.id)
            add_with_originals(original)
        out.append(record)

    for record in records:
        add_with_originals(record)
    return out


def rate_record(record: UsageRecord, context: RatingContext, books: Books, seen: Mapping[str, UsageRecord]
                ) -> Outcome:
    now = context.now
    account = record.account_external_id
    if record.corrected_by is not None:
        return Outcome.problem(record.id, account, record.attempt, Problem.error(
            RatingCode.ALREADY_CORRECTED,
            f"this record was corrected by record '{record.corrected_by}' and is not rated again; "
            "correct that record instead"), now)
    subscriptions = context.subscriptions.get(account, ())
    saved = books.save()
    try:
        if record.correction_of is None:
            result = rate_usage(record, context, books, subscriptions)
        else:
            result = rate_correction(record, context, books, subscriptions, seen)
    except DomainError as exc:  # the data behind the record is inconsistent (e.g. a wallet vanished)
        result = Problem.error(RatingCode.INCONSISTENT_DATA,
                               f"{exc.message}; fix the data and set the record back to NEW")
    except RATING_FAILURES as exc:  # values out of range: this record fails, never the batch
        result = rating_failed(record, exc)
    if isinstance(result, Problem):
        books.restore(saved)
        return Outcome.problem(record.id, account, record.attempt, result, now)
    return result


#: What a record's own values can raise while it is priced and drawn down: decimal.InvalidOperation, Overflow,
#: DivisionByZero (ArithmeticError), a date beyond the calendar (OverflowError, ValueError). Anything else — a bug,
#: or storage failing in a port — still fails the batch, which the stream delivers again.
RATING_FAILURES: tuple[type[Exception], ...] = (ArithmeticError, ValueError)


def rating_failed(record: UsageRecord, exc: Exception) -> Problem:
    """ERROR RATING_FAILED for a record whose pricing or drawdown left the range of exact arithmetic."""
    what = f"{record.quantity} {record.unit_code or ''}".strip() if record.quantity is not None else "its values"
    return Problem.error(
        RatingCode.RATING_FAILED,
        f"rating this record failed: a computation with its quantity ({what}), the catalog values it is priced "
        f"with (rate, tiers, conversion factor, tokens per unit, grants) or its subscription's terms left the range "
        f"of exact arithmetic or of the calendar "
        f"({type(exc).__name__}); correct the record (amendUsage), the catalog or the subscription (see the "
        "README's input bounds) and set the record back to NEW")


# ---------------------------------------------------------------------------------------------- usage
def rate_usage(record: UsageRecord, context: RatingContext, books: Books, subscriptions: tuple[Subscription, ...]
               ) -> Outcome | Problem:
    resolution = resolve_record(record, context.catalog, subscriptions, books.holds)
    if isinstance(resolution, Problem):
        return resolution
    res = resolution
    prerated = record.prerated_amount is not None
    if prerated and res.rate is not None and res.rate.tiered:
        return Problem.error(
            RatingCode.PRERATED_NEEDS_PER_UNIT_PRICING,
            f"the record is prerated, but '{res.resource.code}' is priced with tiers (rate card entry "
            f"'{res.rate.entry.id}'); prerated usage is allowed only with per-unit pricing: send the quantity "
            "without preratedAmount, or price the resource per unit")
    account = record.account_external_id
    currency = res.rate.spec.currency if res.rate else None
    summary = _usage_summary(account, res, books, context.now, currency)
    if prerated:
        assert record.prerated_amount is not None
        contribution = Contribution(summary.id, consumed=res.quantity, count=1, amount=record.prerated_amount,
                                    prerated_amount=record.prerated_amount, prerated_quantity=res.quantity,
                                    currency=currency)
        books.book(account, contribution)
        return _usage_outcome(record, res, context.now, contribution, (), record.prerated_amount, currency)

    quantity, peak = res.quantity, None
    if res.policy.aggregation_method == AggregationMethod.PEAK:
        window = peak_window(_period_of(summary), res.policy.aggregation_period, res.at)
        before = summary.peak(window)
        quantity = max(ZERO, res.quantity - before)
        peak = WindowPeak(window, max(before, res.quantity))
    change, overage = books.plan_draw(res.wallet_id, quantity, res.at)
    debited = change.total if change else ZERO
    chargeable = res.policy.overage_chargeable and overage > ZERO
    if chargeable and res.rate is None:
        return Problem.unrated(
            RatingCode.NO_RATE,
            f"{overage} {res.unit_code} of overage of '{res.resource.code}' has no ACTIVE rate card entry effective "
            f"at {res.at.isoformat()} to be priced at; add one and set the record back to NEW")
    books.commit(change)
    changes: list[WalletDebits] = [change] if change else []
    amount, rate_key, spec = ZERO, None, None
    if chargeable:
        assert res.rate is not None
        rate_key, spec = res.rate.key, res.rate.spec
        total = summary.rate_total(rate_key)
        before_overage = total.overage if total else ZERO
        amount = price_increment(spec, before_overage, before_overage + overage)
    committed = ZERO
    if amount > ZERO and res.monetary is not None:
        paid, left = books.plan_draw(res.monetary, amount, res.at)
        books.commit(paid)
        if paid:
            changes.append(paid)
        committed = amount - left
    contribution = Contribution(summary.id, consumed=quantity, debited=debited, overage=overage, amount=amount,
                                count=1, committed_amount=committed, rate_key=rate_key, spec=spec, peak=peak,
                                currency=currency)
    books.book(account, contribution)
    return _usage_outcome(record, res, context.now, contribution, tuple(changes), amount, currency)


def _usage_outcome(record: UsageRecord, res: Resolution, now: datetime, contribution: Contribution,
                   changes: tuple[WalletDebits, ...], amount: Decimal, currency: str | None) -> Outcome:
    wallet = changes[0].wallet_id if changes and changes[0].wallet_id == res.wallet_id else None
    return Outcome(
        record_id=record.id, account_external_id=record.account_external_id, attempt=record.attempt,
        status=UsageStatus.PROCESSED, processed_at=now, quantity_in_default_unit=res.quantity,
        debited_quantity=contribution.debited, overage_quantity=contribution.overage, rated_amount=amount,
        currency=currency, summary_id=contribution.summary_id, wallet_id=wallet, own_debits=changes,
        contributions=(contribution,))


def _usage_summary(account: str, res: Resolution, books: Books, now: datetime, currency: str | None
                   ) -> UsageSummary:
    """The summary a record of ``res`` books into: its own period's while that accepts usage, else the current."""
    return open_summary(account, res.binding_target, res.resource.code, res.unit_code, res.billing, res.at,
                        res.policy.rating_delay_days, res.policy.aggregation_method, currency, books, now)


def open_summary(account: str, target: str, resource: str, unit: str, billing: BillingTerms, at: datetime,
                 delay: int, method: AggregationMethod, currency: str | None, books: Books, now: datetime
                 ) -> UsageSummary:
    """The summary of the period containing ``at`` if it still accepts usage; else the first one from the period
    containing ``now`` on that does (created when need be; a closed period's summary is never created)."""
    moment = as_utc(at)
    while True:
        period = billing.period(moment)
        key = SummaryKey(account, target, resource, period.start)
        summary = books.summary(account, key.id) or new_summary(key, period, unit, delay, method, currency)
        if summary.accepts_usage(now):
            return books.open_summary(account, key, summary)
        moment = max(period.end, as_utc(now))


def _period_of(summary: UsageSummary) -> Period:
    return Period(summary.period_start, summary.period_end)


# ---------------------------------------------------------------------------------------------- corrections
def rate_correction(record: UsageRecord, context: RatingContext, books: Books, subscriptions: tuple[Subscription, ...],
                    seen: Mapping[str, UsageRecord]) -> Outcome | Problem:
    assert record.correction_of is not None
    original = seen.get(record.correction_of)
    if original is None:
        return Problem.error(RatingCode.UNKNOWN_ORIGINAL,
                             f"the record corrects '{record.correction_of}', which does not exist")
    if original.corrected_by not in (None, record.id):
        return Problem.error(RatingCode.ALREADY_CORRECTED,
                             f"record '{original.id}' was already corrected by '{original.corrected_by}'; correct "
                             "that record instead")
    reversal: Outcome | None = None
    if original.status == UsageStatus.PROCESSED and original.corrected_by is None:
        reversed_ = reverse(original, record, context, books, subscriptions)
        if isinstance(reversed_, Problem):
            return reversed_
        reversal = reversed_
    if record.correction_kind == CorrectionKind.AMEND:
        amended = rate_usage(record, context, books, subscriptions)
        if isinstance(amended, Problem):
            return amended
        if reversal is None:
            return replace(amended, reverses=original.id)
        return _combine(reversal, amended, original.id)
    now = context.now
    if reversal is None:
        return Outcome(record.id, record.account_external_id, record.attempt, UsageStatus.PROCESSED, now,
                       debited_quantity=ZERO, overage_quantity=ZERO, rated_amount=ZERO, reverses=original.id)
    return replace(reversal, reverses=original.id)


def reverse(original: UsageRecord, correction: UsageRecord, context: RatingContext, books: Books,
            subscriptions: tuple[Subscription, ...]) -> Outcome | Problem:
    """Give back what ``original`` drew and booked (its own bookings, not the reversals it made itself).

    A PEAK record whose window peak a later record raised no longer counts: reversing it changes no total.
    """
    account = original.account_external_id
    contributions: list[Contribution] = []
    superseded = False
    for booking in original.bookings:
        if booking.reversal:
            continue
        summary = books.summary(account, booking.summary_id)
        if booking.peak_window is not None and summary is not None and summary.accepts_usage(context.now):
            state = _peak_state(booking, summary)
            if isinstance(state, Problem):
                return state
            if state == "superseded":
                superseded = True
                contributions.append(Contribution(summary.id, count=-booking.count, reversal=True,
                                                  currency=summary.currency))
                continue
        contribution = _reversal_of(booking, account, summary, context, books, subscriptions)
        if isinstance(contribution, Problem):
            return contribution
        contributions.append(contribution)
    reversals: list[WalletDebits] = []
    if not superseded:
        for wallet_id, debits in ((original.wallet_id, original.debits),
                                  (original.commitment_wallet_id, original.commitment_debits)):
            credit = books.plan_credit(wallet_id, debits, usage_time(original)) if wallet_id else None
            if credit is not None:
                books.commit(credit)
                reversals.append(credit)
    for contribution in contributions:
        books.book(account, contribution)
    first = contributions[0] if contributions else None
    return Outcome(
        record_id=correction.id, account_external_id=correction.account_external_id, attempt=correction.attempt,
        status=UsageStatus.PROCESSED, processed_at=context.now,
        debited_quantity=sum((c.debited for c in contributions), ZERO),
        overage_quantity=sum((c.overage for c in contributions), ZERO),
        rated_amount=sum((c.amount for c in contributions), ZERO),
        currency=original.currency, summary_id=first.summary_id if first else None,
        reversals=tuple(reversals), contributions=tuple(contributions))


def _peak_state(booking: SummaryBooking, summary: UsageSummary) -> str | Problem:
    """``superseded`` when the record no longer holds its window's peak (nothing to reverse), ``counts`` when it
    never raised it; a Problem when it holds the peak (the next highest value is not known here)."""
    assert booking.peak_window is not None
    if booking.consumed == ZERO:
        return "counts"
    if booking.peak is not None and summary.peak(booking.peak_window) > booking.peak:
        return "superseded"
    return Problem.error(
        RatingCode.PEAK_CORRECTION,
        f"the record holds the PEAK of window {booking.peak_window} in summary '{summary.id}'; a peak cannot be "
        "reversed without the window's other values: record the corrected value as new usage instead")


def _reversal_of(booking: SummaryBooking, account: str, summary: UsageSummary | None, context: RatingContext,
                 books: Books, subscriptions: tuple[Subscription, ...]) -> Contribution | Problem:
    now = context.now
    if summary is not None and summary.accepts_usage(now):
        total = summary.rate_total(booking.rate_key) if booking.rate_key else None
        if total is not None and not booking.adjustment:
            return _negated(booking, summary.id, price(total.spec, total.overage - booking.overage) - total.amount,
                            adjustment=False, spec=total.spec, currency=summary.currency)
        # unpriced (not chargeable, prerated) or booked as a fixed amount: give back exactly that
        return _negated(booking, summary.id, -booking.amount, adjustment=booking.adjustment, spec=None,
                        currency=summary.currency)
    # the original's period is closed: a fixed adjustment into the current open period of the same owner
    key = SummaryKey.parse(account, booking.summary_id)
    owner = _owner_terms(key.binding_target, subscriptions)
    if owner is None:
        return Problem.unrated(
            RatingCode.NO_SUBSCRIPTION,
            f"the original's period is closed and no subscription of account '{account}' bills "
            f"'{key.binding_target}' any more to book the correction into; set the record back to NEW once one does")
    resource = context.catalog.resources.get(key.resource_code)
    unit = summary.unit_code if summary is not None else (resource.default_unit_code if resource else "")
    delay = (summary.closes_at - summary.period_end).days if summary is not None else DEFAULT_RATING_DELAY_DAYS
    method = summary.aggregation_method if summary is not None else AggregationMethod.SUM
    currency = summary.currency if summary is not None else None
    target = open_summary(account, key.binding_target, key.resource_code, unit, owner, now, delay, method,
                          currency, books, now)
    return _negated(booking, target.id, -booking.amount, adjustment=True, spec=None, currency=currency)


def _negated(booking: SummaryBooking, summary_id: str, amount: Decimal, adjustment: bool, spec: PriceSpec | None,
             currency: str | None) -> Contribution:
    return Contribution(summary_id, consumed=-booking.consumed, debited=-booking.debited, overage=-booking.overage,
                        amount=amount, count=-booking.count, prerated_amount=-booking.prerated_amount,
                        prerated_quantity=-booking.prerated_quantity, committed_amount=-booking.committed_amount,
                        rate_key=booking.rate_key if spec is not None else None, spec=spec, adjustment=adjustment,
                        reversal=True, currency=currency)


def _owner_terms(binding_target: str, subscriptions: tuple[Subscription, ...]) -> BillingTerms | None:
    """The billing terms of a binding target: its subscription's, or the newest of the account's."""
    owners = [s for s in subscriptions if s.wallet_owner == binding_target]
    if not owners:
        return None
    return billing_terms(max(owners, key=lambda s: (as_utc(s.start_date), s.external_id)))


def _combine(reversal: Outcome, amended: Outcome, original_id: str) -> Outcome:
    return replace(
        amended,
        debited_quantity=(amended.debited_quantity or ZERO) + (reversal.debited_quantity or ZERO),
        overage_quantity=(amended.overage_quantity or ZERO) + (reversal.overage_quantity or ZERO),
        rated_amount=(amended.rated_amount or ZERO) + (reversal.rated_amount or ZERO),
        reversals=reversal.reversals,
        contributions=reversal.contributions + amended.contributions,
        reverses=original_id,
    )


# ---------------------------------------------------------------------------------------------- the record after
def booking_of(contribution: Contribution) -> SummaryBooking:
    return SummaryBooking(
        summary_id=contribution.summary_id, consumed=contribution.consumed, debited=contribution.debited,
        overage=contribution.overage, amount=contribution.amount, count=contribution.count,
        prerated_amount=contribution.prerated_amount, prerated_quantity=contribution.prerated_quantity,
        committed_amount=contribution.committed_amount, rate_key=contribution.rate_key,
        adjustment=contribution.adjustment, reversal=contribution.reversal,
        peak_window=contribution.peak.window if contribution.peak else None,
        peak=contribution.peak.peak if contribution.peak else None)


def applied(record: UsageRecord, outcome: Outcome) -> UsageRecord:
    """``record`` as rating leaves it: status, rated fields, own debits and bookings."""
    main = next((c for c in outcome.own_debits if c.wallet_id == outcome.wallet_id), None)
    commitment = next((c for c in outcome.own_debits if c is not main), None)
    return replace(
        record,
        status=outcome.status,
        error_code=outcome.error_code,
        error_message=outcome.error_message,
        quantity_in_default_unit=outcome.quantity_in_default_unit,
        debited_quantity=outcome.debited_quantity,
        overage_quantity=outcome.overage_quantity,
        rated_amount=outcome.rated_amount,
        currency=outcome.currency,
        summary_id=outcome.summary_id,
        wallet_id=main.wallet_id if main else None,
        processed_at=outcome.processed_at,
        debits=main.pairs if main else (),
        bookings=tuple(booking_of(c) for c in outcome.contributions),
        commitment_wallet_id=commitment.wallet_id if commitment else None,
        commitment_debits=commitment.pairs if commitment else (),
    )
