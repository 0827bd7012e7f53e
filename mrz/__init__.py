"""Passport machine-readable zone (ICAO 9303 TD3): strict parsing, binding to the card holder,
and offline OCR of a data page.

Every refusal is an `MrzError` with a stable `code`; see the error table in the root README.
The OCR functions need the `ocr` extra (rapidocr + onnxruntime); everything else is pure Python.
"""

from mrz._binding import bind_to_holder
from mrz._errors import BINDING_ERROR_CODES, OCR_ERROR_CODES, PARSE_ERROR_CODES, MrzError
from mrz._hepburn import hepburn_canonical, names_match_hepburn
from mrz._ocr import OcrResult, read_mrz_image, read_mrz_image_async
from mrz._td3 import Correction, Passport, check_digit, compose_td3, parse_td3

__all__ = [
    "BINDING_ERROR_CODES",
    "OCR_ERROR_CODES",
    "PARSE_ERROR_CODES",
    "Correction",
    "MrzError",
    "OcrResult",
    "Passport",
    "bind_to_holder",
    "check_digit",
    "compose_td3",
    "hepburn_canonical",
    "names_match_hepburn",
    "parse_td3",
    "read_mrz_image",
    "read_mrz_image_async",
]
