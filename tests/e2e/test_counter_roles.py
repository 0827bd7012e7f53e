"""Role × route: every route of the counter tried with every role (and signed out). The role is
checked on the server before anything else the route does."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from certsvc.staff import Role, StaffService
from tests.e2e.counter_flow import csrf, error_code, signed_in

ISSUERS = {Role.COUNTER_STAFF, Role.CONTRACTOR, Role.SUPERVISOR}
REVIEWERS = {Role.SUPERVISOR, Role.ADMINISTRATOR}
#: The officials' operations (status and revocation): never counter staff or contractors.
OFFICIALS = {Role.SUPERVISOR, Role.ADMINISTRATOR}

#: (method, path, roles allowed, what an allowed role meets next when the form is empty)
ROUTES: list[tuple[str, str, set[Role], tuple[int, str | None]]] = [
    ("GET", "/issue", ISSUERS, (200, None)),
    ("GET", "/reprint", ISSUERS, (200, None)),
    ("POST", "/visit/start", ISSUERS, (400, "COUNTER_FORM_INVALID")),
    ("POST", "/visit/identify", ISSUERS, (400, "COUNTER_FORM_INVALID")),
    ("POST", "/visit/preview", ISSUERS, (400, "COUNTER_FORM_INVALID")),
    ("POST", "/visit/issue", ISSUERS, (400, "COUNTER_FORM_INVALID")),
    ("POST", "/visit/reprint", ISSUERS, (400, "COUNTER_FORM_INVALID")),
    ("POST", "/visit/pdf", ISSUERS, (400, "COUNTER_FORM_INVALID")),
    ("GET", "/audit", REVIEWERS, (200, None)),
    ("GET", "/accounts", REVIEWERS, (200, None)),
    ("GET", "/certificates", OFFICIALS, (200, None)),
    ("POST", "/certificates/status", OFFICIALS, (400, "COUNTER_FORM_INVALID")),
    ("POST", "/certificates/revoke", OFFICIALS, (400, "COUNTER_FORM_INVALID")),
    ("GET", "/password", set(Role), (200, None)),
]


async def _call(client: AsyncTestClient[Litestar], method: str, path: str, token: str):  # type: ignore[no-untyped-def]
    if method == "GET":
        return await client.get(path)
    return await client.post(path, data={"_csrf": token})


@pytest.mark.parametrize("role", list(Role))
async def test_counter_every_route_checks_the_role(
    counter_client: AsyncTestClient[Litestar], staff: StaffService, role: Role
) -> None:
    await signed_in(counter_client, staff, f"user-{role.value}", role)
    token = await csrf(counter_client)
    seen = {}
    for method, path, roles, (status, code) in ROUTES:
        response = await _call(counter_client, method, path, token)
        if role in roles:
            seen[path] = (response.status_code, error_code(response)) == (status, code)
        else:
            seen[path] = (response.status_code, error_code(response)) == (
                403,
                "COUNTER_ROLE_NOT_ALLOWED",
            )
    assert seen == {path: True for _, path, _, _ in ROUTES}


async def test_counter_every_route_refuses_the_signed_out(
    counter_client: AsyncTestClient[Litestar],
) -> None:
    page = await counter_client.get("/sign-in")
    token = page.text.split('name="_csrf" value="')[1].split('"')[0]
    for method, path, _, _ in ROUTES:
        response = await _call(counter_client, method, path, token)
        assert (path, response.status_code, error_code(response)) == (
            path,
            401,
            "COUNTER_SIGNED_OUT",
        )
