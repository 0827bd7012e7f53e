"""Settings of the production topology: the key store, the token, a Redis Cluster URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from certsvc.app import open_redis_cluster
from certsvc.keystores import open_key_store
from certsvc.settings import SettingsError, load_settings
from signing import FileKeyStore, Pkcs11KeyStore

_SERVE = {
    "CERTSVC_DATABASE_URL": "postgresql://svc@db/vrs",
    "CERTSVC_REDIS_URL": "redis://10.0.0.1:6379,10.0.0.2:6379",
    "CERTSVC_MASTER_KEY": "A" * 43 + "=",
    "CERTSVC_LOOKUP_KEY": "B" * 43 + "=",
    "CERTSVC_JLIS_TRUST_FILE": "/etc/certsvc/jlis.json",
    "CERTSVC_ATTESTATION_JWKS_FILE": "/etc/certsvc/att.json",
    "CERTSVC_ATTESTATION_ISSUER": "https://att.example",
    "CERTSVC_ATTESTATION_AUDIENCE": "certsvc",
    "CERTSVC_APP_IDS": "jp.example.app",
    "CERTSVC_SHC_ISSUER": "https://vc.example/issuer",
    "CERTSVC_TERMS_VERSION": "1",
}


def test_pkcs11_replaces_the_key_dir_and_needs_its_three_settings(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as missing:
        load_settings({**_SERVE, "CERTSVC_KEY_STORE": "pkcs11"})
    assert "CERTSVC_PKCS11_MODULE" in str(missing.value)
    assert "CERTSVC_PKCS11_PIN_FILE" in str(missing.value)
    assert "CERTSVC_KEY_DIR" not in str(missing.value)
    pin = tmp_path / "pin"
    pin.write_text("123456\n")
    settings = load_settings(
        {
            **_SERVE,
            "CERTSVC_KEY_STORE": "pkcs11",
            "CERTSVC_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
            "CERTSVC_PKCS11_TOKEN_LABEL": "certsvc",
            "CERTSVC_PKCS11_PIN_FILE": str(pin),
        }
    )
    store = open_key_store(settings)
    assert isinstance(store, Pkcs11KeyStore)
    assert "123456" not in repr(store)
    with pytest.raises(SettingsError) as unknown:
        load_settings({**_SERVE, "CERTSVC_KEY_STORE": "hsm", "CERTSVC_KEY_DIR": "/k"})
    assert "CERTSVC_KEY_STORE" in str(unknown.value)
    with pytest.raises(SettingsError) as key_dir:
        load_settings(_SERVE)
    assert "CERTSVC_KEY_DIR" in str(key_dir.value)
    assert isinstance(
        open_key_store(load_settings({**_SERVE, "CERTSVC_KEY_DIR": "/k"})), FileKeyStore
    )


def test_pin_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    settings = load_settings(
        {
            **_SERVE,
            "CERTSVC_KEY_STORE": "pkcs11",
            "CERTSVC_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
            "CERTSVC_PKCS11_TOKEN_LABEL": "certsvc",
            "CERTSVC_PKCS11_PIN_FILE": str(tmp_path / "absent"),
        }
    )
    with pytest.raises(SettingsError) as err:
        open_key_store(settings)
    assert "CERTSVC_PKCS11_PIN_FILE" in str(err.value)


def test_redis_cluster_setting_and_url() -> None:
    settings = load_settings({**_SERVE, "CERTSVC_KEY_DIR": "/k", "CERTSVC_REDIS_CLUSTER": "true"})
    assert settings.redis_cluster is True
    with pytest.raises(SettingsError) as bad_bool:
        load_settings({**_SERVE, "CERTSVC_KEY_DIR": "/k", "CERTSVC_REDIS_CLUSTER": "yes please"})
    assert "CERTSVC_REDIS_CLUSTER" in str(bad_bool.value)
    client = open_redis_cluster("redis://:secret@10.0.0.1:7000,10.0.0.2:7001")
    assert isinstance(client, RedisCluster)
    assert sorted(client.nodes_manager.startup_nodes) == ["10.0.0.1:7000", "10.0.0.2:7001"]
    for bad in ("unix:///run/redis.sock", "redis://nohost", "redis://h:1,:2"):
        with pytest.raises(SettingsError) as err:
            open_redis_cluster(bad)
        assert "CERTSVC_REDIS_URL" in str(err.value)
