"""Usage summaries (DOMAIN §2, §3.3, §3.10, §4): the per-period roll-up invoicing reads.

One summary per account, binding target (the wallet's owner: a subscription or the account), resource and
billing period. Its totals are provisional while it is ``OPEN``; it becomes ``COMPLETE`` once the period has
ended and the rating delay (3 days by default) has passed (``close``, ``is_due``: the schedule and
``closeUsagePeriods``), or earlier on demand once the period has ended (``close_now``: "invoice now"), and is
frozen from then on; invoicing then marks it ``INVOICED`` with its reference (``mark_invoiced``). A change of
several summaries at once is all or nothing (``plan_changes``).

The amount is never a running sum of per-record roundings: the summary keeps, per rate, the cumulative overage
quantity priced at that rate together with the rate itself, and its amount is
``Σ price(rate, overage at that rate) + prerated amounts + adjustments``. Per-record amounts are price increments
of that cumulative quantity (``core.rating.price_increment``), so they telescope to the summary's amount whatever
the order and batching of the records. ``adjustment_amount`` holds what corrections of already closed periods
booked here (DOMAIN §4): those are priced in their own period and carried as fixed amounts.

PEAK aggregation keeps the largest single value per aggregation window (the day for DAILY, the billing period
for MONTHLY); the summary's consumed quantity is the sum of the windows' peaks, and only a rise of a window's
peak is drawn down and priced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from core.catalog import AggregationMethod, AggregationPeriod
from core.errors import Collector, DomainError, ErrorCode
from core.periods import BillingAnchor, Period, PeriodUnit, as_utc, start_of_day
from core.rating import PriceSpec, price
from core.usage import SummaryBooking
from core.values import immutable

ZERO = Decimal(0)
#: separates the parts of a summary id; codes never contain it (core.catalog.CODE_PATTERN)
ID_SEP = "/"


class SummaryStatus(StrEnum):
    OPEN = "OPEN"
    COMPLETE = "COMPLETE"
    INVOICED = "INVOICED"


@immutable
class BillingTerms:
    """How a subscription's billing periods are laid out: anchor, term and unit (default 1 MONTH)."""

    anchor: BillingAnchor
    term: int = 1
    unit: PeriodUnit = PeriodUnit.MONTH

    def period(self, at: datetime) -> Period:
        return self.anchor.period(self.term, self.unit, at)


@immutable
class SummaryKey:
    """Which summary a contribution belongs to. ``binding_target`` names the wallet's owner (e.g. ``ACCOUNT``)."""

    account_external_id: str
    binding_target: str
    resource_code: str
    period_start: datetime

    @property
    def id(self) -> str:
        """``{resource}/{period start}/{binding target}``: unique within the account, sorts by resource then time."""
        return ID_SEP.join((self.resource_code, period_stamp(self.period_start), self.binding_target))

    @classmethod
    def parse(cls, account_external_id: str, summary_id: str) -> SummaryKey:
        """The key behind an id of ``id``; INVALID_VALUE when it is not one."""
        parts = summary_id.split(ID_SEP, 2)
        if len(parts) != 3 or not all(parts):
            raise DomainError(ErrorCode.INVALID_VALUE, f"'{summary_id}' is not a usage summary id", "id")
        resource_code, stamp, target = parts
        try:
            start = datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise DomainError(ErrorCode.INVALID_VALUE, f"'{summary_id}' is not a usage summary id", "id") from None
        return cls(account_external_id, target, resource_code, start)


STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


@lru_cache(maxsize=4096)  # period starts and ends, asked for with every summary id: rating names each event's
def period_stamp(at: datetime) -> str:  # summary several times, and strftime is slow
    """A fixed-width UTC stamp that sorts in time order (``20260101T000000Z``)."""
    return as_utc(at).strftime(STAMP_FORMAT)


@immutable
class RateTotal:
    """The cumulative overage of a summary priced at one rate (``key`` names the rate card entry)."""

    key: str
    spec: PriceSpec
    overage: Decimal = ZERO

    @property
    def amount(self) -> Decimal:
        return price(self.spec, self.overage)


@immutable
class WindowPeak:
    """The largest single value seen in one PEAK aggregation window (``window`` is its start stamp)."""

    window: str
    peak: Decimal


