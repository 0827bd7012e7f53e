"""Counting what the app sends to Redis: every write to a redis-py connection (one command, or
one pipeline's batch to one server) is one round trip to that server. The handshake of a new
connection is left out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from redis.asyncio.connection import AbstractConnection


class RedisSends:
    def __init__(self) -> None:
        self.batches: list[tuple[str, bytes]] = []
        """(server address, the bytes sent) per write."""

    @property
    def commands(self) -> list[bytes]:
        """The command names of every batch, in order (upper case)."""
        names: list[bytes] = []
        for _, packed in self.batches:
            names.extend(command_names(packed))
        return names

    def per_server(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for server, _ in self.batches:
            counts[server] = counts.get(server, 0) + 1
        return counts


def command_names(packed: bytes) -> list[bytes]:
    """The first word of each RESP array in `packed` (the command's name)."""
    names = []
    lines = packed.split(b"\r\n")
    for i, line in enumerate(lines):
        if line.startswith(b"*") and i + 2 < len(lines) and lines[i + 1].startswith(b"$"):
            names.append(lines[i + 2].upper())
    return names


#: What redis-py sends once when it opens a connection: not part of any request's round trips.
_HANDSHAKE = frozenset({b"HELLO", b"AUTH", b"CLIENT", b"SELECT", b"READONLY", b"PING"})


@contextmanager
def counting_redis_sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisSends]:
    sends = RedisSends()
    original = AbstractConnection.send_packed_command

    async def send_packed_command(
        self: AbstractConnection, command: Any, *args: Any, **kwargs: Any
    ) -> None:
        parts = [command] if isinstance(command, bytes | str | memoryview) else list(command)
        packed = b"".join(bytes(p) if not isinstance(p, str) else p.encode() for p in parts)
        if not set(command_names(packed)) <= _HANDSHAKE:
            sends.batches.append((_address(self), packed))
        await original(self, command, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(AbstractConnection, "send_packed_command", send_packed_command)
        yield sends


def _address(connection: AbstractConnection) -> str:
    host = getattr(connection, "host", None)
    if host is not None:
        return f"{host}:{getattr(connection, 'port', '')}"
    return str(getattr(connection, "path", "unix"))
