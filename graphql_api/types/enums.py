"""GraphQL enums are the domain's enums (values are those of DOMAIN.md), registered here once with Strawberry.

`strawberry.enum(DomainEnum)` marks the domain class itself as a GraphQL enum and returns it, so the names below are
the domain classes: type modules annotate with them (plain types to a type checker) and resolvers pass domain
values through unchanged. A GraphQL name or description that is the API's (API.md), not the domain's, is given
here. Every enum a type module uses is imported from this module, so it is registered before any schema is built.
"""

import strawberry

from core.auth import Role
from core.catalog import (
    AggregationMethod,
    AggregationPeriod,
    BindingTargetType,
    BindingType,
    CommitmentRate,
    DrawdownOrder,
    GrantType,
    PeriodUnit,
    PolicyKind,
    RateCardType,
    RecordStatus,
    ResourceCategory,
    UnitClassType,
    UsageModelType,
    ValidityUnit,
)
from core.grants import BucketSource
from core.rating.model import AdjustmentType, TierMode
from core.subscriptions import BindingTarget
from core.subscriptions import ChangeKind as SubscriptionChangeKind
from core.summaries import SummaryStatus
from core.uploads import UploadStatus as UsageUploadStatus
from core.usage import CorrectionKind, IngestOutcome, UsageStatus
from core.wallets import LedgerEntryType

for _enum in (RecordStatus, UnitClassType, ResourceCategory, UsageModelType, GrantType, ValidityUnit, PeriodUnit,
              DrawdownOrder, AggregationMethod, AggregationPeriod, CommitmentRate, BindingTargetType, BindingType,
              RateCardType, PolicyKind, TierMode, AdjustmentType, Role, BucketSource, LedgerEntryType, IngestOutcome):
    strawberry.enum(_enum)
strawberry.enum(BindingTarget, description="Whose wallet a subscription's grants fill.")
strawberry.enum(UsageStatus, description="NEW → PROCESSED, or ERROR / WARNING_UNRATED.")
strawberry.enum(CorrectionKind, description="VOID: the original never happened. AMEND: the original with new values.")
strawberry.enum(SummaryStatus, description="OPEN → COMPLETE (frozen) → INVOICED.")
strawberry.enum(UsageUploadStatus, name="UsageUploadStatus",
                description="PENDING (waiting for the file) → PROCESSING → COMPLETE (every row has a report line) or "
                            "FAILED (the file could not be read); EXPIRED: the URL expired with no file (ask for a "
                            "new one).")
strawberry.enum(SubscriptionChangeKind, name="SubscriptionChangeKind",
                description="AMENDED (quantity), CANCELLED (end date), RENEWED (term).")

__all__ = [
    "AdjustmentType", "AggregationMethod", "AggregationPeriod", "BindingTarget", "BindingTargetType", "BindingType",
    "BucketSource", "CommitmentRate", "CorrectionKind", "DrawdownOrder", "GrantType", "IngestOutcome",
    "LedgerEntryType", "PeriodUnit", "PolicyKind", "RateCardType", "RecordStatus", "ResourceCategory", "Role",
    "SubscriptionChangeKind", "SummaryStatus",
    "UsageUploadStatus", "TierMode", "UnitClassType", "UsageModelType", "UsageStatus", "ValidityUnit",
]