@immutable
class UsageSummary:
    id: str
    account_external_id: str
    binding_target: str
    resource_code: str
    unit_code: str
    period_start: datetime
    period_end: datetime
    closes_at: datetime
    status: SummaryStatus = SummaryStatus.OPEN
    currency: str | None = None
    aggregation_method: AggregationMethod = AggregationMethod.SUM
    consumed_quantity: Decimal = ZERO
    debited_quantity: Decimal = ZERO
    overage_quantity: Decimal = ZERO
    usage_count: int = 0
    prerated_amount: Decimal = ZERO
    prerated_quantity: Decimal = ZERO
    adjustment_amount: Decimal = ZERO
    #: what MONETARY commitments paid of the amount (prepaid, so not billed again)
    committed_amount: Decimal = ZERO
    rates: tuple[RateTotal, ...] = ()
    peaks: tuple[WindowPeak, ...] = ()
    #: bumped by every write; writers condition on it (optimistic concurrency)
    version: int = 0
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    #: set when invoicing marks the summary INVOICED (``mark_invoiced``)
    invoice_reference: str | None = None
    invoiced_at: datetime | None = None

    @property
    def key(self) -> SummaryKey:
        return SummaryKey(self.account_external_id, self.binding_target, self.resource_code, self.period_start)

    @property
    def rated_amount(self) -> Decimal:
        """Σ price(rate, cumulative overage at that rate): each rate's total rounded once."""
        return sum((r.amount for r in self.rates), ZERO)

    @property
    def amount(self) -> Decimal:
        return self.rated_amount + self.prerated_amount + self.adjustment_amount - self.committed_amount

    def rate_total(self, key: str) -> RateTotal | None:
        return next((r for r in self.rates if r.key == key), None)

    def peak(self, window: str) -> Decimal:
        return next((w.peak for w in self.peaks if w.window == window), ZERO)

    @property
    def closed_early(self) -> bool:
        """Closed before its waiting period had passed ("invoice now", ``close_now``)."""
        return self.closed_at is not None and self.closed_at < self.closes_at

    def accepts_usage(self, now: datetime) -> bool:
        """Usage for this period is still accepted: the summary is OPEN and its waiting period has not passed."""
        return self.status == SummaryStatus.OPEN and as_utc(now) < self.closes_at


def new_summary(
    key: SummaryKey,
    period: Period,
    unit_code: str,
    rating_delay_days: int,
    aggregation_method: AggregationMethod = AggregationMethod.SUM,
    currency: str | None = None,
) -> UsageSummary:
    """An empty OPEN summary for ``key`` over ``period``."""
    return UsageSummary(
        id=key.id,
        account_external_id=key.account_external_id,
        binding_target=key.binding_target,
        resource_code=key.resource_code,
        unit_code=unit_code,
        period_start=period.start,
        period_end=period.end,
        closes_at=closes_at(period, rating_delay_days),
        currency=currency,
        aggregation_method=aggregation_method,
    )


def closes_at(period: Period, rating_delay_days: int) -> datetime:
    """When a period's summary closes: its end plus the rating delay (the waiting period for late usage)."""
    if rating_delay_days < 0:
        raise DomainError(ErrorCode.INVALID_VALUE, "the rating delay cannot be negative", "delay")
    return period.end + timedelta(days=rating_delay_days)


def is_closed(period: Period, rating_delay_days: int, now: datetime) -> bool:
    """True once ``now`` is at or past the period's end plus the rating delay."""
    return as_utc(now) >= closes_at(period, rating_delay_days)


def peak_window(period: Period, aggregation_period: AggregationPeriod, at: datetime) -> str:
    """The PEAK window ``at`` falls in: its day (DAILY) or the whole billing period (MONTHLY)."""
    if aggregation_period == AggregationPeriod.DAILY:
        return period_stamp(start_of_day(at))
    return period_stamp(period.start)


# ---------------------------------------------------------------------------------------------- contributions
@immutable
class Contribution:
    """What one processed record adds to one summary (negative for a reversal).

    ``rate_key``/``spec`` say at which rate ``overage`` is priced; ``amount`` is the record's rated amount (the
    price increment) — with ``adjustment`` it is booked as a fixed amount instead (a correction of a closed
    period). ``peak`` is set for PEAK aggregation: (window, the window's peak after this record).
    """

    summary_id: str
    consumed: Decimal = ZERO
    debited: Decimal = ZERO
    overage: Decimal = ZERO
    amount: Decimal = ZERO
    count: int = 0
    prerated_amount: Decimal = ZERO
    prerated_quantity: Decimal = ZERO
    committed_amount: Decimal = ZERO
    rate_key: str | None = None
    spec: PriceSpec | None = None
    adjustment: bool = False
    reversal: bool = False
    peak: WindowPeak | None = None
    currency: str | None = None


