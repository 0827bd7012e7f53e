"""Traffic limits of the kiosk link (PROTOCOL.md "Traffic limits").

Every store reaches the adapter through one Certificate Issuance Center, from one address, so a
per-address limit means nothing here. Three limits apply instead:

- the **center ceiling**: requests per second over every node (a fixed one-second window counted
  in Redis, so every node of the adapter shares it), `CERTSVC_KIOSK_CENTER_MAX_RPS`;
- **steps per session**: calls naming one session over its life,
  `CERTSVC_KIOSK_SESSION_MAX_STEPS` (a kiosk that loops on a step cannot hold the link);
- **per person**: issuances per person per hour (the use case's limit,
  `CERTSVC_RATE_PERSON_PER_HOUR`).

One Redis round trip per request: the script counts the center's window and, only when the
center admits the request, the session's steps. On a single Redis the same round trip also
reads the session's record for the step (`admit_step`); under Redis Cluster the record lives in
another slot, so it is read after the admission. Keys are an HMAC of the session id (never the
id itself) and expire with their window or their session.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from enum import Enum
from typing import Any

import redis.asyncio as redis_asyncio

from kiosk_adapter._sessions import SESSION_TTL

CENTER_WINDOW_S = 1
#: One hash tag for every traffic key: the admission script touches two of them.
_TAG = "kiosk:{kiosk-traffic}:"

# KEYS[1] the center's window, KEYS[2] the session's steps (unused when ARGV[5] is '0': the call
# names no session). Both carry the hash tag {kiosk-traffic}, so the script stays in one slot
# under Redis Cluster. ARGV[1] center limit, ARGV[2] window TTL, ARGV[3] step limit, ARGV[4] step
# TTL, ARGV[5] '1' when the call names a session.
# Returns 0 admitted, 1 center over its ceiling, 2 session over its steps.
_ADMIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return 1 end
if ARGV[5] == '0' then return 0 end
local s = redis.call('INCR', KEYS[2])
if s == 1 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
if s > tonumber(ARGV[3]) then return 2 end
return 0
"""


# The same, and KEYS[3] (the session's record, another slot under Redis Cluster: single Redis
# only) read in the same round trip. Returns {outcome, the record or false}.
_ADMIT_AND_GET = (
    "local function admit()\n"
    + _ADMIT.strip()
    + "\nend\nlocal outcome = admit()\nreturn {outcome, redis.call('GET', KEYS[3])}\n"
)


class Admission(Enum):
    ADMITTED = 0
    CENTER_OVER_CEILING = 1
    SESSION_OVER_STEPS = 2


class TrafficLimits:
    def __init__(
        self,
        redis: redis_asyncio.Redis | redis_asyncio.RedisCluster,
        *,
        key: bytes,
        center_max_rps: int,
        session_max_steps: int,
    ) -> None:
        self._key = key
        self.center_max_rps = center_max_rps
        self.session_max_steps = session_max_steps
        self._admit = redis.register_script(_ADMIT)
        self._admit_and_get = (
            None
            if isinstance(redis, redis_asyncio.RedisCluster)
            else redis.register_script(_ADMIT_AND_GET)
        )

    def _session_key(self, session_id: str) -> str:
        mac = hmac.new(self._key, b"kiosk-steps:" + session_id.encode(), hashlib.sha256)
        return _TAG + "st:" + mac.hexdigest()[:40]

    def _keys_args(self, session_id: str | None, now: float) -> tuple[list[str], list[Any]]:
        window = int(now // CENTER_WINDOW_S)
        keys = [
            f"{_TAG}c:{window}",
            self._session_key(session_id) if session_id else _TAG + "st:none",
        ]
        args: list[Any] = [
            self.center_max_rps,
            CENTER_WINDOW_S + 1,
            self.session_max_steps,
            int(SESSION_TTL.total_seconds()) + 60,
            "1" if session_id else "0",
        ]
        return keys, args

    async def admit(self, *, session_id: str | None, now: float) -> Admission:
        """Count one request of the center (and one step of `session_id`)."""
        keys, args = self._keys_args(session_id, now)
        outcome = await self._admit(keys=keys, args=args)
        return Admission(int(outcome))

    async def admit_step(
        self, *, session_id: str, record_key: str, now: float
    ) -> tuple[Admission, bytes | None] | None:
        """`admit` for a step of `session_id`, and the value under `record_key` (the session's
        record) read in the same round trip; None under Redis Cluster, where the record is in
        another slot: call `admit` and read it then."""
        if self._admit_and_get is None:
            return None
        keys, args = self._keys_args(session_id, now)
        outcome, raw = await self._admit_and_get(keys=[*keys, record_key], args=args)
        return Admission(int(outcome)), raw if isinstance(raw, bytes) else None

    @staticmethod
    def center_retry_after(now: float) -> int:
        """Seconds until the center's next window opens (at least 1)."""
        return max(1, math.ceil((int(now // CENTER_WINDOW_S) + 1) * CENTER_WINDOW_S - now))
