"""Settings: built from CERTSVC_* variables, strict about names and values, secrets masked."""

from __future__ import annotations

import base64

import pytest

from certsvc.settings import (
    REQUIRED_IN_PRODUCTION,
    SettingsError,
    env_name,
    load_settings,
    settings_to_env,
)

KEY = base64.b64encode(bytes(range(32))).decode()


def _production_env() -> dict[str, str]:
    return {
        "CERTSVC_DATABASE_URL": "postgresql://app:s3cret-pw@db.example/vrs",
        "CERTSVC_REDIS_URL": "redis://:r3dis-pw@cache.example:6379/0",
        "CERTSVC_MASTER_KEY": KEY,
        "CERTSVC_LOOKUP_KEY": KEY,
        "CERTSVC_JLIS_TRUST_FILE": "/etc/certsvc/trust.json",
        "CERTSVC_ATTESTATION_JWKS_FILE": "/etc/certsvc/attestation.json",
        "CERTSVC_ATTESTATION_ISSUER": "https://attest.example",
        "CERTSVC_ATTESTATION_AUDIENCE": "https://vc.example.jp",
        "CERTSVC_APP_IDS": "jp.example.vrs, jp.example.vrs.beta",
        "CERTSVC_SHC_ISSUER": "https://vc.example.jp/issuer",
        "CERTSVC_KEY_DIR": "/var/lib/certsvc/keys",
        "CERTSVC_TERMS_VERSION": "2026-04-01",
        "HOME": "/root",
    }


def test_production_settings_load() -> None:
    settings = load_settings(_production_env())
    assert settings.mode == "production"
    assert settings.master_key == bytes(range(32))
    assert settings.app_ids == ("jp.example.vrs", "jp.example.vrs.beta")
    assert settings.jlis_hierarchies == ("production",)


def test_unknown_variable_is_refused() -> None:
    env = _production_env() | {"CERTSVC_MASTERKEY": KEY}
    with pytest.raises(SettingsError, match="CERTSVC_MASTERKEY"):
        load_settings(env)


def test_unknown_variable_is_refused_in_demo_too() -> None:
    with pytest.raises(SettingsError, match="CERTSVC_PROT"):
        load_settings({"CERTSVC_PROT": "8000"}, mode="demo")


@pytest.mark.parametrize("field", sorted(REQUIRED_IN_PRODUCTION))
def test_production_requires_each_secret_and_store(field: str) -> None:
    env = _production_env()
    del env[env_name(field)]
    with pytest.raises(SettingsError, match=env_name(field)):
        load_settings(env)


def test_demo_needs_no_secrets() -> None:
    settings = load_settings({}, mode="demo")
    assert settings.master_key is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CERTSVC_MASTER_KEY", "not base64!"),
        ("CERTSVC_MASTER_KEY", base64.b64encode(b"short").decode()),
        ("CERTSVC_PORT", "eighty"),
        ("CERTSVC_SHC_ISSUER", "http://vc.example.jp/issuer"),
        ("CERTSVC_SHC_ISSUER", "https://vc.example.jp/issuer/"),
        ("CERTSVC_JLIS_HIERARCHIES", "production,staging"),
        ("CERTSVC_RETENTION_ISSUANCE_YEARS", "3"),
        ("CERTSVC_LOG_LEVEL", "LOUD"),
    ],
)
def test_malformed_values_are_refused_without_echoing_them(name: str, value: str) -> None:
    env = _production_env() | {name: value}
    with pytest.raises(SettingsError, match=name) as info:
        load_settings(env)
    assert value not in str(info.value)


def test_production_refuses_test_and_synthetic_hierarchies() -> None:
    env = _production_env() | {"CERTSVC_JLIS_HIERARCHIES": "production,synthetic"}
    with pytest.raises(SettingsError, match="CERTSVC_JLIS_HIERARCHIES"):
        load_settings(env)
    demo = load_settings({"CERTSVC_JLIS_HIERARCHIES": "synthetic"}, mode="demo")
    assert demo.jlis_hierarchies == ("synthetic",)


def test_repr_masks_passwords_and_keys() -> None:
    text = repr(load_settings(_production_env()))
    assert "s3cret-pw" not in text
    assert "r3dis-pw" not in text
    assert KEY not in text
    assert repr(bytes(range(32))) not in text
    assert "postgresql://app:***@db.example/vrs" in text
    assert str(load_settings(_production_env())) == text


def test_settings_round_trip_through_env() -> None:
    settings = load_settings(_production_env())
    again = load_settings(settings_to_env(settings))
    assert again == settings
