"""What each staff role may do: every role against every permission (the table of
docs/staff-accounts.md), and the codes of the staff refusals in the README's error table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from certsvc.staff import (
    STAFF_CODES,
    AdminRefusal,
    PasswordRefusal,
    Permission,
    Role,
    SignInRefusal,
    allowed,
)

P = Permission
EXPECTED: dict[Role, set[Permission]] = {
    Role.COUNTER_STAFF: {P.ISSUE},
    Role.CONTRACTOR: {P.ISSUE},
    Role.SUPERVISOR: {P.ISSUE, P.AUDIT_REVIEW, P.ACCOUNT_REVIEW, P.REVOKE},
    Role.ADMINISTRATOR: {
        P.AUDIT_REVIEW,
        P.ACCOUNT_REVIEW,
        P.MANAGE_ACCOUNTS,
        P.MANAGE_TERMINALS,
        P.REVOKE,
    },
}
README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_role_is_in_the_table() -> None:
    assert set(EXPECTED) == set(Role)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_role_permission(role: Role, permission: Permission) -> None:
    assert allowed(role, permission) is (permission in EXPECTED[role])


def test_an_administrator_issues_nothing() -> None:
    assert not allowed(Role.ADMINISTRATOR, Permission.ISSUE)


def test_every_staff_code_has_a_status_and_a_readme_row() -> None:
    members = {*SignInRefusal, *PasswordRefusal, *AdminRefusal, "STAFF_SESSION_EXPIRED"}
    assert set(STAFF_CODES) == {str(m) for m in members}
    documented = dict(
        re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| (\d{3}) \|", README.read_text("utf-8"), re.M)
    )
    for code, info in STAFF_CODES.items():
        assert documented.get(code) == str(info.status), code


def test_refusal_values_are_their_names() -> None:
    for enum in (SignInRefusal, PasswordRefusal, AdminRefusal):
        for member in enum:
            assert member.value == member.name
