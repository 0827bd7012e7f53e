"""What the HTTP handlers reach through the app state, built once per process in the lifespan."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

import signing
from certsvc.challenges import ChallengeStore, OnceRegistry
from certsvc.issuance import IssuanceServices
from certsvc.keystores import open_key_store
from certsvc.rate_limits import RateLimiter
from certsvc.redis_rounds import RedisClient
from certsvc.settings import Settings, SettingsError
from vrs_client import VrsStore

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class ConfigurationError(RuntimeError):
    """A setting the service needs at start is missing or unusable (named, never its value)."""


class ChannelResources:
    """What every channel needs: settings, store clients, keys, J-LIS trust and the issuance
    services built on them. `person_limit` adds the per-person limiter (an HMAC of the My
    Number in Redis) to the use case."""

    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        redis: RedisClient,
        clock: Clock = system_clock,
        person_limit: bool = True,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.redis = redis
        self.clock = clock
        if settings.master_key is None or settings.lookup_key is None:
            raise ConfigurationError("CERTSVC_MASTER_KEY and CERTSVC_LOOKUP_KEY are required")
        if settings.shc_issuer is None:
            raise ConfigurationError("CERTSVC_SHC_ISSUER is required")
        if settings.jlis_trust_file is None:
            raise ConfigurationError("CERTSVC_JLIS_TRUST_FILE is required")
        self.lookup_key = settings.lookup_key
        self.store = VrsStore(
            pool,
            master_key=settings.master_key,
            lookup_key=self.lookup_key,
            previous_master_key=settings.master_key_previous,
            acquire_timeout_s=settings.db_acquire_timeout_ms / 1000,
        )
        try:
            self.keys = open_key_store(settings)
        except SettingsError as exc:
            raise ConfigurationError(str(exc)) from None
        self.keys.load()
        self.trust = signing.load_trust_store(
            settings.jlis_trust_file, hierarchies=settings.jlis_hierarchies
        )
        self.person_limiter: RateLimiter | None = None
        if person_limit:
            self.person_limiter = RateLimiter(
                redis,
                key=self.lookup_key,
                name="person",
                limit=settings.rate_person_per_hour,
                window_s=3600,
            )
        self.services = IssuanceServices(
            store=self.store,
            keys=self.keys,
            trust=self.trust,
            shc_issuer=settings.shc_issuer,
            vaccination_authority=settings.vaccination_authority,
            lookup_key=self.lookup_key,
            person_limiter=None if self.person_limiter is None else self.person_limiter.hit,
            mrz_test_mode=settings.mode == "test",
            # Tests change municipalities between requests and expect to see it at once.
            municipality_ttl_s=0.0 if settings.mode == "test" else 30.0,
        )


class Resources(ChannelResources):
    """The app listener's resources: the channel's, plus the attestation authority, the
    single-use challenges and `jti`s, and the per-client limiter."""

    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        redis: RedisClient,
        clock: Clock = system_clock,
        person_limit: bool = True,
    ) -> None:
        super().__init__(
            settings=settings, pool=pool, redis=redis, clock=clock, person_limit=person_limit
        )
        self.attestation_keys: signing.AttestationKeySet | None = None
        if settings.attestation_jwks_file is not None:
            try:
                jwks = json.loads(settings.attestation_jwks_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise ConfigurationError(
                    "CERTSVC_ATTESTATION_JWKS_FILE is not a readable JWKS"
                ) from None
            self.attestation_keys = signing.AttestationKeySet.from_jwks(jwks)
        self.challenges = ChallengeStore(redis, key=self.lookup_key)
        self.jti_once = OnceRegistry(redis, key=self.lookup_key)
        self.client_limiter = RateLimiter(
            redis,
            key=self.lookup_key,
            name="client",
            limit=settings.rate_client_per_minute,
            window_s=60,
        )