@immutable
class SummaryDelta:
    """Contributions to one summary, added up: one write per summary per batch."""

    summary_id: str
    consumed: Decimal = ZERO
    debited: Decimal = ZERO
    overage: Decimal = ZERO
    count: int = 0
    prerated_amount: Decimal = ZERO
    prerated_quantity: Decimal = ZERO
    adjustment_amount: Decimal = ZERO
    committed_amount: Decimal = ZERO
    rates: tuple[RateTotal, ...] = ()  # overage added per rate (RateTotal.overage is the delta)
    peaks: tuple[WindowPeak, ...] = ()  # the windows' peaks after the batch
    currency: str | None = None
    contributions: int = field(default=0, compare=False)


def aggregate(contributions: Iterable[Contribution]) -> dict[str, SummaryDelta]:
    """One delta per summary: the sums of the contributions, overage per rate, the last peak per window."""
    deltas: dict[str, SummaryDelta] = {}
    for c in contributions:
        d = deltas.get(c.summary_id) or SummaryDelta(c.summary_id)
        rates = d.rates
        if c.rate_key is not None and not c.adjustment and c.overage != ZERO:
            assert c.spec is not None, "a rated contribution carries its price spec"
            rates = _add_rate(rates, RateTotal(c.rate_key, c.spec, c.overage))
        peaks = d.peaks
        if c.peak is not None:
            peaks = tuple(p for p in peaks if p.window != c.peak.window) + (c.peak,)
        deltas[c.summary_id] = replace(
            d,
            consumed=d.consumed + c.consumed,
            debited=d.debited + c.debited,
            overage=d.overage + c.overage,
            count=d.count + c.count,
            prerated_amount=d.prerated_amount + c.prerated_amount,
            prerated_quantity=d.prerated_quantity + c.prerated_quantity,
            adjustment_amount=d.adjustment_amount + (c.amount if c.adjustment else ZERO),
            committed_amount=d.committed_amount + c.committed_amount,
            rates=rates,
            peaks=peaks,
            currency=d.currency or c.currency,
            contributions=d.contributions + 1,
        )
    return deltas


def apply(summary: UsageSummary, delta: SummaryDelta, at: datetime | None = None) -> UsageSummary:
    """``summary`` with ``delta`` booked; the version is bumped. Refuses a summary that is no longer OPEN."""
    if summary.status != SummaryStatus.OPEN:
        raise DomainError(ErrorCode.PERIOD_CLOSED, f"summary '{summary.id}' is {summary.status}, not OPEN")
    rates = summary.rates
    for r in delta.rates:
        rates = _add_rate(rates, r)
    peaks = summary.peaks
    for p in delta.peaks:
        peaks = tuple(w for w in peaks if w.window != p.window) + (p,)
    return replace(
        summary,
        consumed_quantity=summary.consumed_quantity + delta.consumed,
        debited_quantity=summary.debited_quantity + delta.debited,
        overage_quantity=summary.overage_quantity + delta.overage,
        usage_count=summary.usage_count + delta.count,
        prerated_amount=summary.prerated_amount + delta.prerated_amount,
        prerated_quantity=summary.prerated_quantity + delta.prerated_quantity,
        adjustment_amount=summary.adjustment_amount + delta.adjustment_amount,
        committed_amount=summary.committed_amount + delta.committed_amount,
        rates=tuple(r for r in rates if r.overage != ZERO),
        peaks=tuple(sorted((p for p in peaks if p.peak != ZERO), key=lambda p: p.window)),
        currency=summary.currency or delta.currency,
        version=summary.version + 1,
        updated_at=at or summary.updated_at,
    )


