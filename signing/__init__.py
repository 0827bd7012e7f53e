"""Card verification, app attestation, SMART Health Cards, ICAO VDS-NC, keys and QR codes.

A library: it knows nothing of HTTP, Redis or the VRS store. Every error derives from
`SigningError` and carries a stable `code`.
"""

from signing._errors import SigningError

__all__: list[str] = ["SigningError"]

# --- card and attestation (issue 4) ---
# --- end card and attestation ---

# --- certificates, keys, QR (issue 5) ---
# --- end certificates, keys, QR ---
