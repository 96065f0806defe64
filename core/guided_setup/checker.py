"""The checks of one guided setup input against the catalog: every problem reported with its input path (e.g.
``resources.2.grants.0.quantity``) in one Collector; input dates read as whole days (00:00 of the start date to
23:59:59 of the end date, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from core.bounds import DecimalKind, check_count, check_decimal
from core.catalog import (
    Product,
    RecordStatus,
    ResourceCategory,
    UnitClassType,
    UnitOfMeasure,
    UsageResource,
    ValidityUnit,
)
from core.catalog.checks import (
    CATEGORY_FOR_CLASS,
    COMMITMENT_TYPES,
    check_code,
    check_name,
    check_rollover_quantity,
    check_tiers,
)
from core.errors import Collector, DomainError, ErrorCode
from core.guided_setup.model import GuidedSetup, NewResource, SetupCatalog
from core.periods import start_of_day

END_OF_DAY = time(23, 59, 59)


def start_date(value: datetime) -> datetime:
    return start_of_day(value)


def end_date(value: datetime) -> datetime:
    """23:59:59 UTC of the day ``value`` falls on."""
    return datetime.combine(start_of_day(value).date(), END_OF_DAY, tzinfo=UTC)


def overlaps(a: tuple[datetime, datetime | None], b: tuple[datetime, datetime | None]) -> bool:
    return (b[1] is None or a[0] < b[1]) and (a[1] is None or b[0] < a[1])


class SetupChecker:
    """Every field of one setup input against the catalog; problems go to one Collector with input paths."""

    def __init__(self, setup: GuidedSetup, catalog: SetupCatalog):
        self.setup = setup
        self.catalog = catalog
        self.errors = Collector()
        self.new_resources: dict[str, UsageResource] = {}

    def add(self, code: str, message: str, field: str) -> None:
        self.errors.add(code, message, field)

    def resource(self, index: int) -> UsageResource | None:
        """The resource entry ``index`` names (existing or new), or None when it is at fault."""
        item = self.setup.resources[index]
        path = f"resources.{index}"
        code = item.resource_code
        existing = self.catalog.resources.get(code)
        if item.new_resource is not None:
            if existing is not None:
                self.add(ErrorCode.DUPLICATE_CODE, f"resource '{code}' already exists; leave out newResource to "
                         "use it", f"{path}.resourceCode")
                return None
            if code in self.new_resources:
                self.add(ErrorCode.DUPLICATE_CODE, f"resource '{code}' is already created by an earlier entry; "
                         "leave out newResource here", f"{path}.newResource")
                return None
            created = self.new_resource(index, item.new_resource)
            if created is not None:
                self.new_resources[code] = created
            return created
        if existing is None:
            existing = self.new_resources.get(code)
        if existing is None:
            self.add(ErrorCode.UNKNOWN_RESOURCE, f"resource '{code}' does not exist; add newResource to create it",
                     f"{path}.resourceCode")
        elif existing.status == RecordStatus.INACTIVE:
            self.add(ErrorCode.INACTIVE_REFERENCE, f"resource '{code}' is INACTIVE", f"{path}.resourceCode")
            return None
        return existing

    def new_resource(self, index: int, new: NewResource) -> UsageResource | None:
        path = f"resources.{index}.newResource"
        code = self.setup.resources[index].resource_code
        before = len(self.errors.details)
        check_code(self.errors, code, f"resources.{index}.resourceCode")
        check_name(self.errors, new.name, f"{path}.name")
        check_decimal(self.errors, new.tokens_per_unit, DecimalKind.FACTOR, f"{path}.tokensPerUnit")
        cls = self.catalog.classes.get(new.unit_class_code)
        default_unit = new.default_unit_code
        if cls is None:
            self.add(ErrorCode.UNKNOWN_REFERENCE, f"unit class '{new.unit_class_code}' does not exist",
                     f"{path}.unitOfMeasureClassCode")
        else:
            if cls.status == RecordStatus.INACTIVE:
                self.add(ErrorCode.INACTIVE_REFERENCE, f"unit class '{cls.code}' is INACTIVE",
                         f"{path}.unitOfMeasureClassCode")
            if CATEGORY_FOR_CLASS[cls.type] != new.category:
                self.add(ErrorCode.INVALID_VALUE, f"a {new.category} resource needs a {new.category} unit class, "
                         f"'{cls.code}' is {cls.type}", f"{path}.category")
            default_unit = default_unit or cls.default_unit_code
            self.unit_in_class(default_unit, cls.code, f"{path}.defaultUnitCode")
        if new.token_resource_code:
            token = self.catalog.resources.get(new.token_resource_code) or self.new_resources.get(
                new.token_resource_code)
            if token is None:
                self.add(ErrorCode.UNKNOWN_RESOURCE, f"token resource '{new.token_resource_code}' does not exist",
                         f"{path}.tokenResourceCode")
            elif token.category != ResourceCategory.TOKEN:
                self.add(ErrorCode.INVALID_VALUE, f"'{token.code}' is not a TOKEN resource",
                         f"{path}.tokenResourceCode")
            elif token.status == RecordStatus.INACTIVE:
                self.add(ErrorCode.INACTIVE_REFERENCE, f"token resource '{token.code}' is INACTIVE",
                         f"{path}.tokenResourceCode")
            if new.tokens_per_unit is None or new.tokens_per_unit <= 0:
                self.add(ErrorCode.INVALID_VALUE, "tokensPerUnit must be greater than 0 with a token resource",
                         f"{path}.tokensPerUnit")
        elif new.tokens_per_unit is not None:
            self.add(ErrorCode.INVALID_VALUE, "tokensPerUnit needs a tokenResourceCode", f"{path}.tokensPerUnit")
        if len(self.errors.details) > before or cls is None or default_unit is None:
            return None
        return UsageResource(code, new.name.strip(), new.category, cls.code, default_unit, new.token_resource_code,
                             new.tokens_per_unit)

    def unit_in_class(self, unit_code: str, class_code: str, field: str) -> UnitOfMeasure | None:
        unit = self.catalog.units.get(unit_code)
        if unit is None:
            self.add(ErrorCode.UNKNOWN_UNIT, f"unit '{unit_code}' does not exist", field)
        elif unit.class_code != class_code:
            self.add(ErrorCode.UNIT_NOT_IN_CLASS,
                     f"unit '{unit_code}' belongs to class '{unit.class_code}', not '{class_code}'", field)
        elif unit.status == RecordStatus.INACTIVE:
            self.add(ErrorCode.INACTIVE_REFERENCE, f"unit '{unit_code}' is INACTIVE", field)
        else:
            return unit
        return None

    def dates(self, index: int) -> tuple[datetime, datetime | None]:
        item = self.setup.resources[index]
        start = start_date(item.effective_from)
        end = end_date(item.effective_to) if item.effective_to is not None else None
        if end is not None and end < start:
            self.add(ErrorCode.INVALID_RANGE, f"the end date {end.date()} is before the start date {start.date()}",
                     f"resources.{index}.effectiveTo")
        return start, end

    def grant(self, index: int, g_index: int, resource: UsageResource | None) -> None:
        grant = self.setup.resources[index].grants[g_index]
        path = f"resources.{index}.grants.{g_index}"
        if grant.quantity == 0:
            self.add(ErrorCode.INVALID_VALUE, "quantity must be greater than 0", f"{path}.quantity")
        check_decimal(self.errors, grant.quantity, DecimalKind.QUANTITY, f"{path}.quantity")
        if resource is not None:
            self.unit_in_class(grant.unit_code or resource.default_unit_code, resource.unit_class_code,
                               f"{path}.unitCode")
        if grant.validity_unit == ValidityUnit.NONE and grant.validity_term is not None:
            self.add(ErrorCode.INVALID_VALUE, "validityTerm must be empty when validityUnit is NONE",
                     f"{path}.validityTerm")
        elif grant.validity_term is not None and grant.validity_term < 1:
            self.add(ErrorCode.INVALID_VALUE, "validityTerm must be 1 or more", f"{path}.validityTerm")
        for name, value in (("validityTerm", grant.validity_term), ("refreshEvery", grant.refresh_every),
                            ("maximumRolloverCount", grant.maximum_rollover_count)):
            check_count(self.errors, value, f"{path}.{name}")
        if grant.refresh_every is not None and grant.refresh_every < 0:
            self.add(ErrorCode.INVALID_VALUE, "refreshEvery must be 0 (never) or more", f"{path}.refreshEvery")
        if grant.refresh_every == 0 and grant.refresh_unit is not None:
            self.add(ErrorCode.INVALID_VALUE, "refreshUnit needs refreshEvery of 1 or more", f"{path}.refreshUnit")
        if grant.maximum_rollover_count is not None:
            if grant.rollover is False:
                self.add(ErrorCode.INVALID_VALUE, "maximumRolloverCount needs rollover",
                         f"{path}.maximumRolloverCount")
            elif grant.maximum_rollover_count < 1:
                self.add(ErrorCode.INVALID_VALUE, "maximumRolloverCount must be 1 or more",
                         f"{path}.maximumRolloverCount")
        if grant.maximum_rollover_quantity is not None:
            if grant.rollover is False:
                self.add(ErrorCode.INVALID_VALUE, "maximumRolloverQuantity needs rollover",
                         f"{path}.maximumRolloverQuantity")
            else:
                cap_errors = Collector()
                check_rollover_quantity(cap_errors, grant.maximum_rollover_quantity, "maximumRolloverQuantity")
                for detail in cap_errors.details:
                    self.add(detail.code, detail.message, f"{path}.maximumRolloverQuantity")

    def rate(self, index: int) -> str | None:
        """The rate unit of entry ``index`` (checked), or None when it has no rate."""
        item = self.setup.resources[index]
        path = f"resources.{index}"
        if item.overage_rate is None:
            for name, given in (("rateUnitCode", item.rate_unit_code), ("tierMode", item.tier_mode),
                                ("tiers", item.tiers)):
                if given:
                    self.add(ErrorCode.REQUIRED, f"{name} needs an overageRate", f"{path}.overageRate")
                    break
            return None
        check_decimal(self.errors, item.overage_rate, DecimalKind.RATE, f"{path}.overageRate")
        unit_code = item.rate_unit_code or self.catalog.default_currency()
        if unit_code is None:
            self.add(ErrorCode.REQUIRED, "rateUnitCode is required (the tenant has no currency)",
                     f"{path}.rateUnitCode")
            return None
        unit = self.catalog.units.get(unit_code)
        cls = self.catalog.classes.get(unit.class_code) if unit else None
        if unit is None:
            self.add(ErrorCode.UNKNOWN_UNIT, f"unit '{unit_code}' does not exist", f"{path}.rateUnitCode")
        elif cls is not None and cls.type not in (UnitClassType.CURRENCY, UnitClassType.TOKEN):
            self.add(ErrorCode.UNIT_NOT_IN_CLASS,
                     f"rate unit '{unit_code}' must be a CURRENCY or TOKEN unit, not {cls.type}",
                     f"{path}.rateUnitCode")
        elif unit.status == RecordStatus.INACTIVE:
            self.add(ErrorCode.INACTIVE_REFERENCE, f"unit '{unit_code}' is INACTIVE", f"{path}.rateUnitCode")
        if item.tiers and item.tier_mode is None:
            self.add(ErrorCode.REQUIRED, "tiers need a tierMode (TIERED or VOLUME)", f"{path}.tierMode")
        if item.tier_mode is not None and not item.tiers:
            self.add(ErrorCode.INVALID_VALUE, "tierMode needs tiers", f"{path}.tierMode")
        check_tiers(self.errors, item.tiers, f"{path}.")
        return unit_code


def check_product(setup: GuidedSetup, catalog: SetupCatalog, errors: Collector) -> Product | None:
    if setup.usage_model_type in COMMITMENT_TYPES:
        raise DomainError(ErrorCode.UNSUPPORTED_MODEL_TYPE,
                          f"guided setup configures ANCHOR and PACK products; configure a {setup.usage_model_type} "
                          "product manually (createProduct, createProductUsageResource, createProductUsageGrant, …)",
                          "usageModelType")
    existing = catalog.product
    if existing is not None:
        if existing.usage_model_type in COMMITMENT_TYPES:
            raise DomainError(ErrorCode.UNSUPPORTED_MODEL_TYPE,
                              f"product '{existing.code}' is a {existing.usage_model_type} product; configure it "
                              "manually", "productCode")
        if existing.usage_model_type != setup.usage_model_type:
            errors.add(ErrorCode.INVALID_VALUE, f"product '{existing.code}' is a {existing.usage_model_type} "
                       f"product, not {setup.usage_model_type}", "usageModelType")
        if existing.status == RecordStatus.INACTIVE:
            errors.add(ErrorCode.STATUS_FORBIDS, f"product '{existing.code}' is INACTIVE", "productCode")
        return existing
    check_code(errors, setup.product_code, "productCode")
    name = setup.product_code if setup.product_name is None else setup.product_name.strip()
    check_name(errors, setup.product_name, "productName")
    return Product(setup.product_code, name, setup.usage_model_type)
