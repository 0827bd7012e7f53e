"""`certsvc card-sim`: the counter's card reader in the demo. One of the demo's synthetic My
Number cards signs the challenge the counter page shows; the card files and the signature are
written as one JSON file (standard base64 members, as in the app's `card`), which the page
uploads. Registered through the `certsvc.commands` entry point."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
from pathlib import Path
from typing import Any

from certsvc.synthetic import card_json, load_card, load_residents


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "card-sim",
        help="Play the counter's card reader: a demo card signs the page's challenge.",
        description="Writes the card files and the signature over NONCE as JSON to --out.",
    )
    parser.add_argument("--demo-dir", type=Path, required=True, help="the demo directory")
    parser.add_argument(
        "--card",
        default="1",
        help="which card: its position in residents.json (1-based) or its address number",
    )
    parser.add_argument(
        "--nonce",
        required=True,
        help="the challenge the counter page shows; write --nonce=VALUE (it may start with -)",
    )
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    parser.set_defaults(run=run)


def _nonce(text: str) -> bytes | None:
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def run(args: argparse.Namespace) -> int:
    nonce = _nonce(args.nonce)
    if nonce is None:
        print(
            "certsvc card-sim: --nonce must be the 43-character challenge the page shows",
            file=sys.stderr,
        )
        return 2
    try:
        entries = load_residents(args.demo_dir)
    except OSError:
        print(f"certsvc card-sim: no residents.json in {args.demo_dir}", file=sys.stderr)
        return 2
    entry = next((e for e in entries if e.address_number == args.card), None)
    if entry is None and args.card.isdigit() and 1 <= int(args.card) <= len(entries):
        entry = entries[int(args.card) - 1]
    if entry is None:
        print(f"certsvc card-sim: no card {args.card!r} in residents.json", file=sys.stderr)
        return 2
    card = load_card(args.demo_dir, entry)
    bundle = card_json(card, card.sign_challenge(nonce))
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(bundle, out)
    print(f"card {entry.municipality_code}-{entry.address_number} signed the challenge: {args.out}")
    return 0
