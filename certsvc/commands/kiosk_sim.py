"""`certsvc kiosk-sim`: play a kiosk and the Certificate Issuance Center against the adapter.

A client of the kiosk protocol v1 (kiosk_adapter/PROTOCOL.md); like any center it knows the
protocol, not the adapter's code (certsvc never imports kiosk_adapter, DESIGN §2).
`run_kiosk_session` drives one whole session over an `httpx.AsyncClient` — a real mTLS client
from `center_client` or an in-process ASGI test client — with a synthetic My Number card, and
returns the PDFs and the text of each screen. `certsvc kiosk-sim`, the e2e tests and the
benchmark use it. The kiosk reads the card once (before the card is removed) and keeps its
bytes in memory for this session only (DESIGN §1.2 item 4).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import ssl
import sys
from pathlib import Path
from typing import Any, Literal

import httpx
import msgspec

from certsvc.commands._failures import (
    CommandFailed,
    Exit,
    make_private_directory,
    write_private_file,
)
from certsvc.synthetic import load_card, load_residents
from signing.synthetic import SyntheticCard

#: Where the demo keeps the kiosk TLS files (kiosk_adapter.create_demo_tls), in the demo dir.
TLS_DIR = "kiosk"
SERVER_CA = "server-ca.pem"
CENTER_CLIENT_CERT = "center-client.pem"
CENTER_CLIENT_KEY = "center-client-key.pem"

Kind = Literal["domestic", "abroad"]
PrintOutcome = Literal["ok", "paper_out", "paper_jam", "printer_fault", "cancelled", "other"]


class KioskRefused(Exception):  # noqa: N818 — the adapter's answer, not a fault of ours
    """The adapter answered a problem+json: `code`, `status` and the body."""

    def __init__(self, step: str, status: int, body: dict[str, Any]) -> None:
        self.step = step
        self.status = status
        self.code = str(body.get("code", "UNKNOWN"))
        self.body = body
        super().__init__(f"{step}: {status} {self.code}")


class Screen(msgspec.Struct, frozen=True, kw_only=True):
    """One kiosk screen: its name, what it shows (ja/en) and, for the reminders, what it says."""

    name: str
    ja: str
    en: str
    voice_ja: str | None = None
    voice_en: str | None = None


class SessionResult(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    state: str
    """The final state: COMPLETED, VOIDED, or ISSUED when `report_print` was False."""
    certificate_id: str
    kind: Kind
    copies: int
    fee_yen: int
    pdfs: tuple[bytes, ...]
    screens: tuple[Screen, ...]
    token: str
    """The last sealed token (to drive further steps by hand)."""
    preview: dict[str, Any]
    confirm: dict[str, Any]


def center_client(
    base_url: str,
    *,
    server_ca: Path,
    client_cert: Path | None,
    client_key: Path | None,
    timeout: float = 30.0,
) -> httpx.AsyncClient:
    """An HTTP client of the center: trusts `server_ca` for the adapter's certificate and
    presents the client certificate (mTLS) when one is given."""
    context = ssl.create_default_context(cafile=str(server_ca))
    if client_cert is not None:
        context.load_cert_chain(str(client_cert), str(client_key) if client_key else None)
    return httpx.AsyncClient(base_url=base_url, verify=context, timeout=timeout)


def card_files(card: SyntheticCard, nonce: str) -> dict[str, str]:
    """The `card` member of a preview: the files as read and the card's signature over the
    session nonce (base64url, as the adapter gave it), all standard base64."""
    raw_nonce = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
    evidence = card.evidence(card.sign_challenge(raw_nonce))
    return {
        name: base64.b64encode(getattr(evidence, name)).decode()
        for name in ("ef0001", "ef0002", "ef0003", "ef0004", "ef0007", "challenge_signature")
    }


async def call(
    client: httpx.AsyncClient, step: str, method: str, path: str, body: Any = None
) -> dict[str, Any]:
    """One protocol call; `KioskRefused` on a problem answer."""
    response = await client.request(method, path, json=body)
    payload: dict[str, Any] = response.json()
    if response.status_code >= 400:
        raise KioskRefused(step, response.status_code, payload)
    return payload


def _reminder(name: str, reminder: dict[str, Any]) -> Screen:
    return Screen(
        name=name,
        ja=reminder["screen"]["ja"],
        en=reminder["screen"]["en"],
        voice_ja=reminder["voice"]["ja"],
        voice_en=reminder["voice"]["en"],
    )


async def run_kiosk_session(
    client: httpx.AsyncClient,
    *,
    card: SyntheticCard,
    municipality_code: str,
    kind: Kind = "domestic",
    copies: int = 1,
    print_outcome: PrintOutcome = "ok",
    report_print: bool = True,
    domestic_if_abroad_unavailable: bool = False,
    idempotency_key: str | None = None,
) -> SessionResult:
    """Play one kiosk session: start → card (nonce signed) → preview → pay → confirm → print →
    report. Raises `KioskRefused` where the adapter refuses; with
    `domestic_if_abroad_unavailable` a resident who asked for abroad takes domestic instead."""
    screens = [
        Screen(
            name="place_card",
            ja="マイナンバーカードを置いてください。",
            en="Please place your My Number card.",
        ),
        Screen(
            name="choose_certificate",
            ja="新型コロナワクチン接種証明書",
            en="COVID-19 vaccination certificate",
        ),
        Screen(
            name="enter_pin",
            ja="暗証番号（数字4桁）を入力してください。",
            en="Enter your 4-digit PIN.",
        ),
    ]
    started = await call(client, "start", "POST", "/kiosk/v1/sessions", {})
    session_id = started["session_id"]
    base = f"/kiosk/v1/sessions/{session_id}"
    files = card_files(card, started["nonce"])
    preview = await call(
        client,
        "preview",
        "POST",
        f"{base}/preview",
        {
            "token": started["token"],
            "card": files,
            "municipality_code": municipality_code,
            "kind": kind,
            "copies": copies,
        },
    )
    del files  # the card's bytes are dropped once the card was verified
    screens.append(_reminder("remove_card", preview["card_reminder"]))
    municipality = preview["municipality"]
    screens.append(
        Screen(name="municipality", ja=municipality["name_ja"], en=municipality["name_en"])
    )
    abroad = preview["kinds"]["abroad"]
    chosen: Kind = kind
    if kind == "abroad" and not abroad["available"]:
        screens.append(
            Screen(name="abroad_unavailable", ja=abroad["reason"]["ja"], en=abroad["reason"]["en"])
        )
        if domestic_if_abroad_unavailable:
            chosen = "domestic"
    doses_ja = "、".join(f"{d['dose']}回目 {d['date']}" for d in preview["doses"])
    doses_en = ", ".join(f"dose {d['dose']} {d['date']}" for d in preview["doses"])
    label_ja = "海外用" if chosen == "abroad" else "国内用"
    fee = copies * preview["fee_per_copy_yen"]
    screens.append(
        Screen(
            name="confirm_content",
            ja=f"{preview['holder']['name']} 様 {label_ja} {copies}通 {doses_ja}",
            en=f"{chosen}, {copies} copies: {doses_en}",
        )
    )
    screens.append(Screen(name="pay", ja=f"{fee}円をお支払いください。", en=f"Please pay ¥{fee}."))
    confirm = await call(
        client,
        "confirm",
        "POST",
        f"{base}/confirm",
        {
            "token": preview["token"],
            "kind": chosen,
            "copies": copies,
            "fee_paid_yen": fee,
            "idempotency_key": idempotency_key or secrets.token_urlsafe(18),
        },
    )
    pdfs = tuple(base64.b64decode(d["pdf"], validate=True) for d in confirm["documents"])
    screens.append(Screen(name="print", ja="印刷しています。", en="Printing."))
    state = confirm["state"]
    if report_print:
        body: dict[str, Any] = {"token": preview["token"], "outcome": "ok"}
        if print_outcome != "ok":
            body = {"token": preview["token"], "outcome": "failed", "reason": print_outcome}
        reported = await call(client, "print-result", "POST", f"{base}/print-result", body)
        state = reported["state"]
        if state == "COMPLETED":
            screens.append(_reminder("take_certificate", confirm["certificate_reminder"]))
        else:
            screens.append(
                Screen(
                    name="print_failed",
                    ja="印刷できませんでした。料金は返金されます。",
                    en="The certificate could not be printed. Your fee is refunded.",
                )
            )
    return SessionResult(
        session_id=session_id,
        state=state,
        certificate_id=confirm["certificate_id"],
        kind=chosen,
        copies=copies,
        fee_yen=confirm["fee_yen"],
        pdfs=pdfs,
        screens=tuple(screens),
        token=preview["token"],
        preview=preview,
        confirm=confirm,
    )


def save_pdfs(result: SessionResult, directory: Path) -> list[Path]:
    """Write each copy as `<certificate id>-<n>.pdf` in `directory`."""
    make_private_directory(directory)
    paths = []
    for n, pdf in enumerate(result.pdfs, start=1):
        path = directory / f"{result.certificate_id}-{n}.pdf"
        write_private_file(path, pdf)
        paths.append(path)
    return paths


# --- the command -------------------------------------------------------------------------------


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "kiosk-sim",
        help="Play a kiosk and the Certificate Issuance Center against the adapter.",
        description="Drive one kiosk session over mutual TLS with a demo card: start, card, "
        "preview, pay, confirm, print, report. Saves the PDFs and prints every screen.",
    )
    parser.add_argument("--demo-dir", type=Path, required=True, help="the demo directory")
    parser.add_argument("--url", required=True, help="the adapter, https://127.0.0.1:PORT")
    parser.add_argument("--municipality", default="282022", help="municipality code")
    parser.add_argument("--kind", choices=["domestic", "abroad"], default="domestic")
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="where to save the PDFs")
    parser.add_argument("--resident", help="address number (default: the first resident there)")
    parser.add_argument(
        "--print-fail",
        choices=["paper_out", "paper_jam", "printer_fault", "cancelled", "other"],
        help="report the print as failed with this reason (the issuance is voided)",
    )
    parser.add_argument(
        "--domestic-fallback",
        action="store_true",
        help="take the domestic certificate when abroad is unavailable",
    )
    parser.set_defaults(run=run)


async def simulate(
    *,
    demo_dir: Path,
    url: str,
    municipality_code: str,
    kind: Kind,
    copies: int,
    out: Path,
    resident: str | None = None,
    print_outcome: PrintOutcome = "ok",
    domestic_fallback: bool = False,
) -> SessionResult:
    """One session with a demo resident's card over the demo's mTLS client certificate; the
    PDFs are written to `out`. Raises `KioskRefused`, `LookupError` (no such resident),
    `OSError` (demo files missing)."""
    entries = [e for e in load_residents(demo_dir) if e.municipality_code == municipality_code]
    if resident is not None:
        entries = [e for e in entries if e.address_number == resident]
    else:
        entries = [e for e in entries if e.status == "resident"]
    if not entries:
        raise LookupError("no such resident in the demo directory")
    card = load_card(demo_dir, entries[0])
    tls = demo_dir / TLS_DIR
    async with center_client(
        url,
        server_ca=tls / SERVER_CA,
        client_cert=tls / CENTER_CLIENT_CERT,
        client_key=tls / CENTER_CLIENT_KEY,
    ) as client:
        result = await run_kiosk_session(
            client,
            card=card,
            municipality_code=municipality_code,
            kind=kind,
            copies=copies,
            print_outcome=print_outcome,
            domestic_if_abroad_unavailable=domestic_fallback,
        )
    if result.state != "VOIDED":
        save_pdfs(result, out)
    return result


def run(args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(
            simulate(
                demo_dir=args.demo_dir,
                url=args.url,
                municipality_code=args.municipality,
                kind=args.kind,
                copies=args.copies,
                out=args.out,
                resident=args.resident,
                print_outcome=args.print_fail or "ok",
                domestic_fallback=args.domestic_fallback,
            )
        )
    except KioskRefused as exc:
        print(f"refused at {exc.step}: {exc.status} {exc.code} — {exc.body.get('title', '')}")
        return 1
    except LookupError as exc:
        print(f"certsvc kiosk-sim: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        raise CommandFailed(
            f"cannot read {exc.filename or 'the demo files'} ({exc.strerror}); give the demo "
            "directory the demo's banner prints",
            Exit.FILE,
        ) from None
    except httpx.TransportError as exc:
        raise CommandFailed(
            f"no connection to {args.url} ({type(exc).__name__}); is the demo running, and is "
            "this its kiosk adapter URL?",
            Exit.STORE,
        ) from None
    for screen in result.screens:
        print(f"[{screen.name}]")
        print(f"  ja: {screen.ja}")
        print(f"  en: {screen.en}")
        if screen.voice_ja:
            print(f"  voice ja: {screen.voice_ja}")
            print(f"  voice en: {screen.voice_en}")
    print(f"session {result.session_id}: {result.state}")
    print(f"certificate {result.certificate_id} ({result.kind}, {result.copies} copies)")
    if result.state != "VOIDED":
        for n in range(1, len(result.pdfs) + 1):
            print(f"  saved {args.out / f'{result.certificate_id}-{n}.pdf'}")
    return 0