def close(summary: UsageSummary, now: datetime, at: datetime | None = None) -> UsageSummary:
    """The summary marked COMPLETE (frozen) by the rule as of ``now``, closed ``at`` (default ``now``; a close
    as of an earlier moment happens later). Refused before its waiting period has passed."""
    if summary.status != SummaryStatus.OPEN:
        raise DomainError(ErrorCode.STATUS_FORBIDS, f"summary '{summary.id}' is already {summary.status}")
    if as_utc(now) < summary.closes_at:
        raise DomainError(
            ErrorCode.INVALID_RANGE,
            f"summary '{summary.id}' closes at {summary.closes_at.isoformat()}, not before",
        )
    return replace(summary, status=SummaryStatus.COMPLETE, version=summary.version + 1,
                   closed_at=as_utc(at or now))


# ---------------------------------------------------------------------------------------------- the invoicing loop
#: the longest invoice reference kept (an invoicing system's document number, not a document)
MAX_INVOICE_REFERENCE = 200


def close_as_of(as_of: datetime | None, now: datetime) -> datetime:
    """The moment ``closeUsagePeriods(asOf)`` closes by: ``asOf`` (default now), but never later than now — a
    future ``asOf`` would close periods whose late usage may still arrive, so it is capped at now."""
    return min(as_utc(as_of), as_utc(now)) if as_of is not None else as_utc(now)


def is_due(summary: UsageSummary, as_of: datetime) -> bool:
    """OPEN and its waiting period (period end + rating delay) has passed by ``as_of``: the rule of the schedule."""
    return summary.status == SummaryStatus.OPEN and as_utc(as_of) >= summary.closes_at


def close_now(summary: UsageSummary, now: datetime) -> UsageSummary:
    """"Invoice now": the summary COMPLETE as soon as its period has ended, giving up the rest of its waiting
    period (late usage for it is refused PERIOD_CLOSED from then on). A summary that is no longer OPEN is returned
    unchanged; one whose period is still running is refused with PERIOD_NOT_ENDED."""
    if summary.status != SummaryStatus.OPEN:
        return summary
    if as_utc(now) < summary.period_end:
        raise DomainError(ErrorCode.PERIOD_NOT_ENDED,
                          f"summary '{summary.id}' is of a period that ends at {summary.period_end.isoformat()}; "
                          "it can be closed once the period has ended")
    return replace(summary, status=SummaryStatus.COMPLETE, version=summary.version + 1, closed_at=as_utc(now))


def invoice_reference(value: str) -> str:
    """An invoice reference as kept: trimmed, 1 to MAX_INVOICE_REFERENCE printable characters."""
    text = value.strip()
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "invoiceReference must not be empty", "invoiceReference")
    if len(text) > MAX_INVOICE_REFERENCE or not text.isprintable():
        raise DomainError(ErrorCode.INVALID_VALUE, f"invoiceReference must be at most {MAX_INVOICE_REFERENCE} "
                          "printable characters", "invoiceReference")
    return text


def mark_invoiced(summary: UsageSummary, reference: str, now: datetime) -> UsageSummary:
    """COMPLETE → INVOICED with the invoice's reference. Marking it again with the same reference changes nothing;
    refused for an OPEN summary (STATUS_FORBIDS: close it first) and for one invoiced under another reference
    (CONFLICT)."""
    if summary.status == SummaryStatus.OPEN:
        raise DomainError(ErrorCode.STATUS_FORBIDS,
                          f"summary '{summary.id}' is OPEN: only a COMPLETE summary can be invoiced (close its "
                          "period first: closeUsagePeriods, or closeUsageSummaries once the period has ended)")
    if summary.status == SummaryStatus.INVOICED:
        if summary.invoice_reference == reference:
            return summary
        raise DomainError(ErrorCode.CONFLICT, f"summary '{summary.id}' is invoiced already under "
                          f"'{summary.invoice_reference}'")
    return replace(summary, status=SummaryStatus.INVOICED, version=summary.version + 1, invoice_reference=reference,
                   invoiced_at=as_utc(now))


