"""GraphQL enums are the domain's enums, registered once (values are those of DOMAIN.md)."""

import strawberry

from core import catalog as c
from core.auth import Role as _Role
from core.rating.model import AdjustmentType as _AdjustmentType
from core.rating.model import TierMode as _TierMode

RecordStatus = strawberry.enum(c.RecordStatus)
UnitClassType = strawberry.enum(c.UnitClassType)
ResourceCategory = strawberry.enum(c.ResourceCategory)
UsageModelType = strawberry.enum(c.UsageModelType)
GrantType = strawberry.enum(c.GrantType)
ValidityUnit = strawberry.enum(c.ValidityUnit)
PeriodUnit = strawberry.enum(c.PeriodUnit)
DrawdownOrder = strawberry.enum(c.DrawdownOrder)
AggregationMethod = strawberry.enum(c.AggregationMethod)
AggregationPeriod = strawberry.enum(c.AggregationPeriod)
CommitmentRate = strawberry.enum(c.CommitmentRate)
BindingType = strawberry.enum(c.BindingType)
BindingTargetType = strawberry.enum(c.BindingTargetType)
RateCardType = strawberry.enum(c.RateCardType)
PolicyKind = strawberry.enum(c.PolicyKind)
TierMode = strawberry.enum(_TierMode)
AdjustmentType = strawberry.enum(_AdjustmentType)
Role = strawberry.enum(_Role)
