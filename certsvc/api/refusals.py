"""Issuance refusals and app-channel codes on the wire: status and title of each code."""

from __future__ import annotations

from certsvc.errors import CodeInfo, Problem, register_codes
from certsvc.issuance import RefusalCode, Refused

_CARD = "The My Number card data were refused: "
_MRZ = "The passport lines cannot be read: "

REFUSAL_INFO: dict[RefusalCode, CodeInfo] = {
    RefusalCode.CARD_MALFORMED: CodeInfo(422, _CARD + "a file is not in the text-AP format"),
    RefusalCode.CARD_ISSUER_UNKNOWN: CodeInfo(422, _CARD + "signed by an unknown J-LIS key"),
    RefusalCode.CARD_HIERARCHY_NOT_ALLOWED: CodeInfo(
        422, _CARD + "the J-LIS key belongs to a hierarchy this service does not accept"
    ),
    RefusalCode.CARD_ISSUER_EXPIRED: CodeInfo(
        422, _CARD + "the J-LIS key is outside its validity period"
    ),
    RefusalCode.CARD_CERTIFICATE_SIGNATURE_INVALID: CodeInfo(
        422, _CARD + "the card-verifiable certificate signature is invalid"
    ),
    RefusalCode.CARD_SIGNER_REVOKED: CodeInfo(422, _CARD + "the signing key is revoked"),
    RefusalCode.CARD_DATA_SIGNATURE_INVALID: CodeInfo(
        422, _CARD + "the J-LIS signature over the card data is invalid"
    ),
    RefusalCode.CARD_MY_NUMBER_DIGEST_MISMATCH: CodeInfo(
        422, _CARD + "the My Number file does not match its signed digest"
    ),
    RefusalCode.CARD_ATTRIBUTES_DIGEST_MISMATCH: CodeInfo(
        422, _CARD + "the basic items do not match their signed digest"
    ),
    RefusalCode.CARD_KEY_SIGNATURE_INVALID: CodeInfo(
        422, _CARD + "the card's own key is not signed by the J-LIS signer"
    ),
    RefusalCode.CARD_CHALLENGE_SIGNATURE_INVALID: CodeInfo(
        422, _CARD + "the card did not sign this request's challenge"
    ),
    RefusalCode.CARD_CONTENT_INVALID: CodeInfo(422, _CARD + "the content is not well-formed"),
    RefusalCode.CARD_CHECK_DIGIT_INVALID: CodeInfo(
        422, _CARD + "the My Number check digit is wrong"
    ),
    RefusalCode.MY_NUMBER_INVALID: CodeInfo(422, "The My Number entered is not valid"),
    RefusalCode.PERSON_RATE_LIMITED: CodeInfo(
        429, "Too many certificates for this person; retry after the given delay"
    ),
    RefusalCode.MUNICIPALITY_UNKNOWN: CodeInfo(422, "This municipality is not served here"),
    RefusalCode.CHANNEL_NOT_OFFERED: CodeInfo(
        403, "This municipality does not offer certificates through this channel"
    ),
    RefusalCode.MRZ_LINE_COUNT: CodeInfo(400, _MRZ + "there must be exactly two lines"),
    RefusalCode.MRZ_LINE_LENGTH: CodeInfo(400, _MRZ + "each line must be 44 characters"),
    RefusalCode.MRZ_CHARSET: CodeInfo(400, _MRZ + "only A-Z, 0-9 and < are allowed"),
    RefusalCode.MRZ_DOCUMENT_TYPE: CodeInfo(400, _MRZ + "the document is not a passport"),
    RefusalCode.MRZ_CHECK_DIGIT_NUMBER: CodeInfo(400, _MRZ + "passport number check digit"),
    RefusalCode.MRZ_CHECK_DIGIT_BIRTH: CodeInfo(400, _MRZ + "birth date check digit"),
    RefusalCode.MRZ_CHECK_DIGIT_EXPIRY: CodeInfo(400, _MRZ + "expiry date check digit"),
    RefusalCode.MRZ_CHECK_DIGIT_PERSONAL: CodeInfo(400, _MRZ + "personal number check digit"),
    RefusalCode.MRZ_CHECK_DIGIT_COMPOSITE: CodeInfo(400, _MRZ + "composite check digit"),
    RefusalCode.MRZ_DATE_INVALID: CodeInfo(400, _MRZ + "a date does not exist"),
    RefusalCode.MRZ_STATE_UNKNOWN: CodeInfo(400, _MRZ + "unknown issuing state"),
    RefusalCode.MRZ_NATIONALITY_UNKNOWN: CodeInfo(400, _MRZ + "unknown nationality"),
    RefusalCode.MRZ_NAME_INVALID: CodeInfo(400, _MRZ + "the name field is not valid"),
    RefusalCode.MRZ_SEX_INVALID: CodeInfo(400, _MRZ + "the sex field is not F, M or <"),
    RefusalCode.MRZ_JPN_NUMBER_INVALID: CodeInfo(
        400, _MRZ + "a Japanese passport number is two letters and seven digits"
    ),
    RefusalCode.PERSON_NOT_FOUND: CodeInfo(
        422, "No vaccination record of this person in this municipality"
    ),
    RefusalCode.PERSON_DECEASED: CodeInfo(422, "The record is closed; ask the municipality"),
    RefusalCode.NO_VACCINATIONS: CodeInfo(422, "No vaccination is recorded in this municipality"),
    RefusalCode.PASSPORT_EXPIRED: CodeInfo(422, "The passport has expired"),
    RefusalCode.PASSPORT_BIRTH_DATE_MISMATCH: CodeInfo(
        422, "The passport's birth date differs from the card's"
    ),
    RefusalCode.PASSPORT_SEX_MISMATCH: CodeInfo(422, "The passport's sex differs from the card's"),
    RefusalCode.PASSPORT_NOT_ON_RECORD: CodeInfo(
        422, "No valid passport on record: a certificate for use abroad needs one"
    ),
    RefusalCode.CERTIFICATE_NOT_COMPOSABLE: CodeInfo(
        422, "The record holds data the certificate formats cannot carry; ask the municipality"
    ),
}

