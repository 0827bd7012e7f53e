"""Staff passwords: the rules a new one must meet, one-time passwords, and argon2id hashing off
the event loop."""

from __future__ import annotations

import asyncio
import secrets
from functools import cache
from importlib import resources

import argon2

from certsvc.staff._types import PasswordRefusal

MIN_LENGTH = 12
MAX_LENGTH = 256

#: argon2-cffi's defaults: argon2id, RFC 9106's second recommended parameter set (64 MiB, t=3).
DEFAULT_HASHER = argon2.PasswordHasher()
# One-time passwords: 4 groups of 4 from an alphabet without look-alikes (0/O, 1/l/I).
_OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case; `common_passwords.txt`)."""
    text = resources.files("certsvc.staff").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def check_new_password(staff_id: str, new: str) -> PasswordRefusal | None:
    """The first rule `new` breaks, or None: length 12–256 characters, not containing the staff
    ID (in any case), not on the list of common passwords."""
    if len(new) < MIN_LENGTH:
        return PasswordRefusal.PASSWORD_TOO_SHORT
    if len(new) > MAX_LENGTH:
        return PasswordRefusal.PASSWORD_TOO_LONG
    if staff_id.lower() in new.lower():
        return PasswordRefusal.PASSWORD_CONTAINS_ID
    if new.lower() in common_passwords():
        return PasswordRefusal.PASSWORD_TOO_COMMON
    return None


def one_time_password() -> str:
    """A random password to hand over once (about 79 bits); it must be changed at first use."""
    groups = ("".join(secrets.choice(_OTP_ALPHABET) for _ in range(4)) for _ in range(4))
    return "-".join(groups)


async def hash_password(hasher: argon2.PasswordHasher, password: str) -> str:
    """The argon2id PHC string of `password` (computed on a thread: ~0.1 s of CPU or more)."""
    return await asyncio.to_thread(hasher.hash, password)


def _verify(hasher: argon2.PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except argon2.exceptions.VerificationError:
        return False
    except argon2.exceptions.InvalidHashError:
        return False


async def verify_password(hasher: argon2.PasswordHasher, password_hash: str, password: str) -> bool:
    """Whether `password` matches the hash (on a thread, so the event loop keeps serving)."""
    return await asyncio.to_thread(_verify, hasher, password_hash, password)