def plan_changes(requested: Sequence[UsageSummary | None], change: Callable[[UsageSummary], UsageSummary],
                 limit: int) -> list[UsageSummary]:
    """All or nothing over the summaries named by ``ids`` (``requested[i]`` is the one ``ids[i]`` names, None
    when it does not exist): every problem is reported (field ``ids[i]``) and nothing is changed if there is any;
    else the summaries ``change`` actually changed (no-ops left out), each once."""
    if not requested:
        raise DomainError(ErrorCode.REQUIRED, "give at least one summary id", "ids")
    if len(requested) > limit:
        raise DomainError(ErrorCode.MAX_LIMIT_EXCEEDED, f"at most {limit} summaries per call", "ids")
    problems = Collector()
    changed: dict[tuple[str, str], UsageSummary] = {}
    for index, summary in enumerate(requested):
        if summary is None:
            problems.add(ErrorCode.NOT_FOUND, "no usage summary of this tenant has this id", f"ids[{index}]")
            continue
        try:
            after = change(summary)
        except DomainError as exc:
            problems.add(exc.code, exc.message, f"ids[{index}]")
            continue
        if after != summary:
            changed[(summary.account_external_id, summary.id)] = after
    problems.raise_if_any()
    return list(changed.values())


def _add_rate(rates: tuple[RateTotal, ...], added: RateTotal) -> tuple[RateTotal, ...]:
    for i, r in enumerate(rates):
        if r.key == added.key:
            return rates[:i] + (replace(r, overage=r.overage + added.overage),) + rates[i + 1:]
    return rates + (added,)


# ---------------------------------------------------------------------------------------------- reconciliation
def recompute(shape: UsageSummary, bookings: Iterable[SummaryBooking], specs: Mapping[str, PriceSpec]
              ) -> UsageSummary:
    """The summary its records' bookings add up to: ``shape`` (key, period, status) emptied and re-booked.

    ``specs`` prices each rate key (the rates summaries carry); a booking at a rate no summary knows is counted at
    a zero rate, which shows up as drift in ``rates`` and ``amount``.
    """
    empty = replace(shape, consumed_quantity=ZERO, debited_quantity=ZERO, overage_quantity=ZERO, usage_count=0,
                    prerated_amount=ZERO, prerated_quantity=ZERO, adjustment_amount=ZERO, committed_amount=ZERO,
                    rates=(), peaks=(), status=SummaryStatus.OPEN)
    contributions = []
    peaks: dict[str, Decimal] = {}
    for b in bookings:
        spec = specs.get(b.rate_key or "") or PriceSpec(ZERO, shape.currency)
        contributions.append(Contribution(
            shape.id, consumed=b.consumed, debited=b.debited, overage=b.overage, amount=b.amount, count=b.count,
            prerated_amount=b.prerated_amount, prerated_quantity=b.prerated_quantity,
            committed_amount=b.committed_amount, rate_key=b.rate_key, spec=spec if b.rate_key else None,
            adjustment=b.adjustment, reversal=b.reversal))
        if b.peak_window is not None and b.peak is not None:
            peaks[b.peak_window] = max(peaks.get(b.peak_window, ZERO), b.peak)
    delta = aggregate(contributions).get(shape.id)
    result = apply(empty, delta) if delta is not None else empty
    return replace(result, peaks=tuple(WindowPeak(w, p) for w, p in sorted(peaks.items())), status=shape.status)


@immutable
class Drift:
    """One field of one summary that differs from what its records add up to."""

    summary_id: str
    field: str
    stored: object
    expected: object


def drift(stored: UsageSummary | None, expected: UsageSummary | None) -> list[Drift]:
    """The fields in which a stored summary differs from the one recomputed from the records."""
    if stored is None and expected is None:
        return []
    if stored is None or expected is None:
        present = stored or expected
        assert present is not None
        return [Drift(present.id, "summary", "present" if stored else "missing",
                      "present" if expected else "missing")]
    found: list[Drift] = []
    for name in ("consumed_quantity", "debited_quantity", "overage_quantity", "usage_count", "prerated_amount",
                 "prerated_quantity", "adjustment_amount", "committed_amount", "amount"):
        a, b = getattr(stored, name), getattr(expected, name)
        if a != b:
            found.append(Drift(stored.id, name, a, b))
    stored_rates = {r.key: r.overage for r in stored.rates}
    expected_rates = {r.key: r.overage for r in expected.rates}
    if stored_rates != expected_rates:
        found.append(Drift(stored.id, "rates", stored_rates, expected_rates))
    stored_peaks = {p.window: p.peak for p in stored.peaks}
    expected_peaks = {p.window: p.peak for p in expected.peaks}
    if stored_peaks != expected_peaks:
        found.append(Drift(stored.id, "peaks", stored_peaks, expected_peaks))
    return found
