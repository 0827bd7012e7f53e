"""One-time challenges for card presence (DESIGN §1.1 step 2, contracts §1).

A challenge is 32 random bytes, valid 5 minutes, usable once. Redis holds, under an HMAC of the
challenge id, only the SHA-256 of the nonce and its expiry; consuming it is one atomic script
that deletes it and leaves a short-lived "used" marker, so a replay is told apart from an expired
or unknown challenge. The nonce itself comes back in the attestation token's `nonce` claim and is
checked against the stored hash.

The app's certificate call sends the consume and the `jti` claim in the same round trip as its
client rate limit (`queue_consume`, `OnceRegistry.queue_claim`): three keys in three slots, in
one pipeline, or under Redis Cluster as three commands at once. The script goes as a bare
`EVALSHA` with an `EVAL` on NOSCRIPT (`certsvc.redis_rounds.LuaScript`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import msgspec
import redis.asyncio as redis_asyncio

from certsvc.redis_rounds import AnyPipeline, LuaScript

CHALLENGE_TTL = timedelta(minutes=5)
_USED_MARKER_TTL_S = int(CHALLENGE_TTL.total_seconds()) * 2

# KEYS[1] challenge, KEYS[2] used marker (one hash tag: one slot); ARGV[1] marker TTL. Returns
# the stored value, "USED", or nil (never issued, or expired and evicted by its TTL).
_CONSUME = """
local v = redis.call('GETDEL', KEYS[1])
if v then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
  return v
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'USED' end
return false
"""
_CONSUME_SCRIPT: Final = LuaScript(_CONSUME)


class IssuedChallenge(msgspec.Struct, frozen=True, kw_only=True):
    challenge_id: str
    nonce: str
    """base64url of 32 random bytes, no padding."""
    expires_at: datetime


class ConsumeOutcome(StrEnum):
    OK = "ok"
    ALREADY_USED = "already_used"
    EXPIRED = "expired"
    """Expired, or never issued: the two are told apart by nobody."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding; raises ValueError."""
    if not text or len(text) % 4 == 1 or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PendingConsume:
    """A consume queued into a pipeline: its reply is at `index` in the results."""

    __slots__ = ("_keys", "_nonce", "_now", "_store", "index")

    def __init__(
        self, store: ChallengeStore, *, index: int, keys: list[str], nonce: str, now: datetime
    ) -> None:
        self._store = store
        self.index = index
        self._keys = keys
        self._nonce = nonce
        self._now = now

    async def outcome(self, results: list[Any]) -> ConsumeOutcome:
        """The outcome from the pipeline's results (raises a failed command's error)."""
        result = await _CONSUME_SCRIPT.reply(
            self._store.redis, results[self.index], self._keys, [_USED_MARKER_TTL_S]
        )
        return _consume_outcome(result, self._nonce, self._now)


def _consume_outcome(result: bytes | None, nonce: str, now: datetime) -> ConsumeOutcome:
    if result is None:
        return ConsumeOutcome.EXPIRED
    if result == b"USED":
        return ConsumeOutcome.ALREADY_USED
    stored_hash, expires = result[:32], struct.unpack(">q", result[32:40])[0]
    if now.timestamp() > expires:
        return ConsumeOutcome.EXPIRED
    if not hmac.compare_digest(stored_hash, hashlib.sha256(nonce.encode()).digest()):
        return ConsumeOutcome.EXPIRED
    return ConsumeOutcome.OK


class ChallengeStore:
    def __init__(
        self,
        redis: redis_asyncio.Redis | redis_asyncio.RedisCluster,
        *,
        key: bytes,
        prefix: str = "ch",
    ) -> None:
        self.redis = redis
        self._key = key
        self._prefix = prefix

    def _redis_key(self, challenge_id: str, kind: str) -> str:
        mac = hmac.new(self._key, f"{self._prefix}:{challenge_id}".encode(), hashlib.sha256)
        # Redis Cluster: the braces are the hash tag, so a challenge's "open" and "used" keys
        # share a slot and the consume script can touch both (no CROSSSLOT)
        return f"{self._prefix}:{{{mac.hexdigest()[:40]}}}:{kind}"

    async def issue(self, *, now: datetime) -> IssuedChallenge:
        """A fresh challenge; Redis keeps only the nonce's hash and expiry, with a TTL."""
        challenge_id = b64url(secrets.token_bytes(16))
        nonce = b64url(secrets.token_bytes(32))
        expires_at = now + CHALLENGE_TTL
        value = hashlib.sha256(nonce.encode()).digest() + struct.pack(
            ">q", int(expires_at.timestamp())
        )
        await self.redis.set(
            self._redis_key(challenge_id, "open"), value, ex=int(CHALLENGE_TTL.total_seconds())
        )
        return IssuedChallenge(challenge_id=challenge_id, nonce=nonce, expires_at=expires_at)

    def _consume_keys(self, challenge_id: str) -> list[str]:
        return [self._redis_key(challenge_id, "open"), self._redis_key(challenge_id, "used")]

    def queue_consume(
        self, pipe: AnyPipeline, index: int, challenge_id: str, nonce: str, *, now: datetime
    ) -> PendingConsume | ConsumeOutcome:
        """Queue the use of the challenge into `pipe` (its reply at `index`), or, for an id
        that cannot be one, its outcome at once (nothing queued)."""
        if not challenge_id or len(challenge_id) > 64:
            return ConsumeOutcome.EXPIRED
        keys = self._consume_keys(challenge_id)
        _CONSUME_SCRIPT.queue(pipe, keys, [_USED_MARKER_TTL_S])
        return PendingConsume(self, index=index, keys=keys, nonce=nonce, now=now)

    async def consume(self, challenge_id: str, nonce: str, *, now: datetime) -> ConsumeOutcome:
        """Use the challenge once. OK only if it was open, not expired at `now`, and `nonce`
        hashes to what was issued with it. Any attempt uses it up."""
        if not challenge_id or len(challenge_id) > 64:
            return ConsumeOutcome.EXPIRED
        keys = self._consume_keys(challenge_id)
        result = await _CONSUME_SCRIPT(self.redis, keys, [_USED_MARKER_TTL_S])
        return _consume_outcome(result, nonce, now)


class OnceRegistry:
    """Single use of an identifier (an attestation token's `jti`) until it expires anyway."""

    def __init__(
        self,
        redis: redis_asyncio.Redis | redis_asyncio.RedisCluster,
        *,
        key: bytes,
        prefix: str = "jti",
    ) -> None:
        self._redis = redis
        self._key = key
        self._prefix = prefix

    def _redis_key(self, identifier: str) -> str:
        mac = hmac.new(self._key, f"{self._prefix}:{identifier}".encode(), hashlib.sha256)
        # One key, one command: any slot will do under Redis Cluster. A jti is accepted once
        # whatever the challenge, so its key is not tagged with one.
        return f"{self._prefix}:{mac.hexdigest()[:40]}"

    def queue_claim(self, pipe: AnyPipeline, identifier: str, *, ttl_s: int) -> None:
        """Queue the claim of `identifier` into `pipe`: its reply is true the first time, None
        for a replay. The caller reads it only once the identifier is known to be genuine."""
        pipe.execute_command("SET", self._redis_key(identifier), b"1", "NX", "EX", ttl_s)

    async def first_use(self, identifier: str, *, until: datetime, now: datetime) -> bool:
        """True the first time `identifier` is seen; False for a replay."""
        ttl = max(1, int((until - now).total_seconds()) + 120)  # + the verifier's clock skew
        stored = await self._redis.set(self._redis_key(identifier), b"1", nx=True, ex=ttl)
        return bool(stored)
