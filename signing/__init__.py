"""Card verification, app attestation, SMART Health Cards, ICAO VDS-NC, keys and QR codes.

A library: it knows nothing of HTTP, Redis or the VRS store. Every error derives from
`SigningError` and carries a stable `code`.
"""

from signing._attestation import (
    AttestationClaims,
    AttestationError,
    AttestationKeySet,
    verify_attestation,
)
from signing._ber import CARD_ERROR_CODES
from signing._card import (
    CardEvidence,
    CardHolder,
    CardVerificationError,
    is_valid_my_number,
    my_number_check_digit,
    verify_card,
)
from signing._errors import SigningError
from signing._keystore import FileKeyStore, KeyStore, KeyStoreError
from signing._qr import (
    DecodedQr,
    QrError,
    QrSymbol,
    decode_qr_image,
    qr_png,
    qr_svg,
    shc_qr_symbol,
    vdsnc_qr_symbol,
)
from signing._shc import (
    MAX_JWS_CHARS,
    ShcError,
    ShcSigner,
    compute_rid,
    jwk_thumbprint,
    public_jwk,
    shc_file,
    shc_qr_text,
    shc_qr_to_jws,
    sign_shc,
)
from signing._trust import TrustAnchor, TrustStore, TrustStoreError, load_trust_store
from signing._vdsnc import (
    VdsncError,
    VdsncSigner,
    issue_barcode_signer,
    issue_csca,
    issue_csca_crl,
    mrz_name,
    seal_bytes,
    sign_vdsnc,
)
from signing._verify_cert import (
    Finding,
    ShcReport,
    VdsncReport,
    VerifyError,
    verify_shc_jws,
    verify_vdsnc,
)
from signing.certificate import (
    PRODUCTS,
    Certificate,
    CertificateError,
    Dose,
    Holder,
    Municipality,
    OtherName,
    Product,
    new_certificate_id,
)

__all__ = [
    "CARD_ERROR_CODES",
    "MAX_JWS_CHARS",
    "PRODUCTS",
    "AttestationClaims",
    "AttestationError",
    "AttestationKeySet",
    "CardEvidence",
    "CardHolder",
    "CardVerificationError",
    "Certificate",
    "CertificateError",
    "DecodedQr",
    "Dose",
    "FileKeyStore",
    "Finding",
    "Holder",
    "KeyStore",
    "KeyStoreError",
    "Municipality",
    "OtherName",
    "Product",
    "QrError",
    "QrSymbol",
    "ShcError",
    "ShcReport",
    "ShcSigner",
    "SigningError",
    "TrustAnchor",
    "TrustStore",
    "TrustStoreError",
    "VdsncError",
    "VdsncReport",
    "VdsncSigner",
    "VerifyError",
    "compute_rid",
    "decode_qr_image",
    "is_valid_my_number",
    "issue_barcode_signer",
    "issue_csca",
    "issue_csca_crl",
    "jwk_thumbprint",
    "load_trust_store",
    "mrz_name",
    "my_number_check_digit",
    "new_certificate_id",
    "public_jwk",
    "qr_png",
    "qr_svg",
    "seal_bytes",
    "shc_file",
    "shc_qr_symbol",
    "shc_qr_text",
    "shc_qr_to_jws",
    "sign_shc",
    "sign_vdsnc",
    "vdsnc_qr_symbol",
    "verify_attestation",
    "verify_card",
    "verify_shc_jws",
    "verify_vdsnc",
]
