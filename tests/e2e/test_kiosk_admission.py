"""The kiosk's admission with the session's record in one Redis round trip (`admit_step`):
the same counting as `admit`, the record exactly as `SessionStore.get` reads it."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import msgspec
import redis.asyncio as redis_asyncio

from kiosk_adapter._limits import Admission, TrafficLimits
from kiosk_adapter._sessions import SessionStore, State

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def _limits(redis: redis_asyncio.Redis, key: bytes, *, rps: int, steps: int) -> TrafficLimits:
    return TrafficLimits(redis, key=key, center_max_rps=rps, session_max_steps=steps)


async def test_admit_step_reads_the_record_and_counts_a_step(
    redis_client: redis_asyncio.Redis,
) -> None:
    key = os.urandom(32)
    sessions = SessionStore(redis_client, key=key)
    limits = _limits(redis_client, key, rps=1000, steps=3)
    created = await sessions.create("session-a", now=NOW)
    record_key = sessions.redis_key("session-a")

    first = await limits.admit_step(session_id="session-a", record_key=record_key, now=1.5)
    assert first is not None
    outcome, raw = first
    assert outcome is Admission.ADMITTED
    assert sessions.decode(raw) == created == await sessions.get("session-a")

    # steps 2 and 3 pass, the 4th is over the limit, and the record still comes with it
    for _ in range(2):
        again = await limits.admit_step(session_id="session-a", record_key=record_key, now=1.5)
        assert again is not None
        assert again[0] is Admission.ADMITTED
    over = await limits.admit_step(session_id="session-a", record_key=record_key, now=1.5)
    assert over is not None
    assert over[0] is Admission.SESSION_OVER_STEPS
    assert sessions.decode(over[1]) == created


async def test_admit_step_of_an_unknown_session_reads_nothing(
    redis_client: redis_asyncio.Redis,
) -> None:
    key = os.urandom(32)
    sessions = SessionStore(redis_client, key=key)
    limits = _limits(redis_client, key, rps=1000, steps=3)
    both = await limits.admit_step(
        session_id="never-started", record_key=sessions.redis_key("never-started"), now=7.2
    )
    assert both == (Admission.ADMITTED, None)


async def test_admit_step_is_refused_by_the_center_ceiling_before_the_step_counts(
    redis_client: redis_asyncio.Redis,
) -> None:
    key = os.urandom(32)
    sessions = SessionStore(redis_client, key=key)
    # a window of its own: the center's counter is shared by every test on this Redis
    now = 10_000_000 + int.from_bytes(os.urandom(3), "big") + 0.25
    limits = _limits(redis_client, key, rps=1, steps=1)
    await sessions.create("session-b", now=NOW)
    record_key = sessions.redis_key("session-b")
    assert await limits.admit(session_id=None, now=now) is Admission.ADMITTED
    refused = await limits.admit_step(session_id="session-b", record_key=record_key, now=now)
    assert refused is not None
    assert refused[0] is Admission.CENTER_OVER_CEILING
    # the refused call counted no step: the next window admits the session's one step
    later = await limits.admit_step(session_id="session-b", record_key=record_key, now=now + 1)
    assert later is not None
    assert later[0] is Admission.ADMITTED
    record = sessions.decode(later[1])
    assert record is not None
    assert record.state is State.STARTED
    assert msgspec.json.encode(record) == await redis_client.get(record_key)
