"""The app issuance's Redis side and attestation check, per call, beside their alternatives.

Run: .venv/bin/python -m bench.bench_redis [--calls 4000] [--rounds 3]

On an embedded Redis (unix socket, as `certsvc demo` and `bench_app` run it), with uvloop:

1. Sequential calls, redis-py with `open_redis`'s options, with the hiredis parser (when
   installed), with its pure-Python parser, and with the default parser but no `socket_timeout`
   (redis-py then skips the timeout it wraps around every socket write and read), side by side
   (alternating rounds, best of each): µs of this process's CPU and of wall time per call
   for one GET (the floor of a round trip), the issuance's Redis side as it was (a client
   limiter script, the consume script, the `jti` SET NX, the person limiter script: four round
   trips) and as it is (one pipeline of the client counter, consume and `jti` claim, then the
   person counter's pipeline: two), and each step alone.
2. 64 concurrent callers of the first round trip: the client's CPU µs per round trip and round
   trips per second with redis-py's default pool (up to 256 connections, as `open_redis`
   builds it) beside a pool held to 8 connections and to 2 (callers queue for a connection),
   and the default pool without `socket_timeout`.
3. µs per attestation check: `verify_attestation` beside the second parse it no longer does
   (`PyJWS.decode_complete` of the same token), pyjwt's ES256 verification alone and
   cryptography's ECDSA verification alone (the floor).

Figures only, no assertions. What they showed on a shared 2-core machine (2026-12-01, load 4–9,
so only the ratios within one run count): the two round trips cost the client 25–30 % less CPU
than the four; hiredis made no difference for these small replies (±10 %, both ways), so the
service does not depend on it; a pool held to fewer connections costs more CPU, not less (the
callers queue); redis-py's `socket_timeout` costs ≈ 25 µs of client CPU per round trip (it
wraps every write in `asyncio.wait_for`, a task on Python 3.11, and every read in a timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import msgspec
import redis.asyncio as redis_asyncio
import uvloop
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from redis._parsers import _AsyncHiredisParser, _AsyncRESP2Parser
from redis.utils import HIREDIS_AVAILABLE

from certsvc.challenges import ChallengeStore, ConsumeOutcome, OnceRegistry
from certsvc.embedded import EmbeddedRedis
from certsvc.rate_limits import RateLimiter
from certsvc.redis_rounds import run_pipeline
from signing import AttestationKeySet, verify_attestation
from signing.synthetic import SyntheticAttestationAuthority

# The scripts of the four round trips before (certsvc/rate_limits.py and challenges.py).
_OLD_INCR = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
_OLD_CONSUME = """
local v = redis.call('GETDEL', KEYS[1])
if v then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
  return v
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'USED' end
return false
"""

Op = Callable[[], Awaitable[object]]


class _Paths:
    """The issuance's Redis steps on one client, old and new."""

    def __init__(self, client: redis_asyncio.Redis) -> None:
        key = secrets.token_bytes(32)
        self.client = client
        self.old_incr = client.register_script(_OLD_INCR)
        self.old_consume = client.register_script(_OLD_CONSUME)
        self.client_limiter = RateLimiter(client, key=key, name="client", limit=10**9, window_s=60)
        self.person_limiter = RateLimiter(
            client, key=key, name="person", limit=10**9, window_s=3600
        )
        self.challenges = ChallengeStore(client, key=key)
        self.once = OnceRegistry(client, key=key)
        self.now = datetime.now(UTC)
        self.n = 0

    async def get(self) -> object:
        return await self.client.get("bench:floor")

    async def old_client_limit(self) -> object:
        return await self.old_incr(keys=["rl:client:bench"], args=[61])

    async def old_consume_step(self) -> object:
        self.n += 1
        return await self.old_consume(
            keys=[f"ch:{{b{self.n}}}:open", f"ch:{{b{self.n}}}:used"], args=[600]
        )

    async def old_jti(self) -> object:
        self.n += 1
        return await self.client.set(f"jti:b{self.n}", b"1", nx=True, ex=540)

    async def old_person_limit(self) -> object:
        return await self.old_incr(keys=["rl:person:bench"], args=[3601])

    async def old_issuance(self) -> object:
        await self.old_client_limit()
        await self.old_consume_step()
        await self.old_jti()
        return await self.old_person_limit()

    async def new_round_trip_1(self) -> object:
        self.n += 1
        pipe = self.client.pipeline(transaction=False)
        hit = self.client_limiter.queue_hit(pipe, 0, b"127.0.0.1")
        pending = self.challenges.queue_consume(pipe, 1, f"b{self.n}", "nonce", now=self.now)
        self.once.queue_claim(pipe, f"b{self.n}", ttl_s=540)
        results = await run_pipeline(pipe)
        await hit.wait(results)
        if not isinstance(pending, ConsumeOutcome):
            await pending.outcome(results)
        return results

    async def new_person_limit(self) -> object:
        return await self.person_limiter.hit(b"person")

    async def new_issuance(self) -> object:
        await self.new_round_trip_1()
        return await self.new_person_limit()


