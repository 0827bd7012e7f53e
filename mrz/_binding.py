"""Binding a parsed passport to the verified card holder (spec: mrz-td3.md, "Binding")."""

from __future__ import annotations

from datetime import date

from mrz._errors import MrzError
from mrz._td3 import Passport

# The card's sex codes (ISO/IEC 5218): 1 male, 2 female, 9 not applicable, 0 not known.
_CARD_TO_MRZ = {"1": "M", "2": "F"}
_CARD_SEXES = frozenset({"1", "2", "9", "0"})


def bind_to_holder(passport: Passport, *, birth_date: date, sex: str, today: date) -> None:
    """Return normally only if `passport` can belong to the card holder and is still valid.

    The card's kanji name cannot be compared with the MRZ, so the binding is birth date and sex.
    Steps: (1) birth date equal, (2) sex compatible (MRZ `F`/`M` against card `2`/`1`; MRZ `<`
    and card `9`/`0` are compatible with anything), (3) not expired on `today` (valid through
    the expiry date) - the certificate is for travel. Identity comes first: a passport of
    someone else is reported as such even when it has also expired.
    """
    if sex not in _CARD_SEXES:
        raise MrzError("HOLDER_SEX_INVALID", "card sex code is not 1, 2, 9 or 0")
    # (1) birth date
    if passport.birth_date != birth_date:
        raise MrzError("PASSPORT_BIRTH_DATE_MISMATCH", "passport birth date differs from card")
    # (2) sex
    expected = _CARD_TO_MRZ.get(sex)
    if expected is not None and passport.sex not in {"<", expected}:
        raise MrzError("PASSPORT_SEX_MISMATCH", "passport sex differs from card")
    # (3) expiry, against the caller's today rather than the one given to parse_td3
    if passport.expiry_date < today:
        raise MrzError("PASSPORT_EXPIRED", "passport has expired")
