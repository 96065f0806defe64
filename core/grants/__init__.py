"""The grant lifecycle as a pure function of time: which buckets a grant creates, and their balances as of any time.

``bucket_plan`` lists every bucket a grant yields up to a time — its first credit (GRANT, PACK or COMMITMENT), one
REFRESH per refresh period, and a potential ROLLOVER bucket for every balance that may carry over — each with a
deterministic id, so storage can create them idempotently and no scheduled job is needed. ``settle`` then takes
the debits booked against those buckets and works out, as of any time, what each was granted, what is left, what
rolled over and what expired, with the ledger events that explain it (DOMAIN §3.5, §4).

Rules:
- Refresh periods are the subscription's billing periods with the refresh step (``BillingAnchor``). A grant whose
  start falls inside a period is prorated: ``floor(quantity × days_remaining / days_in_period)`` to ``unit_scale``
  places, days counted inclusively over the full (nominal) period, so a stub period is prorated too.
- A credit is valid for ``validity_term × validity_unit`` from the start of its period (``NONE``: no expiry).
- At the natural end of its validity, what is left either expires or, with rollover, moves to a ROLLOVER bucket
  valid for one more validity term; with ``rollover_can_expire`` a balance rolls at most
  ``maximum_rollover_count`` times and then expires; with ``maximum_rollover_quantity`` at most that much of a
  balance carries over each time and the rest expires (an EXPIRY beside the ROLLOVER). Both limits may apply.
- The subscription's end and the pack's (product's) end are hard ends: buckets stop there and forfeit what is
  left (EXPIRY), with no rollover. The grant's own ``effective_to`` only stops new credits.
- A grant never starts before its subscription.
- Quantity changes (``changes``: a subscription amended from a date, DOMAIN §2 "Subscription changes"): from
  its date a change sets the quantity of every later period. Inside the period it falls in, an increase adds an
  AMEND credit of the added share prorated by DOMAIN §4 (days left of the period, floored), valid like the
  period's credit; a decrease removes the prorated share (rounded up: never more kept than paid for) from that
  period's credits (newest first) at its date, as an EXPIRY — but never below what their chains have been debited,
  so consumed usage is never taken back. A removed share no credit can give up any more (it expired) is netted
  against a later increase in the same period.
  A one-time grant's "period" is its first validity term (none when it never expires: the whole share).
- Ids: ``{grant_id}:{GRANT|PACK|COMMITMENT}:0`` for the first credit, ``{grant_id}:REFRESH:{k}`` for the k-th
  refresh, ``{grant_id}:ROLLOVER:{k}:{n}`` for the n-th rollover of credit k's balance; ``{grant_id}:AMEND:{k}:{j}``
  for the share change j adds in period k, and ``{grant_id}:ROLLOVER:{k}A{j}:{n}`` for its rollovers.
  ``grant_id`` must be unique within the wallet (compose it from the subscription and the product usage grant).

The package: ``schedule`` (the grant as instantiated for a subscription), ``plan`` (``bucket_plan``: the buckets
it yields) and ``settlement`` (``settle``: balances and ledger events as of a time).
"""

from core.grants.plan import BucketSource, EndAction, PlannedBucket, bucket_plan, rollover_prefix
from core.grants.schedule import GrantSchedule, GrantSource, QuantityChange, Refresh, ValidityUnit
from core.grants.settlement import BucketState, LedgerEvent, LedgerType, Settlement, settle

__all__ = [
    "BucketSource",
    "BucketState",
    "EndAction",
    "GrantSchedule",
    "GrantSource",
    "LedgerEvent",
    "LedgerType",
    "PlannedBucket",
    "QuantityChange",
    "Refresh",
    "Settlement",
    "ValidityUnit",
    "bucket_plan",
    "rollover_prefix",
    "settle",
]
