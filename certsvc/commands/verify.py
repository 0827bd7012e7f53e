"""`certsvc verify`: Verify a certificate: QR image, JWS, .smart-health-card or VDS-NC file.

    certsvc verify FILE... [--jwks FILE|URL] [--crl FILE|URL]... [--csca FILE] [--csca-crl FILE]

FILE: a QR image (PNG, JPEG), a PDF print-out (its pages rendered with pypdfium2 when
installed), a compact JWS, a `.smart-health-card` file or a VDS-NC JSON. Keys: `--jwks` (SHC; a
file or an https URL) and `--csca` (VDS-NC) when given, otherwise the local key directory
(`CERTSVC_KEY_DIR`). `--crl` (a file or a URL such as `<iss>/.well-known/crl/<kid>.json`, once
per key) checks revocation; without it revocation is not checked. Exit status (contracts §5): 0
every item valid; 1 a signature does not verify, the key is unknown, or the certificate is revoked
(its `rid` is on its key's CRL: SHC_REVOKED); 2 signatures verify but something breaks the spec
(each listed); 3 an input, the keys or a CRL could not be read — settings missing or wrong and
usage errors included.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import msgspec

from certsvc.settings import SettingsError, load_settings
from signing import (
    FileKeyStore,
    ShcReport,
    SigningError,
    VdsncReport,
    VerifyError,
    decode_qr_image,
    shc_qr_to_jws,
    verify_shc_jws,
    verify_vdsnc,
)

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="Verify a certificate: QR image, PDF print-out, JWS, .smart-health-card or VDS-NC.",
        description="Checks the signatures and every rule of the SMART Health Card and ICAO "
        "VDS-NC specifications. Exit status: 0 every item valid; 1 a signature does not verify "
        "(or an unknown key, or revoked); 2 signatures verify but something breaks the spec; "
        "3 an input or the keys could not be read (a missing setting, a PDF without pypdfium2 "
        "installed, a bad argument included).",
    )
    # contracts §5: 2 means "breaks the spec", so a usage error must not exit 2 here.
    parser.error = _usage_error(parser)  # type: ignore[method-assign]
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--jwks",
        help="JWKS of the SHC issuer: a file, or a URL (https://…, or http://127.0.0.1…) such as "
        "<issuer>/.well-known/jwks.json (default: the local keys in CERTSVC_KEY_DIR)",
    )
    parser.add_argument(
        "--crl",
        action="append",
        default=[],
        metavar="FILE_OR_URL",
        help="SHC CRL JSON ({kid, method, ctr, rids}): a file, or a URL (https://…, or "
        "http://127.0.0.1…) such as <issuer>/.well-known/crl/<kid>.json; once per key",
    )
    parser.add_argument("--csca", type=Path, help="VDS-NC CSCA certificate, PEM")
    parser.add_argument("--csca-crl", type=Path, help="the CSCA's CRL (PEM or DER)")
    parser.set_defaults(run=run, failure_status=3)


def _usage_error(parser: argparse.ArgumentParser) -> Any:
    def error(message: str) -> NoReturn:
        parser.print_usage(sys.stderr)
        parser.exit(3, f"certsvc verify: {message}\n")

    return error


def _local_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return url.startswith("http://") and host in {"127.0.0.1", "::1", "localhost"}


def _fetch_jwks(url: str) -> bytes:
    """The JWKS at `url` (https, or plain http on loopback only: a JWKS fetched in the clear
    from elsewhere could be anyone's)."""
    import httpx

    if not (url.startswith("https://") or _local_url(url)):
        raise VerifyError("VERIFY_BAD_JWKS", f"{url}: a JWKS URL must be https (or loopback)")
    try:
        response = httpx.get(url, timeout=10, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise VerifyError("VERIFY_BAD_JWKS", f"{url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise VerifyError("VERIFY_BAD_JWKS", f"{url}: HTTP {response.status_code}")
    return response.content


def _fetch_crl(url: str) -> bytes:
    """The CRL at `url`, under the same rule as a JWKS URL (https, or plain http on loopback)."""
    import httpx

    if not (url.startswith("https://") or _local_url(url)):
        raise VerifyError("VERIFY_BAD_CRL", f"{url}: a CRL URL must be https (or loopback)")
    try:
        response = httpx.get(url, timeout=10, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise VerifyError("VERIFY_BAD_CRL", f"{url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise VerifyError("VERIFY_BAD_CRL", f"{url}: HTTP {response.status_code}")
    return response.content


class _Keys:
    """Trust material, loaded once: explicit files first, else the local key directory."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._store: FileKeyStore | None = None
        self._crls: dict[str, Any] | None = None

    def _local(self) -> FileKeyStore:
        if self._store is None:
            settings = load_settings(os.environ, mode="production", required={"key_dir"})
            if settings.key_dir is None:
                raise VerifyError("VERIFY_NO_KEYS", "no --jwks/--csca and no CERTSVC_KEY_DIR")
            self._store = FileKeyStore(settings.key_dir)
        return self._store

    def jwks(self) -> dict[str, Any]:
        if self.args.jwks is not None:
            source = str(self.args.jwks)
            if source.startswith(("https://", "http://")):
                raw = _fetch_jwks(source)
            else:
                raw = Path(source).read_bytes()
            try:
                value = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                raise VerifyError("VERIFY_BAD_JWKS", f"{source}: not JSON") from None
            if not isinstance(value, dict):
                raise VerifyError("VERIFY_BAD_JWKS", "the JWKS is not a JSON object")
            return value
        return self._local().jwks()

    def crls(self) -> dict[str, Any] | None:
        if self.args.crl:
            if self._crls is None:
                self._crls = {}
                for source in self.args.crl:
                    raw = (
                        _fetch_crl(source)
                        if source.startswith(("https://", "http://"))
                        else Path(source).read_bytes()
                    )
                    try:
                        crl = msgspec.json.decode(raw)
                    except msgspec.DecodeError:
                        raise VerifyError("VERIFY_BAD_CRL", f"{source}: not JSON") from None
                    if not isinstance(crl, dict) or not isinstance(crl.get("kid"), str):
                        raise VerifyError("VERIFY_BAD_CRL", f"{source} is not an SHC CRL")
                    self._crls[crl["kid"]] = crl
            return self._crls
        if self.args.jwks is not None:
            return None
        store = self._local()
        out = {}
        for jwk in store.jwks()["keys"]:
            crl = store.shc_crl(jwk["kid"])
            if crl is not None:
                out[jwk["kid"]] = crl
        return out

    def csca(self) -> tuple[bytes, bytes | None]:
        if self.args.csca is not None:
            crl = self.args.csca_crl.read_bytes() if self.args.csca_crl else None
            return self.args.csca.read_bytes(), crl
        store = self._local()
        return store.csca_certificate_pem(), store.csca_crl_pem()


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except SettingsError as exc:
        # contracts §5: anything that keeps the inputs from being checked is 3.
        print(f"certsvc verify: VERIFY_NO_KEYS: {exc}; give --jwks and --csca, or set them")
        return 3


def _run(args: argparse.Namespace) -> int:
    keys = _Keys(args)
    now = datetime.now(UTC)
    worst = 0
    for path in args.files:
        try:
            items = _read_items(path)
        except (OSError, VerifyError, SigningError) as exc:
            print(f"{path}: unreadable: {_why(exc)}")
            worst = max(worst, 3)
            continue
        for label, kind, value in items:
            try:
                report: ShcReport | VdsncReport
                if kind == "shc":
                    shc = verify_shc_jws(str(value), jwks=keys.jwks(), now=now, crls=keys.crls())
                    _print_shc(f"{path}{label}", shc)
                    report = shc
                else:
                    csca, crl = keys.csca()
                    vds = verify_vdsnc(value, csca_pem=csca, crl_pem=crl, now=now)
                    _print_vdsnc(f"{path}{label}", vds)
                    report = vds
            except (OSError, SigningError, msgspec.DecodeError) as exc:
                print(f"{path}{label}: unreadable: {_why(exc)}")
                worst = max(worst, 3)
                continue
            worst = max(worst, _rank(report.exit_code))
    return {0: 0, 1: 2, 2: 1, 3: 3}[worst]


def _rank(code: int) -> int:
    # severity order: valid < spec violation (2) < signature (1) < unreadable (3)
    return {0: 0, 2: 1, 1: 2}[code]


def _why(exc: BaseException) -> str:
    if isinstance(exc, SigningError):
        return f"{exc.code}: {exc}"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


def _read_items(path: Path) -> list[tuple[str, str, Any]]:
    """(label, "shc"|"vdsnc", value) for every certificate code in the file."""
    raw = path.read_bytes()
    if raw.startswith(b"%PDF-"):
        return _pdf_items(raw)
    if raw.startswith(_IMAGE_MAGIC):
        found = decode_qr_image(raw)
        if not found:
            raise VerifyError("VERIFY_NO_QR", "no QR code found in the image")
        return _qr_items(found)
    if raw.lstrip().startswith(b"<svg") or raw.lstrip().startswith(b"<?xml"):
        raise VerifyError("VERIFY_SVG_UNSUPPORTED", "SVG needs a rasteriser; give a PNG")
    text = raw.decode("utf-8", errors="strict") if raw.isascii() else None
    if raw.lstrip()[:1] == b"{":
        try:
            obj = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise VerifyError("VERIFY_UNREADABLE", "not JSON") from None
        if isinstance(obj, dict) and isinstance(obj.get("verifiableCredential"), list):
            return [
                (f"#{i + 1}", "shc", jws)
                for i, jws in enumerate(obj["verifiableCredential"])
                if isinstance(jws, str)
            ]
        if isinstance(obj, dict) and "data" in obj:
            return [("", "vdsnc", raw)]
        if isinstance(obj, dict) and isinstance(obj.get("vdsnc"), list):
            return [(f"#vdsnc{i + 1}", "vdsnc", s) for i, s in enumerate(obj["vdsnc"])]
        raise VerifyError("VERIFY_UNKNOWN_FORMAT", "JSON but neither a card file nor a seal")
    if text is not None:
        stripped = text.rstrip("\r\n")  # a text file's final newline is the file's, not the JWS's
        if stripped.startswith("shc:/"):
            return [("", "shc", shc_qr_to_jws(stripped))]
        if stripped.count(".") == 2:
            return [("", "shc", stripped)]
    raise VerifyError("VERIFY_UNKNOWN_FORMAT", "not a QR image, JWS, card file or seal")


def _qr_items(found: list[Any], prefix: str = "") -> list[tuple[str, str, Any]]:
    items: list[tuple[str, str, Any]] = []
    for i, qr in enumerate(found):
        label = f"{prefix}#qr{i + 1} (version {qr.version}, level {qr.error})"
        if qr.text.startswith("shc:/"):
            items.append((label, "shc", shc_qr_to_jws(qr.text)))
        else:
            items.append((label, "vdsnc", qr.raw))
    return items


#: Rendering scale of a PDF page: 300 dpi (PDF units are 1/72 inch), enough for the 80 mm QR
#: codes of the print-out and far more than a phone's camera sees.
_PDF_SCALE = 300 / 72


def _pdf_items(raw: bytes) -> list[tuple[str, str, Any]]:
    """The QR codes on every page of a PDF print-out, read off the page rendered at 300 dpi."""
    try:
        import pypdfium2
    except ImportError:
        raise VerifyError(
            "VERIFY_PDF_UNSUPPORTED",
            "reading a PDF needs pypdfium2: pip install pypdfium2 (or give a PNG of the QR code)",
        ) from None
    try:
        pdf = pypdfium2.PdfDocument(raw)
    except pypdfium2.PdfiumError:
        raise VerifyError("VERIFY_UNREADABLE", "not a readable PDF") from None
    items: list[tuple[str, str, Any]] = []
    try:
        for number in range(len(pdf)):
            page = pdf[number]
            image = page.render(scale=_PDF_SCALE, grayscale=True).to_pil()
            items.extend(_qr_items(decode_qr_image(image), prefix=f"#page{number + 1}"))
    finally:
        pdf.close()
    if not items:
        raise VerifyError("VERIFY_NO_QR", "no QR code found on the PDF's pages")
    return items


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _verdict(report: ShcReport | VdsncReport) -> str:
    return {
        0: "VALID",
        1: "INVALID (signature or key)",
        2: "NOT CONFORMANT (signature verifies; spec violations below)",
    }[report.exit_code]


def _print_findings(report: ShcReport | VdsncReport) -> None:
    for f in report.findings:
        print(f"  - [{f.kind}] {f.code}: {f.message}")


def _row(name: str, value: object) -> None:
    print(f"  {name:<22} {value}")


def _print_shc(label: str, report: ShcReport) -> None:
    print(f"{label}: SMART Health Card — {_verdict(report)}")
    payload = _obj(report.payload)
    _row("issuer", payload.get("iss"))
    nbf = payload.get("nbf")
    if isinstance(nbf, int | float):
        _row("issued (nbf)", datetime.fromtimestamp(nbf, UTC).isoformat())
    _row("key id", report.kid)
    vc = _obj(payload.get("vc"))
    if vc.get("rid"):
        _row("rid", vc["rid"])
    bundle = _obj(_obj(vc.get("credentialSubject")).get("fhirBundle"))
    for entry in bundle.get("entry") or []:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict):
            continue
        if res.get("resourceType") == "Patient":
            for name in res.get("name") or []:
                if isinstance(name, dict):
                    _row("name", f"{name.get('family', '')} {' '.join(name.get('given') or [])}")
            _row("birth date", res.get("birthDate"))
            for ident in res.get("identifier") or []:
                if isinstance(ident, dict):
                    _row("passport", ident.get("value"))
        elif res.get("resourceType") == "Immunization":
            coding = ((res.get("vaccineCode") or {}).get("coding") or [{}])[0]
            _row(
                "vaccination",
                f"{res.get('occurrenceDateTime')}  CVX {coding.get('code')}  "
                f"lot {res.get('lotNumber')}",
            )
    _print_findings(report)


def _print_vdsnc(label: str, report: VdsncReport) -> None:
    print(f"{label}: ICAO VDS-NC — {_verdict(report)}")
    data = _obj(_obj(report.seal).get("data"))
    msg = _obj(data.get("msg"))
    pid = _obj(msg.get("pid"))
    hdr = _obj(data.get("hdr"))
    _row("type", f"{hdr.get('t')} issued by {hdr.get('is')}")
    _row("signer", report.signer_subject)
    _row("certificate id", msg.get("uvci"))
    _row("name", pid.get("n"))
    _row("birth date", pid.get("dob"))
    _row("passport", pid.get("i"))
    for ve in msg.get("ve") or []:
        if not isinstance(ve, dict):
            continue
        for vd in ve.get("vd") or []:
            if isinstance(vd, dict):
                _row(
                    f"dose {vd.get('seq')}",
                    f"{vd.get('dvc')}  {ve.get('nam')} ({ve.get('des')})  lot {vd.get('lot')}  "
                    f"{vd.get('ctr')} {vd.get('adm')}",
                )
    _print_findings(report)
