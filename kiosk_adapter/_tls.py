"""TLS material for the demo and the tests: the VRS side's server certificate and the center's
client certificates (DESIGN §1.2 item 1). Never for production: real deployments bring the LGWAN
certificates and the center's CA."""

from __future__ import annotations

import ipaddress
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: File names `create_demo_tls` writes (and `certsvc kiosk-sim` reads) in its directory.
SERVER_CA = "server-ca.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"
CENTER_CA = "center-ca.pem"
CENTER_CLIENT_CERT = "center-client.pem"
CENTER_CLIENT_KEY = "center-client-key.pem"
OTHER_CA = "other-ca.pem"
OTHER_CLIENT_CERT = "other-client.pem"
OTHER_CLIENT_KEY = "other-client-key.pem"


class DemoTls(msgspec.Struct, frozen=True, kw_only=True):
    """Paths of the demo TLS files. Settings: `CERTSVC_KIOSK_TLS_CERT` = `server_cert`,
    `CERTSVC_KIOSK_TLS_KEY` = `server_key`, `CERTSVC_KIOSK_CLIENT_CA` = `center_ca`."""

    directory: Path
    server_ca: Path
    """The CA that signed the server certificate: what the center (simulator) trusts."""
    server_cert: Path
    """For 127.0.0.1 and localhost."""
    server_key: Path
    center_ca: Path
    """The center's CA: the only issuer of client certificates the listener accepts."""
    center_client_cert: Path
    center_client_key: Path
    other_ca: Path
    """An unrelated CA (negative tests)."""
    other_client_cert: Path
    other_client_key: Path


def demo_tls_paths(directory: Path) -> DemoTls:
    """The paths `create_demo_tls(directory)` writes."""
    return DemoTls(
        directory=directory,
        server_ca=directory / SERVER_CA,
        server_cert=directory / SERVER_CERT,
        server_key=directory / SERVER_KEY,
        center_ca=directory / CENTER_CA,
        center_client_cert=directory / CENTER_CLIENT_CERT,
        center_client_key=directory / CENTER_CLIENT_KEY,
        other_ca=directory / OTHER_CA,
        other_client_cert=directory / OTHER_CLIENT_CERT,
        other_client_key=directory / OTHER_CLIENT_KEY,
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certsvc demo (not for production)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca(common_name: str, now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str,
    *,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    server: bool,
    now: datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert, ca_key = ca
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=397))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def _write(path: Path, data: bytes, *, private: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def create_demo_tls(directory: Path, *, now: datetime | None = None) -> DemoTls:
    """Create (or reuse, when all files are present) in `directory`: a server CA and a server
    certificate for 127.0.0.1/localhost, the center's CA and a client certificate with its key,
    and an unrelated CA with a client certificate (for negative tests). EC P-256; private keys
    mode 0600; the CA keys are not kept."""
    paths = demo_tls_paths(directory)
    wanted = [p for name, p in msgspec.structs.asdict(paths).items() if name != "directory"]
    if all(p.exists() for p in wanted):
        return paths
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    at = now or datetime.now(UTC)
    server_ca = _ca("certsvc demo VRS LGWAN CA", at)
    server = _leaf("127.0.0.1", ca=server_ca, server=True, now=at)
    center_ca = _ca("certsvc demo Certificate Issuance Center CA", at)
    center = _leaf("certsvc demo Certificate Issuance Center", ca=center_ca, server=False, now=at)
    other_ca = _ca("certsvc demo unrelated CA", at)
    other = _leaf("certsvc demo unrelated client", ca=other_ca, server=False, now=at)
    _write(paths.server_ca, _pem(server_ca[0]), private=False)
    _write(paths.server_cert, _pem(server[0]), private=False)
    _write(paths.server_key, _key_pem(server[1]), private=True)
    _write(paths.center_ca, _pem(center_ca[0]), private=False)
    _write(paths.center_client_cert, _pem(center[0]), private=False)
    _write(paths.center_client_key, _key_pem(center[1]), private=True)
    _write(paths.other_ca, _pem(other_ca[0]), private=False)
    _write(paths.other_client_cert, _pem(other[0]), private=False)
    _write(paths.other_client_key, _key_pem(other[1]), private=True)
    return paths