APP_CODES: dict[str, CodeInfo] = {
    "BASE64_INVALID": CodeInfo(400, "A binary field is not valid standard base64"),
    "MUNICIPALITY_CODE_INVALID": CodeInfo(400, "The municipality code is not 6 valid digits"),
    "PASSPORT_REQUIRED": CodeInfo(400, "A certificate for use abroad needs the passport lines"),
    "PASSPORT_NOT_ALLOWED": CodeInfo(400, "A domestic certificate takes no passport"),
    "TERMS_NOT_ACCEPTED": CodeInfo(
        422, "The current terms of use have not been agreed to (see current_terms_version)"
    ),
    "CHALLENGE_EXPIRED": CodeInfo(409, "The challenge expired or is unknown; ask for a new one"),
    "CHALLENGE_ALREADY_USED": CodeInfo(409, "The challenge was used already; ask for a new one"),
    "ATTESTATION_MISSING": CodeInfo(401, "The app attestation token is missing"),
    "ATTESTATION_REPLAYED": CodeInfo(409, "This attestation token was used already"),
    "ATTESTATION_MALFORMED": CodeInfo(401, "The attestation token is not a well-formed JWS"),
    "ATTESTATION_ALGORITHM_NOT_ALLOWED": CodeInfo(401, "The attestation token is not ES256"),
    "ATTESTATION_HEADER_NOT_ALLOWED": CodeInfo(
        401, "The attestation token carries keys in its header"
    ),
    "ATTESTATION_KEY_UNKNOWN": CodeInfo(401, "The attestation token's key is not the authority's"),
    "ATTESTATION_SIGNATURE_INVALID": CodeInfo(401, "The attestation signature is invalid"),
    "ATTESTATION_EXPIRED": CodeInfo(401, "The attestation token has expired"),
    "ATTESTATION_NOT_YET_VALID": CodeInfo(401, "The attestation token is not valid yet"),
    "ATTESTATION_LIFETIME_TOO_LONG": CodeInfo(
        401, "The attestation token lives longer than 5 minutes"
    ),
    "ATTESTATION_ISSUER_INVALID": CodeInfo(401, "The attestation token's issuer is not trusted"),
    "ATTESTATION_AUDIENCE_INVALID": CodeInfo(401, "The attestation token is for another service"),
    "ATTESTATION_NONCE_MISMATCH": CodeInfo(401, "The attestation token is for another challenge"),
    "ATTESTATION_APP_NOT_ALLOWED": CodeInfo(401, "This app is not allowed"),
    "ATTESTATION_APP_VERSION_TOO_OLD": CodeInfo(401, "This app version is too old; update it"),
    "ATTESTATION_CLAIMS_MISSING": CodeInfo(401, "The attestation token lacks required claims"),
}

#: The codes `signing.verify_attestation` may raise that the API passes on as they are.
ATTESTATION_CODES = frozenset(code for code in APP_CODES if code.startswith("ATTESTATION_"))

register_codes({code.value: info for code, info in REFUSAL_INFO.items()})
register_codes(APP_CODES)


def refusal_problem(refused: Refused) -> Problem:
    """The problem+json answer for a refusal of the issuance use case."""
    headers = {}
    if refused.retry_after_s is not None:
        headers["Retry-After"] = str(refused.retry_after_s)
    return Problem(refused.code.value, headers=headers)
