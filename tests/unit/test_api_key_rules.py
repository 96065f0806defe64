"""The rules of a new API key (core.auth): a name, at least one known role; every problem reported at once."""

from __future__ import annotations

import pytest

from core.auth import ALLOWED, Action, Role, check_tenant, key_request
from core.errors import DomainError


def test_a_key_request_takes_role_names_in_any_case_and_trims_the_name() -> None:
    request = key_request("  metering ", ["partner", " VIEWER", ""])
    assert request.name == "metering" and request.roles == {Role.PARTNER, Role.VIEWER}


def test_a_key_request_reports_every_problem_with_its_field() -> None:
    with pytest.raises(DomainError) as raised:
        key_request("", ["ADMN", "Partner"], field_prefix="input.")
    assert [(d.code, d.field) for d in raised.value.all_details()] == [
        ("REQUIRED", "input.name"), ("INVALID_VALUE", "input.roles")]
    assert "unknown role 'ADMN'" in raised.value.all_details()[1].message
    with pytest.raises(DomainError) as raised:
        key_request("x" * 101, [])
    assert [(d.code, d.field) for d in raised.value.all_details()] == [("INVALID_VALUE", "name"), ("REQUIRED", "roles")]


def test_only_admins_manage_keys() -> None:
    assert [role for role in Role if Action.MANAGE_KEYS in ALLOWED[role]] == [Role.ADMIN]


@pytest.mark.parametrize("tenant", ["", "a#b", "-x", "x" * 65, "a b"])
def test_tenant_names_that_would_break_keys_are_refused(tenant: str) -> None:
    with pytest.raises(DomainError):
        check_tenant(tenant)
    check_tenant("acme-1.eu_west")
