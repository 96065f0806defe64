"""The validator's call bounds (core.validation.snapshot.validation_window): at most 10 products, a forward range."""

from datetime import UTC, datetime

import pytest

from core.errors import DomainError, ErrorCode
from core.validation.snapshot import MAX_PRODUCTS_PER_VALIDATION, Window, validation_window

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


def test_up_to_the_limit_of_products_and_an_open_or_forward_range_give_the_window() -> None:
    codes = [f"P{i}" for i in range(MAX_PRODUCTS_PER_VALIDATION)]
    assert validation_window(codes, JAN, FEB) == Window(JAN, FEB)
    assert validation_window(codes, None, FEB) == Window(None, FEB)


def test_one_product_too_many_is_refused_on_product_codes() -> None:
    with pytest.raises(DomainError) as refused:
        validation_window([f"P{i}" for i in range(MAX_PRODUCTS_PER_VALIDATION + 1)], None, None)
    assert (refused.value.code, refused.value.field) == (ErrorCode.MAX_LIMIT_EXCEEDED, "productCodes")


@pytest.mark.parametrize("end", [JAN, datetime(2025, 12, 31, tzinfo=UTC)])
def test_a_range_that_does_not_move_forward_is_refused_on_to(end: datetime) -> None:
    with pytest.raises(DomainError) as refused:
        validation_window(["P"], JAN, end)
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_RANGE, "to")
