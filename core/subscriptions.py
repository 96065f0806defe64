"""Accounts and subscriptions (DOMAIN §2): what ``createSubscription`` accepts, and what a subscription holds.

A subscription instantiates its product's grants when it is created: every ACTIVE grant of every ACTIVE product
usage resource becomes a ``core.grants.GrantSchedule`` (``core.wallets.grant_schedule``), snapshotted on the
subscription, so later catalog edits never change what a customer already bought. Its binding target decides
which wallet the grants credit and usage draws from:

- ``SELF``: the subscription's own wallet per resource (``SUBSCRIPTION:{externalId}``);
- ``ACCOUNT``: one wallet per resource shared by all of the account's ACCOUNT-bound subscriptions
  (``ACCOUNT:{accountExternalId}``) — an anchor and a pack bound to the account fill the same wallet.

The input's ``bindingTarget`` decides; when it is omitted the product's ACTIVE grant binding policy does
(``TARGET``/``ACCOUNT`` → ACCOUNT), else SELF.

What must be ACTIVE to subscribe (runtime uses only ACTIVE records, DOMAIN §1): the product; at least one of its
product usage resources, with its usage resource; and the refresh and rollover policies of the grants used.
DRAFT or INACTIVE product usage resources and grants are left out of the subscription. Anything else is refused
with ``INACTIVE_REFERENCE`` naming the record, so a DRAFT product cannot be subscribed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.bounds import DecimalKind, check_count, check_decimal, check_text
from core.catalog import (
    BindingTargetType,
    BindingType,
    GrantBindingPolicy,
    Policy,
    Product,
    ProductUsageGrant,
    ProductUsageResource,
    RecordStatus,
    UnitOfMeasure,
    UsageResource,
    effective_at,
)
from core.errors import Collector, DomainError, ErrorCode
from core.periods import BillingAnchor, PeriodUnit, as_utc
from core.values import immutable
from core.wallets import WalletGrant, WalletRef, grant_schedule, unit_share

#: External ids: 1–128 letters, digits and ``_ . : @ + = -``; never ``#``, ``|`` or ``/`` (key and id separators).
#: compiled on first use (by re's cache), not at import: a cold start that validates none pays nothing
EXTERNAL_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:@+=\-]{0,127}$"
MAX_NAME = 256
WALLET_SEP = "|"


class BindingTarget(StrEnum):
    SELF = "SELF"
    ACCOUNT = "ACCOUNT"


@immutable
class SubscribedResource:
    """One resource of the product, as subscribed: when it is covered, in which unit, and its grants."""

    resource_code: str
    unit_code: str
    effective_from: datetime
    effective_to: datetime | None
    grants: tuple[WalletGrant, ...] = ()

    def covers(self, at: datetime) -> bool:
        return effective_at(self.effective_from, self.effective_to, as_utc(at))


class ChangeKind(StrEnum):
    AMENDED = "AMENDED"
    CANCELLED = "CANCELLED"
    RENEWED = "RENEWED"


@immutable
class SubscriptionChange:
    """One change of a subscription, kept in its history (``core.subscription_changes``)."""

    kind: ChangeKind
    effective_date: datetime
    quantity_before: Decimal
    quantity_after: Decimal
    end_date_before: datetime | None
    end_date_after: datetime | None
    created_at: datetime
    #: the subscription's version this change produced
    version: int


@immutable
class Subscription:
    external_id: str
    account_external_id: str
    product_code: str
    product_name: str
    quantity: Decimal
    start_date: datetime
    end_date: datetime | None
    billing_term: int
    billing_term_unit: PeriodUnit
    billing_day_of_month: int | None
    binding_target: BindingTarget
    created_at: datetime
    resources: tuple[SubscribedResource, ...] = ()
    #: every change writes version + 1, conditioned on the version it read (0: as created)
    version: int = 0
    changes: tuple[SubscriptionChange, ...] = ()

    @property
    def billing(self) -> BillingAnchor:
        return BillingAnchor(self.start_date, self.billing_day_of_month)

    @property
    def anchor_day(self) -> int:
        return self.billing.anchor_day

    @property
    def wallet_owner(self) -> str:
        """The binding target as a string: ``SUBSCRIPTION:{externalId}`` or ``ACCOUNT:{accountExternalId}``."""
        if self.binding_target == BindingTarget.ACCOUNT:
            return f"ACCOUNT:{self.account_external_id}"
        return f"SUBSCRIPTION:{self.external_id}"

    def wallet_id(self, resource_code: str) -> str:
        return wallet_id(self.wallet_owner, resource_code)

    def active_at(self, at: datetime) -> bool:
        return effective_at(self.start_date, self.end_date, as_utc(at))

    def resource(self, resource_code: str) -> SubscribedResource | None:
        return next((r for r in self.resources if r.resource_code == resource_code), None)

    def covers(self, resource_code: str, at: datetime) -> bool:
        """Active at ``at`` with an effective product usage resource for ``resource_code`` (DOMAIN §3.1)."""
        subscribed = self.resource(resource_code)
        return self.active_at(at) and subscribed is not None and subscribed.covers(at)


@immutable
class Account:
    external_id: str
    name: str | None
    created_at: datetime
    subscriptions: tuple[Subscription, ...] = ()

    def subscription(self, external_id: str) -> Subscription | None:
        return next((s for s in self.subscriptions if s.external_id == external_id), None)


def wallet_id(owner: str, resource_code: str) -> str:
    """A wallet is one binding target × one resource: ``ACCOUNT:acme|TEXTS``."""
    return f"{owner}{WALLET_SEP}{resource_code}"


# ---------------------------------------------------------------------------------------------- the request
@immutable
class SubscriptionRequest:
    """The ``createSubscription`` input, parsed but not yet checked."""

    external_id: str
    account_external_id: str
    product_code: str
    start_date: datetime
    quantity: Decimal = Decimal(1)
    end_date: datetime | None = None
    account_name: str | None = None
    billing_term: int = 1
    billing_term_unit: PeriodUnit = PeriodUnit.MONTH
    billing_day_of_month: int | None = None
    binding_target: BindingTarget | None = None


def validate_request(request: SubscriptionRequest) -> None:
    """Every problem of the input at once, each with its field; raises DomainError when there is any."""
    errors = Collector()
    for value, name in ((request.external_id, "externalId"), (request.account_external_id, "accountExternalId")):
        if not re.match(EXTERNAL_ID, value or ""):
            errors.add(ErrorCode.INVALID_VALUE, f"{name} {value!r} must be 1–128 letters, digits or '_.:@+=-', "
                       "starting with a letter or digit", name)
    if not (request.product_code or "").strip():
        errors.add(ErrorCode.REQUIRED, "productCode is required", "productCode")
    if request.account_name is not None and not 1 <= len(request.account_name.strip()) <= MAX_NAME:
        errors.add(ErrorCode.INVALID_VALUE, f"accountName must be 1–{MAX_NAME} characters", "accountName")
    else:
        check_text(errors, request.account_name, "accountName", MAX_NAME)
    if request.quantity <= 0:
        code = ErrorCode.NEGATIVE_QUANTITY if request.quantity < 0 else ErrorCode.INVALID_VALUE
        errors.add(code, f"quantity must be greater than 0 (got {request.quantity})", "quantity")
    else:
        check_decimal(errors, request.quantity, DecimalKind.SUBSCRIPTION_QUANTITY, "quantity")
    if request.end_date is not None and as_utc(request.end_date) <= as_utc(request.start_date):
        errors.add(ErrorCode.INVALID_RANGE, f"endDate {request.end_date.isoformat()} must be after startDate "
                   f"{request.start_date.isoformat()}", "endDate")
    if request.billing_term < 1:
        errors.add(ErrorCode.INVALID_VALUE, f"billingTerm must be at least 1 (got {request.billing_term})",
                   "billingTerm")
    check_count(errors, request.billing_term, "billingTerm")
    day = request.billing_day_of_month
    if day is not None and not 1 <= day <= 31:
        errors.add(ErrorCode.INVALID_VALUE, f"billingDayOfMonth must be 1–31 (got {day})", "billingDayOfMonth")
    errors.raise_if_any()


# ---------------------------------------------------------------------------------------------- the catalog side
@immutable
class ProductOffer:
    """The catalog records a subscription to one product is built from (as storage read them)."""

    product: Product
    binding: GrantBindingPolicy | None = None
    purs: Sequence[ProductUsageResource] = ()
    grants: Mapping[str, Sequence[ProductUsageGrant]] = field(default_factory=dict)  # by PUR id
    resources: Mapping[str, UsageResource] = field(default_factory=dict)
    units: Mapping[str, UnitOfMeasure] = field(default_factory=dict)
    policies: Mapping[str, Policy] = field(default_factory=dict)


def binding_for(request: SubscriptionRequest, binding: GrantBindingPolicy | None) -> BindingTarget:
    """The input decides; else the product's ACTIVE binding policy; else SELF."""
    if request.binding_target is not None:
        return BindingTarget(request.binding_target)
    if binding is None or binding.status != RecordStatus.ACTIVE or binding.binding == BindingType.SELF:
        return BindingTarget.SELF
    if binding.target == BindingTargetType.ACCOUNT:
        return BindingTarget.ACCOUNT
    raise DomainError(ErrorCode.INVALID_VALUE,
                      f"product '{binding.product_code}' binds its grants to {binding.target}, which subscriptions "
                      "do not support; give bindingTarget SELF or ACCOUNT", "bindingTarget")


