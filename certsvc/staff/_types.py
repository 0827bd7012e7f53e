"""The typed values of staff accounts: roles and what each may do, accounts, terminals, sessions,
and the refusals of sign-in, password change and account administration."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import msgspec


class Role(StrEnum):
    COUNTER_STAFF = "counter_staff"
    """A city employee at the counter: issues and reprints."""
    CONTRACTOR = "contractor"
    """Contractor staff at the counter: issues and reprints; the account ends with the contract."""
    SUPERVISOR = "supervisor"
    """Issues and reprints, reviews the audit log and the accounts, revokes."""
    ADMINISTRATOR = "administrator"
    """Manages accounts and terminals, reviews, revokes; issues nothing."""


class Permission(StrEnum):
    ISSUE = "issue"
    """Issue and reprint certificates at the counter."""
    AUDIT_REVIEW = "audit_review"
    """Read the audit log and its chain status."""
    ACCOUNT_REVIEW = "account_review"
    """Read the account review (every account, its grants and last use)."""
    MANAGE_ACCOUNTS = "manage_accounts"
    """Create, expire and reset staff accounts."""
    MANAGE_TERMINALS = "manage_terminals"
    """Register counter terminals."""
    REVOKE = "revoke"
    """Revoke a certificate (the officials' operation)."""


# The city's privacy impact assessment: least privilege per role (issue/reprint, audit and account
# review, account and terminal management). An administrator manages, but never issues.
_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.COUNTER_STAFF: frozenset({Permission.ISSUE}),
    Role.CONTRACTOR: frozenset({Permission.ISSUE}),
    Role.SUPERVISOR: frozenset(
        {Permission.ISSUE, Permission.AUDIT_REVIEW, Permission.ACCOUNT_REVIEW, Permission.REVOKE}
    ),
    Role.ADMINISTRATOR: frozenset(
        {
            Permission.AUDIT_REVIEW,
            Permission.ACCOUNT_REVIEW,
            Permission.MANAGE_ACCOUNTS,
            Permission.MANAGE_TERMINALS,
            Permission.REVOKE,
        }
    ),
}


def allowed(role: Role, permission: Permission) -> bool:
    """Whether `role` may do `permission` (the table in docs/staff-accounts.md)."""
    return permission in _GRANTS[role]


class StaffMember(msgspec.Struct, frozen=True, kw_only=True):
    """A staff account as the counter sees it (never its password hash)."""

    staff_id: str
    role: Role
    municipalities: tuple[str, ...]
    """The municipality codes granted, in code order."""
    expires_on: date
    """Last day (JST) the account may sign in."""
    shared: bool
    """A shared ID: signs in only from its listed terminals."""
    must_change_password: bool


class Terminal(msgspec.Struct, frozen=True, kw_only=True):
    """A counter browser registered by an administrator."""

    terminal_id: str
    name: str


class StaffSession(msgspec.Struct, frozen=True, kw_only=True):
    """A signed-in staff member: who, from which terminal, since when. Never a resident's data."""

    staff: StaffMember
    terminal: Terminal | None
    created_at: datetime
    last_seen_at: datetime


class SignInRefusal(StrEnum):
    STAFF_SIGN_IN_FAILED = "STAFF_SIGN_IN_FAILED"
    """Unknown ID, wrong password or expired account: one answer, so that it says nothing of
    whether the ID exists."""
    STAFF_LOCKED_OUT = "STAFF_LOCKED_OUT"
    """5 failed attempts: the ID is locked for 15 minutes."""
    STAFF_TERMINAL_NOT_ALLOWED = "STAFF_TERMINAL_NOT_ALLOWED"
    """A shared ID from a terminal not listed for it, or without an enrolled terminal."""


# The values are refusal codes, not passwords (hence the S105 exemptions).
class PasswordRefusal(StrEnum):
    PASSWORD_TOO_SHORT = "PASSWORD_TOO_SHORT"  # noqa: S105
    """Fewer than 12 characters."""
    PASSWORD_CONTAINS_ID = "PASSWORD_CONTAINS_ID"  # noqa: S105
    """The password contains the staff ID (in any case)."""
    PASSWORD_TOO_COMMON = "PASSWORD_TOO_COMMON"  # noqa: S105
    """The password is on the list of common passwords."""
    PASSWORD_REUSED = "PASSWORD_REUSED"  # noqa: S105
    """The new password is the current one."""
    PASSWORD_CURRENT_WRONG = "PASSWORD_CURRENT_WRONG"  # noqa: S105
    """The current password given is wrong."""
    PASSWORD_TOO_LONG = "PASSWORD_TOO_LONG"  # noqa: S105
    """More than 256 characters."""


