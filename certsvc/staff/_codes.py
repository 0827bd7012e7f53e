"""The staff refusals as error codes: HTTP status and title (the counter's pages show the code;
the README's error table lists each)."""

from __future__ import annotations

from certsvc.errors import CodeInfo
from certsvc.staff._types import AdminRefusal, PasswordRefusal, SignInRefusal

#: Every code of certsvc.staff, for a channel's code table.
STAFF_CODES: dict[str, CodeInfo] = {
    SignInRefusal.STAFF_SIGN_IN_FAILED: CodeInfo(
        401, "Sign-in failed: check the staff ID and password"
    ),
    SignInRefusal.STAFF_LOCKED_OUT: CodeInfo(
        429, "Too many failed sign-ins: this staff ID is locked for 15 minutes"
    ),
    SignInRefusal.STAFF_TERMINAL_NOT_ALLOWED: CodeInfo(
        403, "This staff ID may not sign in from this terminal"
    ),
    "STAFF_SESSION_EXPIRED": CodeInfo(401, "The staff session has ended; sign in again"),
    PasswordRefusal.PASSWORD_TOO_SHORT: CodeInfo(
        422, "The new password must have at least 12 characters"
    ),
    PasswordRefusal.PASSWORD_TOO_LONG: CodeInfo(
        422, "The new password must have at most 256 characters"
    ),
    PasswordRefusal.PASSWORD_CONTAINS_ID: CodeInfo(
        422, "The new password must not contain the staff ID"
    ),
    PasswordRefusal.PASSWORD_TOO_COMMON: CodeInfo(
        422, "The new password is too common; choose another"
    ),
    PasswordRefusal.PASSWORD_REUSED: CodeInfo(
        422, "The new password must differ from the current one"
    ),
    PasswordRefusal.PASSWORD_CURRENT_WRONG: CodeInfo(422, "The current password is wrong"),
    AdminRefusal.STAFF_ID_INVALID: CodeInfo(
        422, "A staff ID is 2-32 of a-z, 0-9, '.', '_', '-' and holds no run of 12 digits"
    ),
    AdminRefusal.STAFF_ID_TAKEN: CodeInfo(409, "An account with this staff ID exists already"),
    AdminRefusal.STAFF_UNKNOWN: CodeInfo(404, "No staff account with this ID"),
    AdminRefusal.STAFF_ROLE_INVALID: CodeInfo(
        422, "The role must be counter_staff, contractor, supervisor or administrator"
    ),
    AdminRefusal.STAFF_MUNICIPALITY_REQUIRED: CodeInfo(
        422, "A staff account is granted at least one municipality"
    ),
    AdminRefusal.STAFF_MUNICIPALITY_UNKNOWN: CodeInfo(
        422, "A municipality granted is not served here"
    ),
    AdminRefusal.STAFF_DATE_INVALID: CodeInfo(422, "A date must be YYYY-MM-DD"),
    AdminRefusal.STAFF_EXPIRY_IN_PAST: CodeInfo(422, "The expiry date is in the past"),
    AdminRefusal.STAFF_CONTRACT_END_REQUIRED: CodeInfo(
        422, "A contractor account needs the contract's end date"
    ),
    AdminRefusal.STAFF_CONTRACT_END_NOT_CONTRACTOR: CodeInfo(
        422, "Only contractor accounts have a contract end date"
    ),
    AdminRefusal.STAFF_EXPIRY_AFTER_CONTRACT_END: CodeInfo(
        422, "A contractor account expires at the latest at the contract's end"
    ),
    AdminRefusal.STAFF_SHARED_NEEDS_TERMINALS: CodeInfo(
        422, "A shared staff ID needs the terminals it may sign in from"
    ),
    AdminRefusal.STAFF_TERMINALS_NOT_SHARED: CodeInfo(
        422, "Only a shared staff ID is bound to terminals"
    ),
    AdminRefusal.TERMINAL_UNKNOWN: CodeInfo(422, "No terminal with this name"),
    AdminRefusal.TERMINAL_NAME_INVALID: CodeInfo(
        422, "A terminal name is 1-64 printable characters"
    ),
    AdminRefusal.TERMINAL_NAME_TAKEN: CodeInfo(409, "A terminal with this name exists already"),
    AdminRefusal.OPERATOR_INVALID: CodeInfo(
        422, "The operator name is 1-200 characters without a run of 12 digits"
    ),
}