_SEQUENTIAL: list[tuple[str, str]] = [
    ("GET (one round trip, the floor)", "get"),
    ("issuance's Redis side before: 4 round trips", "old_issuance"),
    ("issuance's Redis side now: 2 round trips", "new_issuance"),
    ("  before: client limiter script", "old_client_limit"),
    ("  before: consume script", "old_consume_step"),
    ("  before: jti SET NX", "old_jti"),
    ("  now: counter + consume + jti pipeline", "new_round_trip_1"),
    ("  now: person counter, one EVALSHA", "new_person_limit"),
]


async def _per_call(op: Op, calls: int) -> tuple[float, float]:
    """(wall µs, CPU µs of this process) per call of `op`, after a warm-up."""
    for _ in range(200):
        await op()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        await op()
    return (
        (time.perf_counter() - wall) / calls * 1e6,
        (time.process_time() - cpu) / calls * 1e6,
    )


#: `open_redis`'s options for one server (certsvc/app.py).
_PRODUCTION: dict[str, Any] = {
    "socket_connect_timeout": 1.0,
    "socket_timeout": 2.0,
    "retry_on_timeout": False,
    "max_connections": 256,
}


def _clients() -> dict[str, dict[str, Any]]:
    """The clients compared: hiredis only where it is installed (`pip install hiredis`; the
    service does not depend on it, see the module docstring)."""
    clients: dict[str, dict[str, Any]] = {}
    if HIREDIS_AVAILABLE:
        clients["hiredis"] = {**_PRODUCTION, "parser_class": _AsyncHiredisParser}
    clients["pure Python"] = {**_PRODUCTION, "parser_class": _AsyncRESP2Parser}
    clients["no socket_timeout"] = {**_PRODUCTION, "socket_timeout": None}
    return clients


async def _sequential(url: str, calls: int, rounds: int) -> None:
    if not HIREDIS_AVAILABLE:
        print("   hiredis is not installed: its column is left out (pip install hiredis)")
    clients = {name: redis_asyncio.Redis.from_url(url, **opts) for name, opts in _clients().items()}
    paths = {name: _Paths(client) for name, client in clients.items()}
    best: dict[tuple[str, str], tuple[float, float]] = {}
    try:
        for _ in range(rounds):
            for _label, method in _SEQUENTIAL:
                for name in clients:  # interleaved: every client sees the same machine
                    result = await _per_call(getattr(paths[name], method), calls)
                    old = best.get((name, method))
                    best[(name, method)] = result if old is None else min(old, result)
    finally:
        for client in clients.values():
            await client.aclose()
    print(
        f"1. sequential calls, best of {rounds} rounds of {calls}: client CPU µs per call"
        " (wall µs in brackets); open_redis's options unless named"
    )
    print(f"   {'':44}" + "".join(f" {name:>27}" for name in clients))
    for label, method in _SEQUENTIAL:
        cells = "".join(
            f" {best[(name, method)][1]:16.1f} ({best[(name, method)][0]:7.1f})" for name in clients
        )
        print(f"   {label:44}{cells}")