class SignedIn(msgspec.Struct, frozen=True, kw_only=True):
    """A new session: `session_id` goes into the session cookie (and nowhere else)."""

    session_id: str
    session: StaffSession


class ReviewRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the account review."""

    staff_id: str
    role: Role
    municipalities: tuple[str, ...]
    created_by: str
    """Who created the account (the issuer)."""
    created_at: datetime
    expires_on: date
    contract_end: date | None
    shared: bool
    terminals: tuple[str, ...]
    """Names of the terminals a shared ID may sign in from."""
    last_sign_in_at: datetime | None
    """Last use: the last successful sign-in."""
    expired: bool
    """Expired by an administrator or past `expires_on`."""
    locked: bool
    """Locked out now after failed sign-ins."""


class AdminRefusal(StrEnum):
    """Why an administration action was refused (a staff account or terminal request)."""

    STAFF_ID_INVALID = "STAFF_ID_INVALID"
    """A staff ID is 2–32 of a-z, 0-9, '.', '_', '-', starting with a letter or digit, and
    holds no run of 12 digits."""
    STAFF_ID_TAKEN = "STAFF_ID_TAKEN"
    """An account with this ID exists already."""
    STAFF_UNKNOWN = "STAFF_UNKNOWN"
    """No account with this ID."""
    STAFF_ROLE_INVALID = "STAFF_ROLE_INVALID"
    """The role is not counter_staff, contractor, supervisor or administrator."""
    STAFF_MUNICIPALITY_REQUIRED = "STAFF_MUNICIPALITY_REQUIRED"
    """An account is granted at least one municipality."""
    STAFF_MUNICIPALITY_UNKNOWN = "STAFF_MUNICIPALITY_UNKNOWN"
    """A municipality granted is not served here."""
    STAFF_DATE_INVALID = "STAFF_DATE_INVALID"
    """A date is not YYYY-MM-DD."""
    STAFF_EXPIRY_IN_PAST = "STAFF_EXPIRY_IN_PAST"
    """The expiry date is before today."""
    STAFF_CONTRACT_END_REQUIRED = "STAFF_CONTRACT_END_REQUIRED"
    """A contractor account needs the contract's end date."""
    STAFF_CONTRACT_END_NOT_CONTRACTOR = "STAFF_CONTRACT_END_NOT_CONTRACTOR"
    """Only contractor accounts have a contract end."""
    STAFF_EXPIRY_AFTER_CONTRACT_END = "STAFF_EXPIRY_AFTER_CONTRACT_END"
    """A contractor account expires at the latest on the contract's end."""
    STAFF_SHARED_NEEDS_TERMINALS = "STAFF_SHARED_NEEDS_TERMINALS"
    """A shared ID is a named exception: list the terminals it may sign in from."""
    STAFF_TERMINALS_NOT_SHARED = "STAFF_TERMINALS_NOT_SHARED"
    """Only a shared ID is bound to terminals."""
    TERMINAL_UNKNOWN = "TERMINAL_UNKNOWN"
    """No terminal with this name or id."""
    TERMINAL_NAME_INVALID = "TERMINAL_NAME_INVALID"
    """A terminal name is 1–64 printable characters."""
    TERMINAL_NAME_TAKEN = "TERMINAL_NAME_TAKEN"
    """A terminal with this name exists already."""
    OPERATOR_INVALID = "OPERATOR_INVALID"
    """The operator name recorded in the audit log is 1–200 characters without a 12-digit run."""


class StaffAdminError(Exception):
    """An administration action refused; `code` says why (never a password, never a value)."""

    def __init__(self, code: AdminRefusal) -> None:
        super().__init__(code.value)
        self.code = code


class StaffSessionExpired(Exception):  # noqa: N818 — an outcome, as the refusals are
    """The session is unknown, idle too long, too old, or its account has expired."""
