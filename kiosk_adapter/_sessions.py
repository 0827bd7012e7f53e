"""Kiosk session state in Redis (DESIGN §1.2 item 5).

Per session, Redis holds under an HMAC of the session id only: the state, the session's end, the
SHA-256 of the confirm's idempotency key (with the kind and copies it was used for) and the
certificate id — never a name, My Number or address number. Every key has a TTL. A step moves
the state with a compare-and-set script, so two concurrent calls of one step cannot both win.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from enum import StrEnum

import msgspec
import redis.asyncio as redis_asyncio

SESSION_TTL = timedelta(minutes=10)
_PREFIX = "kiosk:s:"

# KEYS[1] the session (the only key: one slot under Redis Cluster); ARGV[1] the value expected,
# ARGV[2] the new value. 1 when swapped.
_SWAP = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
"""


class State(StrEnum):
    STARTED = "STARTED"
    PREVIEWED = "PREVIEWED"
    CONFIRMING = "CONFIRMING"
    """A confirm is issuing (transient; back to PREVIEWED if it is refused)."""
    ISSUED = "ISSUED"
    VOIDING = "VOIDING"
    """A failed print is being voided (transient)."""
    COMPLETED = "COMPLETED"
    VOIDED = "VOIDED"


class SessionRecord(msgspec.Struct, frozen=True, kw_only=True):
    state: State
    expires_at: int
    """Unix seconds (checked against the service clock; Redis' TTL is the backstop)."""
    confirm_digest: str = ""
    """hex SHA-256 of the idempotency key, kind and copies of the confirm that issued."""
    certificate_id: str = ""


_decode_record = msgspec.json.Decoder(SessionRecord)


def confirm_digest(idempotency_key: str, kind: str, copies: int) -> str:
    """What identifies one confirm: its key and what it asked for (a replay must match)."""
    return hashlib.sha256(f"{idempotency_key}\x00{kind}\x00{copies}".encode()).hexdigest()


class SessionStore:
    def __init__(
        self, redis: redis_asyncio.Redis | redis_asyncio.RedisCluster, *, key: bytes
    ) -> None:
        self._redis = redis
        self._key = key
        self._swap = redis.register_script(_SWAP)

    def redis_key(self, session_id: str) -> str:
        mac = hmac.new(self._key, b"kiosk-session:" + session_id.encode(), hashlib.sha256)
        return _PREFIX + mac.hexdigest()[:40]

    async def create(self, session_id: str, *, now: datetime) -> SessionRecord:
        record = SessionRecord(state=State.STARTED, expires_at=int((now + SESSION_TTL).timestamp()))
        await self._redis.set(
            self.redis_key(session_id),
            msgspec.json.encode(record),
            ex=int(SESSION_TTL.total_seconds()),
            nx=True,
        )
        return record

    @staticmethod
    def well_formed(session_id: str) -> bool:
        """Whether `session_id` can name a session at all (others are unknown unread)."""
        return 0 < len(session_id) <= 64

    @staticmethod
    def decode(raw: bytes | str | None) -> SessionRecord | None:
        """A record as `get` returns it, from the value read under `redis_key`."""
        return None if raw is None else _decode_record.decode(raw)

    async def get(self, session_id: str) -> SessionRecord | None:
        if not self.well_formed(session_id):
            return None
        return self.decode(await self._redis.get(self.redis_key(session_id)))

    async def swap(self, session_id: str, old: SessionRecord, new: SessionRecord) -> bool:
        """Replace `old` by `new` if nobody changed it meanwhile."""
        swapped = await self._swap(
            keys=[self.redis_key(session_id)],
            args=[msgspec.json.encode(old), msgspec.json.encode(new)],
        )
        return bool(swapped)
