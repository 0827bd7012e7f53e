"""Prometheus metrics of every certsvc process (the app listener and the kiosk adapter).

No label ever holds personal data: requests are labelled by the route *template*
(`/kiosk/v1/sessions/{session_id}/preview`, never the path a client sent), the method and the
status; issuances by channel, kind and outcome; refusals by their stable code.

Several worker processes (`certsvc serve` with `CERTSVC_WORKERS` > 1) use prometheus_client's
multiprocess mode: `serve` points `PROMETHEUS_MULTIPROC_DIR` at a fresh directory before the
workers start, each worker writes its samples there, and the one operations listener (in the
parent process, see `certsvc.ops`) adds them up when scraped. One process (the demo, `serve`
with one worker) keeps them in memory.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "certsvc_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ("route", "method", "status"),
)
LATENCY = Histogram(
    "certsvc_http_request_duration_seconds",
    "Time from the request to the end of the answer, by route template.",
    ("route", "method"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ISSUANCES = Counter(
    "certsvc_issuances_total",
    "Issuance requests of the use case, by channel, kind and outcome (issued or refused).",
    ("channel", "kind", "outcome"),
)
REFUSALS = Counter(
    "certsvc_issuance_refusals_total",
    "Issuance refusals, by channel and refusal code.",
    ("channel", "code"),
)
PROBLEMS = Counter(
    "certsvc_problems_total",
    "problem+json answers, by code and status (every refusal and error a client saw).",
    ("code", "status"),
)
POOL_CONNECTIONS = Gauge(
    "certsvc_db_pool_connections",
    "Connections of the asyncpg pool: open (idle + in use) and idle.",
    ("state",),
    multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    "certsvc_db_pool_max_connections",
    "CERTSVC_DB_POOL_MAX of each live process, summed.",
    multiprocess_mode="livesum",
)

#: Label of a request that matched no route (its raw path is never a label).
UNMATCHED = "unmatched"


#: Label children already looked up, by their labels: `labels(...)` takes a lock and builds a
#: key on every call, a dictionary hit does not. Bounded: past it, children are looked up again.
_CHILDREN_MAX = 512
_request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_POOL_OPEN = POOL_CONNECTIONS.labels("open")
_POOL_IDLE = POOL_CONNECTIONS.labels("idle")
_pool_seen: list[tuple[int, int, int]] = []


def observe_request(*, scope: Any, status: int, seconds: float) -> None:
    """Count one answered request. The route is the template Litestar matched, else
    `unmatched`."""
    route = scope.get("path_template") or UNMATCHED
    method = str(scope.get("method") or "")
    key = (route, method, status)
    children = _request_children.get(key)
    if children is None:
        children = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method))
        if len(_request_children) < _CHILDREN_MAX:
            _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def observe_pool(pool: Any) -> None:
    """The pool's sizes now (called after each request: cheap, no I/O; the gauges are written
    only when a size changed)."""
    try:
        sizes = (pool.get_size(), pool.get_idle_size(), pool.get_max_size())
    except (AttributeError, RuntimeError):  # a pool closing or not an asyncpg pool
        return
    if _pool_seen and _pool_seen[0] == sizes:
        return
    _POOL_OPEN.set(sizes[0])
    _POOL_IDLE.set(sizes[1])
    POOL_MAX.set(sizes[2])
    _pool_seen[:] = [sizes]


def count_problem(code: str, status: int) -> None:
    PROBLEMS.labels(code, str(status)).inc()


_P = ParamSpec("_P")
_R = TypeVar("_R")


def counts_issuances(func: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
    """Decorates the issuance use case: counts each outcome by the command's channel and kind
    (a `Refused` also by its code)."""

    @functools.wraps(func)
    async def counted(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        outcome = await func(*args, **kwargs)
        command = args[0] if args else kwargs.get("command")
        channel = str(getattr(getattr(command, "channel", None), "value", "unknown"))
        kind = str(getattr(command, "kind", "unknown"))
        code = getattr(outcome, "code", None)
        if code is None:
            ISSUANCES.labels(channel, kind, "issued").inc()
        else:
            ISSUANCES.labels(channel, kind, "refused").inc()
            REFUSALS.labels(channel, str(getattr(code, "value", code))).inc()
        return outcome

    return counted


def exposition_registry() -> CollectorRegistry:
    """The registry to expose: this process's, or every worker's in multiprocess mode."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry
