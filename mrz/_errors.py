"""The one error type of the package."""

from __future__ import annotations


class MrzError(Exception):
    """A refusal or failure of the MRZ library, identified by a stable UPPER_SNAKE `code`.

    The message names the rule that failed, never the MRZ text or the holder's name: callers may
    log it and show it to staff.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


#: Every code `parse_td3` raises (one per rule of ICAO 9303-4 TD3 it checks).
PARSE_ERROR_CODES = frozenset(
    {
        "MRZ_LINE_COUNT",
        "MRZ_LINE_LENGTH",
        "MRZ_CHARSET",
        "MRZ_DOCUMENT_TYPE",
        "MRZ_CHECK_DIGIT_NUMBER",
        "MRZ_CHECK_DIGIT_BIRTH",
        "MRZ_CHECK_DIGIT_EXPIRY",
        "MRZ_CHECK_DIGIT_PERSONAL",
        "MRZ_CHECK_DIGIT_COMPOSITE",
        "MRZ_DATE_INVALID",
        "MRZ_STATE_UNKNOWN",
        "MRZ_NATIONALITY_UNKNOWN",
        "MRZ_NAME_INVALID",
        "MRZ_SEX_INVALID",
        "MRZ_JPN_NUMBER_INVALID",
    }
)

#: Every code `bind_to_holder` raises.
BINDING_ERROR_CODES = frozenset(
    {
        "HOLDER_SEX_INVALID",
        "PASSPORT_BIRTH_DATE_MISMATCH",
        "PASSPORT_SEX_MISMATCH",
        "PASSPORT_EXPIRED",
    }
)

#: Every code `read_mrz_image` raises besides those of `parse_td3`.
OCR_ERROR_CODES = frozenset(
    {
        "IMAGE_TOO_LARGE",
        "IMAGE_TOO_SMALL",
        "IMAGE_UNREADABLE",
        "MRZ_NOT_FOUND",
        "OCR_TIMEOUT",
        "OCR_UNAVAILABLE",
    }
)
