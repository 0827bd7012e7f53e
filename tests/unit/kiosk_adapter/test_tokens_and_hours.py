"""Sealed session tokens, service hours, reminders: pure functions of the kiosk adapter."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta

import pytest

from certsvc.channel import ConfigurationError, load_settings
from certsvc.commands import kiosk_sim
from certsvc.issuance import RefusalCode
from kiosk_adapter import DEMO_TLS_DIR, create_kiosk_app, demo_tls_paths, open_at
from kiosk_adapter._sessions import confirm_digest
from kiosk_adapter._texts import CARD_REMINDER, CERTIFICATE_REMINDER, abroad_unavailable_text
from kiosk_adapter._tokens import SessionClaims, TokenInvalid, TokenSealer
from vrs_client import Municipality

_CLAIMS = SessionClaims(
    stage="previewed",
    expires_at=1_800_000_000,
    municipality_code="282022",
    address_number="1234567",
    kinds=("domestic",),
)


def test_token_round_trip_hides_the_address_number() -> None:
    sealer = TokenSealer(secrets.token_bytes(32))
    token = sealer.seal("session-a", _CLAIMS)
    assert "1234567" not in token
    assert sealer.open("session-a", token) == _CLAIMS
    assert sealer.seal("session-a", _CLAIMS) != token  # a fresh nonce each time


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BA"), id="tag"),
        pytest.param(lambda t: "B" + t[1:], id="version"),
        pytest.param(lambda t: t[:20], id="short"),
        pytest.param(lambda t: "!!" + t, id="not-base64url"),
        pytest.param(lambda t: "", id="empty"),
    ],
)
def test_token_spoiled_is_invalid(spoil: object) -> None:
    sealer = TokenSealer(secrets.token_bytes(32))
    token = sealer.seal("session-a", _CLAIMS)
    with pytest.raises(TokenInvalid):
        sealer.open("session-a", spoil(token))  # type: ignore[operator]


def test_token_opens_only_for_its_session_and_key() -> None:
    key = secrets.token_bytes(32)
    token = TokenSealer(key).seal("session-a", _CLAIMS)
    with pytest.raises(TokenInvalid):
        TokenSealer(key).open("session-b", token)
    with pytest.raises(TokenInvalid):
        TokenSealer(secrets.token_bytes(32)).open("session-a", token)


def test_sealer_needs_a_32_byte_key() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenSealer(b"short")


_AMAGASAKI = Municipality(
    code="282022",
    name_ja="尼崎市",
    name_en="Amagasaki City",
    app_enabled=True,
    kiosk_enabled=True,
    counter_enabled=True,
    kiosk_fee_yen=120,
    kiosk_open=time(6, 30),
    kiosk_close=time(23, 0),
)


def _jst(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 27, hour, minute, second, tzinfo=UTC) - timedelta(hours=9)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ((6, 29, 59), False),
        ((6, 30, 0), True),
        ((12, 0, 0), True),
        ((22, 59, 59), True),
        ((23, 0, 0), False),  # closed at exactly 23:00
        ((0, 0, 0), False),
    ],
)
def test_open_at_service_hours_jst(at: tuple[int, int, int], expected: bool) -> None:
    assert open_at(_AMAGASAKI, _jst(*at)) is expected


def test_confirm_digest_binds_key_kind_and_copies() -> None:
    base = confirm_digest("k" * 20, "domestic", 1)
    assert base == confirm_digest("k" * 20, "domestic", 1)
    assert base != confirm_digest("k" * 20, "abroad", 1)
    assert base != confirm_digest("k" * 20, "domestic", 2)
    assert base != confirm_digest("j" * 20, "domestic", 1)


def test_reminders_have_screen_and_voice_in_both_languages() -> None:
    for reminder in (CARD_REMINDER, CERTIFICATE_REMINDER):
        for text in (reminder.screen, reminder.voice):
            assert text.ja
            assert text.en
    reason = abroad_unavailable_text(RefusalCode.PASSPORT_NOT_ON_RECORD)
    assert "旅券" in reason.ja
    assert "passport" in reason.en


def test_simulator_and_demo_tls_agree_on_file_names() -> None:
    assert str(DEMO_TLS_DIR) == kiosk_sim.TLS_DIR
    paths = demo_tls_paths(DEMO_TLS_DIR)
    assert paths.server_ca.name == kiosk_sim.SERVER_CA
    assert paths.center_client_cert.name == kiosk_sim.CENTER_CLIENT_CERT
    assert paths.center_client_key.name == kiosk_sim.CENTER_CLIENT_KEY


def test_the_adapter_is_not_built_without_its_session_key() -> None:
    # No generated secrets: a node with its own random key could not open another's tokens.
    settings = load_settings({}, mode="test")
    with pytest.raises(ConfigurationError, match="CERTSVC_KIOSK_SESSION_KEY"):
        create_kiosk_app(settings)
