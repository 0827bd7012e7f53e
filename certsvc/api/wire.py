"""Bodies of the app and public APIs (contracts §1–2), the decoding of binary fields, and the
answer of the hot route encoded up front (`ReadyAnswer`)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from litestar import Response
from litestar.serialization import default_serializer
from litestar.types import ASGIApp, Receive, Scope, Send

import signing
from certsvc.errors import Problem
from certsvc.issuance import Issued

JSON_MEDIA_TYPE = "application/json"
NO_STORE = (b"cache-control", b"no-store")

#: The encoder Litestar would use for a returned Struct (its default serializer for the types
#: msgspec does not know), so a `ReadyAnswer` body is byte for byte what Litestar would send.
_encoder = msgspec.json.Encoder(enc_hook=default_serializer)


def encode_json(value: Any) -> bytes:
    return _encoder.encode(value)


class _Sent:
    """The ASGI app of an answer whose status, header list and body exist: two messages."""

    __slots__ = ("_body", "_start")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self._start = {"type": "http.response.start", "status": status, "headers": headers}
        self._body = {"type": "http.response.body", "body": body, "more_body": False}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(self._start)  # type: ignore[arg-type]
        await send(self._body)  # type: ignore[arg-type]


class ReadyAnswer(Response[bytes]):
    """An answer whose body is already encoded (`encode_json`): Litestar sends it as it is, with
    its header list built once here, instead of looking up a serializer, merging header mappings
    and encoding them per request. When the route's layers add headers, cookies or a background
    task, or the request is a HEAD, Litestar's own path builds it (same bytes)."""

    __slots__ = ("_raw_headers",)

    def __init__(
        self,
        body: bytes,
        *,
        status_code: int,
        media_type: str = JSON_MEDIA_TYPE,
        headers: Sequence[tuple[bytes, bytes]] = (NO_STORE,),
    ) -> None:
        # Response's own attributes, as its __init__ would set them for these arguments (its
        # generic Mapping checks cost more than the rest of this answer).
        self.content = body
        self.background = None
        self.cookies = []
        self.encoding = "utf-8"
        self.headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in headers}
        self.media_type = media_type
        self.status_code = status_code
        self.response_type_encoders = {}
        self._raw_headers = [
            (b"content-type", media_type.encode("latin-1")),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ]

    def to_asgi_response(  # type: ignore[override]
        self,
        app: Any = None,
        request: Any = None,
        *,
        background: Any = None,
        cookies: Any = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        **others: Any,
    ) -> ASGIApp:
        if background is not None or cookies or headers or is_head_response or self.cookies:
            return super().to_asgi_response(
                app,
                request,
                background=background,
                cookies=cookies,
                headers=headers,
                is_head_response=is_head_response,
                **others,
            )
        return _Sent(self.status_code or 200, self._raw_headers, self.content)


class CardFiles(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The raw text-AP files and the challenge signature, standard base64 each (contracts §1;
    the kiosk protocol sends the same member)."""

    ef0001: str
    ef0002: str
    ef0003: str
    ef0004: str
    ef0007: str
    challenge_signature: str


def card_evidence(files: CardFiles) -> signing.CardEvidence:
    """The card files decoded for `signing.verify_card`; `BASE64_INVALID` on a bad field."""
    return signing.CardEvidence(
        ef0001=decode_base64_field(files.ef0001),
        ef0002=decode_base64_field(files.ef0002),
        ef0003=decode_base64_field(files.ef0003),
        ef0004=decode_base64_field(files.ef0004),
        ef0007=decode_base64_field(files.ef0007),
        challenge_signature=decode_base64_field(files.challenge_signature),
    )


def decode_base64_field(text: str) -> bytes:
    """A binary field of a request body: standard base64 with padding (RFC 4648 §4), nothing
    outside the alphabet; `BASE64_INVALID` otherwise."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Problem("BASE64_INVALID") from None


def first_header(scope: Scope, name: bytes) -> str:
    """The first value of the header `name` (lower case, as ASGI gives names), else `""`: read
    from the scope, without building Litestar's header mapping."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


class ChallengeOut(msgspec.Struct, frozen=True, kw_only=True):
    challenge_id: str
    nonce: str
    expires_at: datetime


class MunicipalityRef(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name_ja: str
    name_en: str


class HolderOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    name: str
    birth_date: str
    name_roman: str | None = None
    nationality: str | None = None
    passport_number: str | None = None
    other_name: str | None = None


class VaccinationOut(msgspec.Struct, frozen=True, kw_only=True):
    dose: int
    date: str
    product: str
    manufacturer: str
    lot: str


class ShcOut(msgspec.Struct, frozen=True, kw_only=True):
    jws: list[str]
    qr: list[str]


class CertificateOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    certificate_id: str
    issued_at: datetime
    kind: str
    municipality: MunicipalityRef
    holder: HolderOut
    vaccinations: list[VaccinationOut]
    shc: ShcOut
    vdsnc: list[dict[str, Any]] | None = None


class CertificatesOut(msgspec.Struct, frozen=True, kw_only=True):
    certificates: list[CertificateOut]


def certificate_out(issued: Issued) -> CertificateOut:
    """The contracts §1 view of an issued certificate (never the My Number)."""
    cert = issued.certificate
    holder = cert.holder
    abroad = cert.kind == "abroad"
    roman = " ".join(p for p in (holder.family_name_roman, holder.given_names_roman) if p)
    return CertificateOut(
        certificate_id=cert.certificate_id,
        issued_at=cert.issued_at,
        kind=cert.kind,
        municipality=MunicipalityRef(
            code=cert.municipality.code,
            name_ja=cert.municipality.name_ja,
            name_en=cert.municipality.name_en,
        ),
        holder=HolderOut(
            name=f"{holder.family_name}\u3000{holder.given_name}",
            birth_date=holder.birth_date.isoformat(),
            name_roman=roman if abroad else None,
            nationality=holder.nationality if abroad else None,
            passport_number=holder.passport_number if abroad else None,
            other_name=holder.other_name.name if holder.other_name else None,
        ),
        vaccinations=[
            VaccinationOut(
                dose=dose.number,
                date=dose.date.isoformat(),
                product=dose.product,
                manufacturer=signing.PRODUCTS[dose.product].manufacturer,
                lot=dose.lot,
            )
            for dose in cert.doses
        ],
        shc=ShcOut(
            jws=list(issued.shc_jws), qr=[signing.shc_qr_text(jws) for jws in issued.shc_jws]
        ),
        vdsnc=list(issued.vdsnc) if abroad else None,
    )
