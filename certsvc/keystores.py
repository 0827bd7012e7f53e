"""The signing-key store the settings name: files (`CERTSVC_KEY_DIR`) or a PKCS#11 token."""

from __future__ import annotations

import signing
from certsvc.settings import Settings, SettingsError


def open_key_store(settings: Settings) -> signing.KeyStore:
    """The key store of `settings`, not loaded yet. Raises `SettingsError` naming what is
    missing or unreadable (never the PIN)."""
    if settings.key_store == "pkcs11":
        if (
            settings.pkcs11_module is None
            or settings.pkcs11_token_label is None
            or settings.pkcs11_pin_file is None
        ):
            raise SettingsError(
                "CERTSVC_KEY_STORE=pkcs11 needs CERTSVC_PKCS11_MODULE, "
                "CERTSVC_PKCS11_TOKEN_LABEL and CERTSVC_PKCS11_PIN_FILE"
            )
        try:
            pin = settings.pkcs11_pin_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            raise SettingsError("CERTSVC_PKCS11_PIN_FILE cannot be read") from None
        if not pin:
            raise SettingsError("CERTSVC_PKCS11_PIN_FILE is empty")
        return signing.Pkcs11KeyStore(
            module=settings.pkcs11_module, token_label=settings.pkcs11_token_label, pin=pin
        )
    if settings.key_dir is None:
        raise SettingsError("CERTSVC_KEY_DIR is required")
    return signing.FileKeyStore(settings.key_dir)