def build_subscription(request: SubscriptionRequest, offer: ProductOffer, created_at: datetime) -> Subscription:
    """The subscription ``request`` creates, with its product's grants instantiated; pure."""
    validate_request(request)
    product = offer.product
    if product.status != RecordStatus.ACTIVE:
        raise DomainError(ErrorCode.INACTIVE_REFERENCE,
                          f"product '{product.code}' is {product.status}; only an ACTIVE product can be subscribed "
                          "(activate it and its records first)", "productCode")
    binding = binding_for(request, offer.binding)
    start = as_utc(request.start_date)
    end = as_utc(request.end_date) if request.end_date is not None else None
    billing = BillingAnchor(start, request.billing_day_of_month)
    errors = Collector()
    resources: list[SubscribedResource] = []
    for pur in sorted(offer.purs, key=lambda p: (p.resource_code, p.effective_from, p.id)):
        if pur.status != RecordStatus.ACTIVE:
            continue
        resource = offer.resources.get(pur.resource_code)
        if resource is None or resource.status != RecordStatus.ACTIVE:
            state = "missing" if resource is None else resource.status
            errors.add(ErrorCode.INACTIVE_REFERENCE,
                       f"usage resource '{pur.resource_code}' of product '{product.code}' is {state}", "productCode")
            continue
        grants: list[WalletGrant] = []
        for grant in offer.grants.get(pur.id, ()):
            if grant.status != RecordStatus.ACTIVE:
                continue
            for policy_id in (grant.refresh_policy_id, grant.rollover_policy_id):
                policy = offer.policies.get(policy_id) if policy_id else None
                if policy_id and (policy is None or policy.status != RecordStatus.ACTIVE):
                    errors.add(ErrorCode.INACTIVE_REFERENCE,
                               f"policy '{policy.name if policy else policy_id}' of a grant of product "
                               f"'{product.code}' is {policy.status if policy else 'missing'}", "productCode")
            if errors:
                continue
            schedule = grant_schedule(grant, pur, product, resource, offer.units, offer.policies,
                                      subscription_external_id=request.external_id,
                                      subscription_quantity=request.quantity, billing=billing,
                                      subscription_end=end)
            grants.append(WalletGrant(schedule, grant.drawdown_order, request.external_id, grant.id, created_at,
                                      unit_share(grant, resource, offer.units)))
        resources.append(SubscribedResource(pur.resource_code, resource.default_unit_code, pur.effective_from,
                                            pur.effective_to, tuple(grants)))
    errors.raise_if_any()
    if not resources:
        raise DomainError(ErrorCode.INACTIVE_REFERENCE,
                          f"product '{product.code}' has no ACTIVE product usage resource to subscribe to",
                          "productCode")
    return Subscription(
        external_id=request.external_id,
        account_external_id=request.account_external_id,
        product_code=product.code,
        product_name=product.name,
        quantity=request.quantity,
        start_date=start,
        end_date=end,
        billing_term=request.billing_term,
        billing_term_unit=PeriodUnit(request.billing_term_unit),
        billing_day_of_month=request.billing_day_of_month,
        binding_target=binding,
        created_at=created_at,
        resources=tuple(resources),
    )


