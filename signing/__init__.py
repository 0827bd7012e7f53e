"""Card verification, app attestation, SMART Health Cards, ICAO VDS-NC, keys and QR codes.

A library: it knows nothing of HTTP, Redis or the VRS store. Every error derives from
`SigningError` and carries a stable `code`.
"""

from signing._errors import SigningError

__all__: list[str] = ["SigningError"]

# --- card and attestation (issue 4) ---
from signing._attestation import (
    AttestationClaims,
    AttestationError,
    AttestationKeySet,
    verify_attestation,
)
from signing._card import (
    CardEvidence,
    CardHolder,
    CardVerificationError,
    is_valid_my_number,
    my_number_check_digit,
    verify_card,
)
from signing._trust import TrustAnchor, TrustStore, TrustStoreError, load_trust_store

__all__ += [
    "AttestationClaims",
    "AttestationError",
    "AttestationKeySet",
    "CardEvidence",
    "CardHolder",
    "CardVerificationError",
    "TrustAnchor",
    "TrustStore",
    "TrustStoreError",
    "is_valid_my_number",
    "load_trust_store",
    "my_number_check_digit",
    "verify_attestation",
    "verify_card",
]
# --- end card and attestation ---

# --- certificates, keys, QR (issue 5) ---
# --- end certificates, keys, QR ---
