"""Settings: one frozen Struct built once at start-up from `CERTSVC_*` variables.

Every field is read from `CERTSVC_<FIELD NAME IN UPPER CASE>`. Unknown or mistyped `CERTSVC_*`
variables are an error, in every mode. Secrets have no defaults: `serve` refuses to start without
them; `demo` and the tests generate what is unset (see `certsvc.demo`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit, urlunsplit

import msgspec

Mode = Literal["production", "demo", "test"]

ENV_PREFIX = "CERTSVC_"

#: Names of fields that hold secrets: masked in repr, required in production.
SECRET_FIELDS = frozenset(
    {"master_key", "master_key_previous", "lookup_key", "kiosk_session_key", "counter_session_key"}
)
#: Fields `serve` requires (no embedded stores, no generated keys in production).
REQUIRED_IN_PRODUCTION = frozenset(
    {
        "database_url",
        "redis_url",
        "master_key",
        "lookup_key",
        "jlis_trust_file",
        "attestation_jwks_file",
        "attestation_issuer",
        "attestation_audience",
        "app_ids",
        "shc_issuer",
        "key_dir",
        "terms_version",
    }
)
HIERARCHIES = frozenset({"production", "test", "synthetic"})
#: What CERTSVC_KEY_STORE=pkcs11 needs instead of CERTSVC_KEY_DIR.
PKCS11_FIELDS = frozenset({"pkcs11_module", "pkcs11_token_label", "pkcs11_pin_file"})


class SettingsError(ValueError):
    """A `CERTSVC_*` variable is unknown, malformed or missing. The message names the variable,
    never its value."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """The service's configuration. See the README's configuration table."""

    mode: Mode = "production"
    """Which rules apply: `production` (serve), `demo` or `test`; set by the command only."""

    database_url: str | None = None
    """PostgreSQL URL (asyncpg). Unset: an embedded server (demo and tests only)."""
    redis_url: str | None = None
    """Redis URL (redis-py). Unset: an embedded server (demo and tests only)."""
    redis_cluster: bool = False
    """Whether CERTSVC_REDIS_URL names a node of a Redis Cluster (redis-py's RedisCluster)."""
    db_pool_min: int = 2
    """Minimum connections in the asyncpg pool."""
    db_pool_max: int = 16
    """Maximum connections in the asyncpg pool."""
    db_acquire_timeout_ms: int = 2000
    """How long a request waits for a pooled PostgreSQL connection before answering 503."""

    master_key: bytes | None = None
    """Base64 of 32 bytes: wraps the per-municipality data keys (AES-256-GCM). Secret."""
    master_key_previous: bytes | None = None
    """Base64 of 32 bytes: the master key being replaced, during a master-key rotation only (data
    keys wrapped under either key open; new ones are wrapped under `CERTSVC_MASTER_KEY`). Secret."""
    lookup_key: bytes | None = None
    """Base64 of 32 bytes: HMAC key for My Number lookups and Redis keys. Secret."""

    jlis_trust_file: Path | None = None
    """JSON file of pinned J-LIS trust anchors (contracts §3)."""
    jlis_hierarchies: tuple[str, ...] = ("production",)
    """Accepted J-LIS hierarchies, comma-separated: production, test, synthetic."""

    attestation_jwks_file: Path | None = None
    """JWKS of the app attestation authority."""
    attestation_issuer: str | None = None
    """Expected `iss` of attestation tokens."""
    attestation_audience: str | None = None
    """Expected `aud` of attestation tokens (this service)."""
    app_ids: tuple[str, ...] = ()
    """Allowed app ids, comma-separated."""
    app_min_version: str = "1.0.0"
    """Minimum accepted app version (dotted numbers)."""

    terms_version: str | None = None
    """Version of the terms of use the resident must have agreed to."""

    shc_issuer: str | None = None
    """SMART Health Card `iss`: an https URL without a trailing slash."""
    key_dir: Path | None = None
    """Directory of signing keys (SHC keys, VDS-NC CSCA and barcode signer, CRLs)."""
    key_store: str = "file"
    """Where the signing keys live: `file` (CERTSVC_KEY_DIR) or `pkcs11` (an HSM token)."""
    pkcs11_module: Path | None = None
    """The HSM's PKCS#11 library (a `.so`), for CERTSVC_KEY_STORE=pkcs11."""
    pkcs11_token_label: str | None = None
    """Label of the PKCS#11 token holding the signing keys."""
    pkcs11_pin_file: Path | None = None
    """File holding the token's user PIN (one line; keep it 0600)."""
    key_refresh_seconds: int = 10
    """How often a running process looks for signing keys added by `certsvc keys rotate`."""
    vaccination_authority: str = "MHLW_Gov_of_JAPAN"
    """Administering authority written in SHC `performer` and VDS-NC `adm` (≤ 20 ASCII)."""

    host: str = "127.0.0.1"
    """Listen address of the app/counter/public API."""
    port: int = 8000
    """Listen port of the app/counter/public API (0: any free port)."""
    workers: int = 1
    """Worker processes of `certsvc serve`."""

    kiosk_port: int = 8443
    """Listen port of the kiosk adapter (LGWAN side; 0: any free port)."""
    kiosk_tls_cert: Path | None = None
    """Server certificate (PEM) of the kiosk adapter."""
    kiosk_tls_key: Path | None = None
    """Private key (PEM) of the kiosk adapter's server certificate."""
    kiosk_client_ca: Path | None = None
    """CA certificate (PEM) of the Certificate Issuance Center's client certificates."""
    kiosk_center_name: str = "J-LIS Certificate Issuance Center"
    """Name recorded in the audit log when the server does not pass the client certificate."""
    kiosk_session_key: bytes | None = None
    """Base64 of 32 bytes: AES-GCM key sealing kiosk session tokens. Secret; generated if unset."""

    kiosk_center_max_rps: int = 50
    """Kiosk requests per second from the Certificate Issuance Center, over every node."""
    kiosk_session_max_steps: int = 20
    """Calls naming one kiosk session over its life (preview retries, print retries...)."""
    counter_host: str = "127.0.0.1"
    """Listen address of the city counter's staff pages (the city's internal network)."""
    counter_port: int = 8081
    """Listen port of the city counter's staff pages (0: any free port)."""
    counter_session_key: bytes | None = None
    """Base64 of 32 bytes: AES-GCM key sealing the counter's visit tokens. Secret; required by
    `serve-counter` (the demo generates it)."""
    counter_upload_max_bytes: int = 10 * 1024 * 1024
    """Largest file the counter accepts (a card bundle, a passport scan), in bytes."""

    rate_person_per_hour: int = 10
    """Issuances per person (My Number HMAC) per hour."""
    rate_client_per_minute: int = 60
    """Certificate requests per client address per minute."""
    max_body_bytes: int = 65536
    """Largest accepted request body, in bytes."""
    http_concurrency_limit: int = 1000
    """Connections or requests in flight per process beyond which a request gets 503."""

    retention_vaccination_years: int = 5
    """Years vaccination records are kept (never less than 5)."""
    retention_issuance_years: int = 7
    """Years issuance and audit records are kept (never less than 7)."""

    log_level: str = "INFO"
    """Log level: DEBUG, INFO, WARNING or ERROR."""

    ops_host: str = "127.0.0.1"
    """Listen address of the operations listener (/metrics, /health, /ready): keep it private."""
    ops_port: int = 9180
    """Listen port of the operations listener of `serve` and `serve-kiosk` (0: any free port)."""

    def __repr__(self) -> str:
        parts = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if name in SECRET_FIELDS and value is not None:
                shown = "'***'"
            elif name.endswith("_url") and isinstance(value, str):
                shown = repr(mask_url(value))
            else:
                shown = repr(value)
            parts.append(f"{name}={shown}")
        return f"Settings({', '.join(parts)})"

    __str__ = __repr__


def mask_url(url: str) -> str:
    """The URL with any password replaced by `***` (for logs and the demo banner)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def database_url_for(url: str, database: str) -> str:
    """`url` pointing at another database on the same PostgreSQL server."""
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    return ENV_PREFIX + field.upper()


# `mode` is chosen by the command, never by the environment.
_ENV_FIELDS = tuple(f for f in Settings.__struct_fields__ if f != "mode")
_HINTS = get_type_hints(Settings)


def _parse(field: str, raw: str) -> Any:
    hint = _HINTS[field]
    args = [a for a in get_args(hint) if a is not type(None)]
    target = (
        args[0] if get_origin(hint) is not None and args and get_origin(hint) is not tuple else hint
    )
    name = env_name(field)
    if target is bytes:
        try:
            value = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise SettingsError(f"{name} is not valid base64") from None
        if len(value) != 32:
            raise SettingsError(f"{name} must be base64 of exactly 32 bytes")
        return value
    if target is bool:
        if raw.strip().lower() not in {"true", "false", "1", "0"}:
            raise SettingsError(f"{name} must be true or false")
        return raw.strip().lower() in {"true", "1"}
    if target is int:
        if not re.fullmatch(r"-?\d{1,9}", raw.strip()):
            raise SettingsError(f"{name} must be an integer")
        return int(raw)
    if target is Path:
        if not raw.strip():
            raise SettingsError(f"{name} must not be empty")
        return Path(raw)
    if get_origin(hint) is tuple:
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    if not raw.strip():
        raise SettingsError(f"{name} must not be empty")
    return raw


def _validate(settings: Settings, required: Collection[str]) -> None:
    if settings.key_store not in {"file", "pkcs11"}:
        raise SettingsError("CERTSVC_KEY_STORE must be file or pkcs11")
    if settings.key_store == "pkcs11" and "key_dir" in required:
        # the token replaces the key directory
        required = {*(set(required) - {"key_dir"}), *PKCS11_FIELDS}
    if settings.mode == "production":
        missing = [env_name(f) for f in sorted(required) if getattr(settings, f) in (None, ())]
        if missing:
            raise SettingsError("missing required settings: " + ", ".join(missing))
    unknown = set(settings.jlis_hierarchies) - HIERARCHIES
    if unknown or not settings.jlis_hierarchies:
        raise SettingsError("CERTSVC_JLIS_HIERARCHIES must list production, test and/or synthetic")
    # A production process that verifies cards (serve) accepts only the production hierarchy;
    # admin commands that verify no card (keys, verify, import) are not bound by it.
    if (
        settings.mode == "production"
        and "jlis_trust_file" in required
        and set(settings.jlis_hierarchies) != {"production"}
    ):
        raise SettingsError(
            "CERTSVC_JLIS_HIERARCHIES: production accepts only the production J-LIS hierarchy"
        )
    if settings.shc_issuer is not None and (
        not settings.shc_issuer.startswith("https://") or settings.shc_issuer.endswith("/")
    ):
        raise SettingsError("CERTSVC_SHC_ISSUER must be an https URL without a trailing slash")
    if settings.retention_vaccination_years < 5:
        raise SettingsError("CERTSVC_RETENTION_VACCINATION_YEARS must be at least 5")
    if settings.retention_issuance_years < 7:
        raise SettingsError("CERTSVC_RETENTION_ISSUANCE_YEARS must be at least 7")
    if settings.log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError("CERTSVC_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
    if not 1 <= settings.key_refresh_seconds <= 3600:
        raise SettingsError("CERTSVC_KEY_REFRESH_SECONDS must be between 1 and 3600")
    if settings.master_key_previous is not None and settings.master_key_previous == (
        settings.master_key
    ):
        raise SettingsError("CERTSVC_MASTER_KEY_PREVIOUS must differ from CERTSVC_MASTER_KEY")
    if not 1 <= settings.workers <= 64:
        raise SettingsError("CERTSVC_WORKERS must be between 1 and 64")
    if len(settings.vaccination_authority) > 20 or not settings.vaccination_authority.isascii():
        raise SettingsError("CERTSVC_VACCINATION_AUTHORITY must be at most 20 ASCII characters")
    if settings.kiosk_center_max_rps < 1:
        raise SettingsError("CERTSVC_KIOSK_CENTER_MAX_RPS must be at least 1")
    if settings.kiosk_session_max_steps < 4:
        raise SettingsError("CERTSVC_KIOSK_SESSION_MAX_STEPS must be at least 4 (one session)")
    if not 1 <= settings.http_concurrency_limit <= 100_000:
        raise SettingsError("CERTSVC_HTTP_CONCURRENCY_LIMIT must be between 1 and 100000")
    if not 1024 <= settings.counter_upload_max_bytes <= 50 * 1024 * 1024:
        raise SettingsError("CERTSVC_COUNTER_UPLOAD_MAX_BYTES must be between 1024 and 52428800")
    if settings.database_url is not None and urlsplit(settings.database_url).scheme not in {
        "postgresql",
        "postgres",
    }:
        raise SettingsError(
            "CERTSVC_DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host/db)"
        )
    if settings.redis_url is not None and urlsplit(settings.redis_url).scheme not in {
        "redis",
        "rediss",
        "unix",
    }:
        raise SettingsError("CERTSVC_REDIS_URL must be a Redis URL (redis://host:6379/0)")
    if settings.db_pool_max < 1:
        raise SettingsError("CERTSVC_DB_POOL_MAX must be at least 1")
    if not 0 <= settings.db_pool_min <= settings.db_pool_max:
        raise SettingsError(
            "CERTSVC_DB_POOL_MIN must be between 0 and CERTSVC_DB_POOL_MAX "
            f"({settings.db_pool_max})"
        )
    for port_field in ("port", "kiosk_port", "ops_port", "counter_port"):
        if not 0 <= getattr(settings, port_field) <= 65535:
            raise SettingsError(f"{env_name(port_field)} must be a TCP port")


def load_settings(
    environ: Mapping[str, str],
    *,
    mode: Mode = "production",
    required: Collection[str] = REQUIRED_IN_PRODUCTION,
) -> Settings:
    """Build and validate the settings from `environ` (normally `os.environ`).

    Raises `SettingsError` naming the variable for any unknown `CERTSVC_*` variable, a value that
    does not parse, or (in production) a missing one of `required` (by default everything `serve`
    needs; an admin command such as `certsvc keys` passes just what it uses).
    """
    known = {env_name(f): f for f in _ENV_FIELDS}
    unknown = sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in known)
    if unknown:
        raise SettingsError("unknown settings: " + ", ".join(unknown))
    values: dict[str, Any] = {"mode": mode}
    for name, field in known.items():
        if name in environ:
            values[field] = _parse(field, environ[name])
    settings = Settings(**values)
    _validate(settings, required)
    return settings


def settings_to_env(settings: Settings, *, include_defaults: bool = False) -> dict[str, str]:
    """The `CERTSVC_*` variables that reproduce `settings` (secrets included: for `demo.env`).
    Settings at their default are left out unless `include_defaults`."""
    out: dict[str, str] = {}
    defaults = Settings()
    for field in _ENV_FIELDS:
        value = getattr(settings, field)
        if value is None or (not include_defaults and value == getattr(defaults, field)):
            continue
        if isinstance(value, bytes):
            out[env_name(field)] = base64.b64encode(value).decode()
        elif isinstance(value, tuple):
            out[env_name(field)] = ",".join(value)
        else:
            out[env_name(field)] = str(value)
    return out
