"""Staff accounts of the city counter: roles and permissions, terminals, sessions, lockout.

The counter pages call `StaffService` for sign-in, sessions, password changes and terminal
enrolment; `certsvc staff` calls it for administration. Staff accounts, grants and terminals live
in PostgreSQL (`certsvc.db.staff`); failed-attempt counters and sessions live in Redis under HMACs
of the staff ID and of the session id (never either in clear), each key with a TTL. See
docs/staff-accounts.md.

`StaffService` writes its own audit events, into the chain of each municipality the account is
granted: sign-ins (`staff.sign_in`, ok or refused, for known IDs), password changes, and the
administration actions (`staff.create`, `staff.expire`, `staff.reset_password`); terminal
registration and enrolment (`terminal.add`, `terminal.enrol`) go to every municipality served.
A caller does not audit these again.
"""

from certsvc.staff._codes import STAFF_CODES
from certsvc.staff._service import (
    ABSOLUTE_LIMIT,
    DEMO_ACCOUNTS,
    ENROL_TOKEN_TTL,
    IDLE_TIMEOUT,
    LOCKOUT_ATTEMPTS,
    LOCKOUT_PERIOD,
    StaffService,
    create_demo_accounts,
)
from certsvc.staff._types import (
    AdminRefusal,
    PasswordRefusal,
    Permission,
    ReviewRow,
    Role,
    SignedIn,
    SignInRefusal,
    StaffAdminError,
    StaffMember,
    StaffSession,
    StaffSessionExpired,
    Terminal,
    allowed,
)

__all__ = [
    "ABSOLUTE_LIMIT",
    "DEMO_ACCOUNTS",
    "ENROL_TOKEN_TTL",
    "IDLE_TIMEOUT",
    "LOCKOUT_ATTEMPTS",
    "LOCKOUT_PERIOD",
    "STAFF_CODES",
    "AdminRefusal",
    "PasswordRefusal",
    "Permission",
    "ReviewRow",
    "Role",
    "SignInRefusal",
    "SignedIn",
    "StaffAdminError",
    "StaffMember",
    "StaffService",
    "StaffSession",
    "StaffSessionExpired",
    "Terminal",
    "allowed",
    "create_demo_accounts",
]