# ---------------------------------------------------------------------------------------------- matching and wallets
def matching_subscriptions(subscriptions: Iterable[Subscription], resource_code: str, at: datetime,
                           subscription_external_id: str | None = None) -> list[Subscription]:
    """The subscriptions a usage of ``resource_code`` at ``at`` is attributed to (DOMAIN §3.1).

    Only the named one when the partner names a subscription. Most recently started first (then by external id),
    the order in which their wallets are offered to pay and in which competing rates are decided (DOMAIN §4).
    """
    found = [s for s in subscriptions
             if (subscription_external_id is None or s.external_id == subscription_external_id)
             and s.covers(resource_code, at)]
    by_id = sorted(found, key=lambda s: s.external_id)
    return sorted(by_id, key=lambda s: as_utc(s.start_date), reverse=True)


def wallets_of(subscriptions: Iterable[Subscription]) -> dict[str, WalletRef]:
    """Every wallet the subscriptions fill, by wallet id, with the grants of every subscription bound to it."""
    grants: dict[str, list[WalletGrant]] = {}
    refs: dict[str, WalletRef] = {}
    for sub in sorted(subscriptions, key=lambda s: (s.created_at, s.external_id)):
        for subscribed in sub.resources:
            wid = sub.wallet_id(subscribed.resource_code)
            grants.setdefault(wid, []).extend(subscribed.grants)
            if wid not in refs:
                refs[wid] = WalletRef(wid, sub.wallet_owner, subscribed.resource_code, subscribed.unit_code, ())
    return {wid: WalletRef(ref.id, ref.owner, ref.resource_code, ref.unit_code, tuple(grants[wid]))
            for wid, ref in sorted(refs.items())}