async def _concurrent(url: str, calls: int, rounds: int) -> None:
    callers = 64
    pools: dict[str, Callable[[], redis_asyncio.ConnectionPool]] = {
        "pool of up to 256 (open_redis)": lambda: redis_asyncio.ConnectionPool.from_url(
            url, **_PRODUCTION
        ),
        "pool held to 8, callers wait": lambda: redis_asyncio.BlockingConnectionPool.from_url(
            url, **{**_PRODUCTION, "max_connections": 8}, timeout=5
        ),
        "pool held to 2, callers wait": lambda: redis_asyncio.BlockingConnectionPool.from_url(
            url, **{**_PRODUCTION, "max_connections": 2}, timeout=5
        ),
        "pool of up to 256, no socket_timeout": lambda: redis_asyncio.ConnectionPool.from_url(
            url, **{**_PRODUCTION, "socket_timeout": None}
        ),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in pools}
    for _ in range(rounds):
        for name, make in pools.items():
            client = redis_asyncio.Redis(connection_pool=make())
            paths = _Paths(client)
            per_caller = max(1, calls // callers)

            async def caller(paths: _Paths = paths, per_caller: int = per_caller) -> None:
                for _ in range(per_caller):
                    await paths.new_round_trip_1()

            await asyncio.gather(*(caller() for _ in range(callers)))  # warm-up, connects
            wall, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(caller() for _ in range(callers)))
            elapsed = time.perf_counter() - wall
            done = per_caller * callers
            results[name].append(((time.process_time() - cpu) / done * 1e6, done / elapsed))
            await client.aclose()
    print(f"2. {callers} concurrent callers of the first round trip, best of {rounds}")
    print(f"   {'':46} {'CPU µs/call':>12} {'calls/s':>9}")
    for name, figures in results.items():
        cpu_us = min(f[0] for f in figures)
        rate = max(f[1] for f in figures)
        print(f"   {name:46} {cpu_us:12.1f} {rate:9.0f}")


def _rate_us(fn: Callable[[], object], calls: int) -> float:
    for _ in range(100):
        fn()
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def _attestation(calls: int) -> None:
    issuer, audience, app_id = "https://attest.bench.invalid", "https://certsvc.bench", "app"
    authority = SyntheticAttestationAuthority.create(issuer=issuer)
    keys = AttestationKeySet.from_jwks(authority.jwks())
    now = datetime.now(UTC)
    nonce = secrets.token_urlsafe(32)
    token = authority.mint(
        nonce=nonce, audience=audience, app_id=app_id, app_version="2.0.0", now=now
    )
    key = next(iter(keys.keys.values()))
    jws = jwt.PyJWS(algorithms=["ES256"])
    es256 = jwt.algorithms.get_default_algorithms()["ES256"]
    signing_input, _, signature_b64 = token.encode().rpartition(b".")
    signature = jwt.utils.base64url_decode(signature_b64)
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )

    def full() -> object:
        return verify_attestation(
            token,
            jwks=keys,
            issuer=issuer,
            audience=audience,
            nonce=nonce,
            app_ids={app_id},
            min_version="1.0",
            now=now,
        )

    def second_parse() -> object:
        return msgspec.json.decode(
            jws.decode_complete(token, key=key, algorithms=["ES256"])["payload"]
        )

    def es256_only() -> object:
        return es256.verify(signing_input, key, signature)

    def ecdsa_only() -> None:
        key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))

    full_us = _rate_us(full, calls)
    print("3. attestation check (µs per call, median of 5 runs)")
    print(f"   verify_attestation (this code)                 {full_us:8.1f}")
    print(f"   PyJWS.decode_complete + payload decode         {_rate_us(second_parse, calls):8.1f}")
    print(f"   pyjwt ES256 verify alone                       {_rate_us(es256_only, calls):8.1f}")
    print(f"   cryptography ECDSA P-256 verify (the floor)    {_rate_us(ecdsa_only, calls):8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_redis")
    parser.add_argument("--calls", type=int, default=4000, help="calls per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    args = parser.parse_args()
    if args.calls < 100 or args.rounds < 1:
        parser.error("--calls at least 100, --rounds at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as root:
        server = EmbeddedRedis(Path(root))
        server.start()
        try:
            print(f"Redis: embedded, unix socket; pid {os.getpid()} is the client")
            uvloop.run(_sequential(server.url, args.calls, args.rounds))
            uvloop.run(_concurrent(server.url, args.calls * 4, args.rounds))
        finally:
            server.stop()
    _attestation(max(200, args.calls // 4))


if __name__ == "__main__":
    main()
