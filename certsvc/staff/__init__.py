"""Staff accounts of the city counter: roles and permissions, terminals, sessions, lockout.

The counter pages call `StaffService` for sign-in, sessions, password changes and terminal
enrolment; `certsvc staff` calls it for administration. Staff accounts, grants and terminals live
in PostgreSQL (`certsvc.db.staff`); failed-attempt counters and sessions live in Redis under HMACs
of the staff ID and of the session id (never either in clear), each key with a TTL. See
docs/staff-accounts.md.
"""

from certsvc.staff._service import StaffService, create_demo_accounts
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
