"""Units of measure and their classes: inputs, queries and mutations.

Parse, call one catalog service method, map the result."""

import strawberry

from core import catalog as c
from graphql_api.catalog.calls import UNSET, changes_of, mutate, remove
from graphql_api.context import Info
from graphql_api.errors import mutation
from graphql_api.permissions import CanConfigure, CanRead
from graphql_api.scalars import Decimal as DecimalScalar
from graphql_api.types import catalog as t
from graphql_api.types.common import DeletePayload, Payload
from graphql_api.types.enums import (
    RecordStatus,
    UnitClassType,
)


@strawberry.input
class UnitOfMeasureInput:
    unit_code: str
    name: str
    conversion_factor: DecimalScalar
    decimal_places: int | None = None
    sequence: int | None = None


@strawberry.input
class CreateUnitOfMeasureClassInput:
    code: str
    name: str
    type: UnitClassType
    base_unit_code: str
    units: list[UnitOfMeasureInput]
    default_unit_code: str | None = None


@strawberry.input
class UpdateUnitOfMeasureClassInput:
    code: str
    name: str | None = UNSET
    default_unit_code: str | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.input
class CreateUnitOfMeasureInput:
    class_code: str
    unit_code: str
    name: str
    conversion_factor: DecimalScalar
    decimal_places: int | None = None
    sequence: int | None = None


@strawberry.input
class UpdateUnitOfMeasureInput:
    unit_code: str
    name: str | None = UNSET
    conversion_factor: DecimalScalar | None = UNSET
    sequence: int | None = UNSET
    status: RecordStatus | None = UNSET


@strawberry.type
class UnitsQuery:
    @strawberry.field(permission_classes=[CanRead])
    async def unit_of_measure_classes(self, info: Info) -> list[t.UnitOfMeasureClass]:
        classes = await info.context.loaders.unit_classes()
        return [t.UnitOfMeasureClass.from_domain(k) for k in sorted(classes.values(), key=lambda k: k.code)]


@strawberry.type
class UnitsMutation:
    @mutation(permission_classes=[CanConfigure])
    async def create_unit_of_measure_class(self, info: Info, input: CreateUnitOfMeasureClassInput
                                           ) -> Payload[t.UnitOfMeasureClass]:
        cls = c.UnitOfMeasureClass(input.code, input.name, input.type, input.base_unit_code,
                                   input.default_unit_code or input.base_unit_code)
        units = [c.UnitOfMeasure(u.unit_code, u.name, input.code, u.conversion_factor,
                                 u.sequence if u.sequence is not None else i, u.decimal_places)
                 for i, u in enumerate(input.units)]
        return await mutate(info, lambda s: s.create_unit_class(cls, units), t.UnitOfMeasureClass.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_unit_of_measure_class(self, info: Info, input: UpdateUnitOfMeasureClassInput
                                           ) -> Payload[t.UnitOfMeasureClass]:
        changes = changes_of(input, "name", "default_unit_code", "status")
        return await mutate(info, lambda s: s.update(c.UnitOfMeasureClass, input.code, changes),
                            t.UnitOfMeasureClass.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_unit_of_measure_class(self, info: Info, code: str) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.UnitOfMeasureClass, code),
                            t.to_global_id("UnitOfMeasureClass", code))

    @mutation(permission_classes=[CanConfigure])
    async def create_unit_of_measure(self, info: Info, input: CreateUnitOfMeasureInput) -> Payload[t.UnitOfMeasure]:
        unit = c.UnitOfMeasure(input.unit_code, input.name, input.class_code, input.conversion_factor,
                               input.sequence or 0, input.decimal_places)
        return await mutate(info, lambda s: s.create(unit), t.UnitOfMeasure.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def update_unit_of_measure(self, info: Info, input: UpdateUnitOfMeasureInput) -> Payload[t.UnitOfMeasure]:
        changes = changes_of(input, "name", "conversion_factor", "sequence", "status")
        return await mutate(info, lambda s: s.update(c.UnitOfMeasure, input.unit_code, changes),
                            t.UnitOfMeasure.from_domain)

    @mutation(permission_classes=[CanConfigure])
    async def delete_unit_of_measure(self, info: Info, unit_code: str) -> DeletePayload:
        return await remove(info, lambda s: s.delete(c.UnitOfMeasure, unit_code),
                            t.to_global_id("UnitOfMeasure", unit_code))
