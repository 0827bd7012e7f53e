"""`certsvc app-client`: the reference client. Plays the smartphone app against a running
service with a demo card: challenge → the card signs it → attestation from the demo authority →
certificate request; prints the result and saves the QR codes and the `.smart-health-card` file.
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

import signing
from certsvc.commands._failures import (
    CommandFailed,
    Exit,
    make_private_directory,
    write_private_file,
)
from certsvc.synthetic import (
    DEMO_APP_ID,
    DEMO_APP_VERSION,
    ResidentEntry,
    card_json,
    load_authority,
    load_card,
    load_residents,
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "app-client",
        help="Play the smartphone app against a running service (reference client).",
        description="Requests a certificate with one of the demo's synthetic My Number cards and "
        "saves the QR codes (PNG) and the .smart-health-card file.",
    )
    parser.add_argument("--demo-dir", type=Path, required=True, help="the demo directory")
    parser.add_argument("--url", help="base URL (default: from the demo's demo.env)")
    parser.add_argument("--kind", choices=("domestic", "abroad"), default="domestic")
    parser.add_argument(
        "--resident",
        default="1",
        help="which card: its position in residents.json (1-based) or its address number",
    )
    parser.add_argument("--municipality", help="municipality code (default: the resident's)")
    parser.add_argument("--out", type=Path, help="output directory (default: DEMO_DIR/out)")
    parser.set_defaults(run=run)


def _demo_env(demo_dir: Path) -> dict[str, str]:
    if not (demo_dir / "demo.env").is_file():
        raise CommandFailed(
            f"{demo_dir} is not a demo directory (it has no demo.env): give the one the demo's "
            "banner prints on its line 'demo directory: PATH'",
            Exit.FILE,
        )
    env = {}
    for line in (demo_dir / "demo.env").read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep:
            words = shlex.split(value)
            env[name] = words[0] if words else ""
    return env


def _pick(entries: list[ResidentEntry], which: str) -> ResidentEntry:
    for entry in entries:
        if entry.address_number == which:
            return entry
    if which.isdigit() and 1 <= int(which) <= len(entries):
        return entries[int(which) - 1]
    raise CommandFailed(
        f"no resident {which!r} in residents.json: give its position (1-{len(entries)}) or its "
        "address number",
        Exit.USAGE,
    )


def _problem(response: httpx.Response) -> int:
    try:
        body = response.json()
    except ValueError:
        body = {"title": response.text[:200]}
    print(f"refused: HTTP {response.status_code} {body.get('code', '')}: {body.get('title', '')}")
    if "current_terms_version" in body:
        print(f"  current terms version: {body['current_terms_version']}")
    return 1


def run(args: argparse.Namespace) -> int:
    demo_dir: Path = args.demo_dir
    env = _demo_env(demo_dir)
    host, port = env.get("CERTSVC_HOST", "127.0.0.1"), env.get("CERTSVC_PORT", "8000")
    base = args.url or f"http://{host}:{port}"
    entry = _pick(load_residents(demo_dir), args.resident)
    card = load_card(demo_dir, entry)
    authority = load_authority(demo_dir / "attestation-authority.json")
    out = args.out or demo_dir / "out"
    make_private_directory(out)

    with httpx.Client(base_url=base, timeout=30) as http:
        # 1. the terms version the app shows (here: the one the service runs with)
        terms = env.get("CERTSVC_TERMS_VERSION", "")
        # 2. a one-time challenge
        challenge = http.post("/v1/app/challenges")
        if challenge.status_code != 201:
            return _problem(challenge)
        ch = challenge.json()
        nonce = base64.urlsafe_b64decode(ch["nonce"] + "=" * (-len(ch["nonce"]) % 4))
        # 3. the card signs the nonce (INTERNAL AUTHENTICATE); the app is attested
        attestation = authority.mint(
            nonce=ch["nonce"],
            audience=env.get("CERTSVC_ATTESTATION_AUDIENCE", ""),
            app_id=env.get("CERTSVC_APP_IDS", DEMO_APP_ID).split(",")[0],
            app_version=DEMO_APP_VERSION,
            now=datetime.now(UTC),
        )
        body: dict[str, Any] = {
            "terms_version": terms,
            "challenge_id": ch["challenge_id"],
            "attestation": attestation,
            "card": card_json(card, card.sign_challenge(nonce)),
            "municipality_code": args.municipality or entry.municipality_code,
            "kind": args.kind,
        }
        if args.kind == "abroad":
            body["passport"] = {"mrz": list(entry.passport_mrz)}
        response = http.post("/v1/app/certificates", json=body)
    if response.status_code != 201:
        return _problem(response)

    for cert in response.json()["certificates"]:
        cid = cert["certificate_id"]
        holder = cert["holder"]
        print(f"certificate {cid} ({cert['kind']}) issued {cert['issued_at']}")
        print(
            f"  municipality  {cert['municipality']['name_ja']} / {cert['municipality']['name_en']}"
            f" ({cert['municipality']['code']})"
        )
        print(f"  holder        {holder['name']}  born {holder['birth_date']}")
        if "passport_number" in holder:
            print(f"  passport      {holder['name_roman']}  {holder['nationality']}")
        for dose in cert["vaccinations"]:
            line = f"{dose['date']}  {dose['product']}  lot {dose['lot']}"
            print(f"  dose {dose['dose']:<2}      {line}")
        saved = []
        for i, qr in enumerate(cert["shc"]["qr"], start=1):
            path = out / f"{cid}-shc-{i}.png"
            write_private_file(path, signing.qr_png(signing.shc_qr_symbol(qr)))
            saved.append(path)
        for i, seal in enumerate(cert.get("vdsnc") or [], start=1):
            raw = signing.seal_bytes(seal)
            png = out / f"{cid}-vdsnc-{i}.png"
            write_private_file(png, signing.qr_png(signing.vdsnc_qr_symbol(raw)))
            write_private_file(out / f"{cid}-vdsnc-{i}.json", raw)
            saved.append(png)
        shc_file = out / f"{cid}.smart-health-card"
        write_private_file(shc_file, signing.shc_file(cert["shc"]["jws"]))
        saved.append(shc_file)
        print("  saved         " + "\n                ".join(str(p) for p in saved))
    print(json.dumps({"verify_with": f"certsvc verify {out}/*.png"}), file=sys.stderr)
    return 0
