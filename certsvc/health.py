"""Liveness (`GET /health`) and readiness (`GET /ready`, contracts §2)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler

from certsvc.errors import Problem, problem_response
from certsvc.openapi import api_doc

_CHECK_TIMEOUT_S = 1.0


class Status(msgspec.Struct, frozen=True):
    status: str


async def _postgres_answers(state: State) -> bool:
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT_S):
            await state.resources.store.ping()
    except Exception:  # noqa: BLE001 — any failure means "not ready"; the probe reports which
        return False
    return True


async def _redis_answers(state: State) -> bool:
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT_S):
            await state.resources.redis.ping()
    except Exception:  # noqa: BLE001 — any failure means "not ready"; the probe reports which
        return False
    return True


@get(
    "/health",
    include_in_schema=True,
    sync_to_thread=False,
    tags=["operations"],
    security=[],
    opt=api_doc(stores=False),
)
def health_check() -> Status:
    """Liveness: the process answers."""
    return Status(status="ok")


@get("/ready", tags=["operations"], security=[], opt=api_doc(codes=["NOT_READY"]))
async def ready_check(state: State) -> Response[Any]:
    """Readiness: PostgreSQL and Redis both answer within a second."""
    pg_ok, redis_ok = await asyncio.gather(_postgres_answers(state), _redis_answers(state))
    failing = [name for name, ok in (("postgres", pg_ok), ("redis", redis_ok)) if not ok]
    if failing:
        return problem_response(Problem("NOT_READY", extra={"failing": failing}))
    return Response(Status(status="ready"))


def routes() -> list[HTTPRouteHandler]:
    return [health_check, ready_check]
