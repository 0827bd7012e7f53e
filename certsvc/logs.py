"""JSON logs with a request id, and a filter that masks personal data as a second line of defence.

The first line of defence is that no code logs personal data. The filter masks, in every rendered
message and extra field: runs of 12 digits (a My Number), 8-digit dates and ISO dates (birth
dates), passport-number shapes, and the values of fields whose names say they are personal.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import time
from typing import Any

import msgspec

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "certsvc_request_id", default=None
)

MASK = "***"
_PATTERNS = (
    re.compile(r"(?<!\d)\d{12}(?!\d)"),  # My Number
    re.compile(r"(?<!\d)(?:19|20)\d{2}-?(?:0[1-9]|1[0-2])-?(?:0[1-9]|[12]\d|3[01])(?!\d)"),  # dates
    re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{7}(?![A-Z0-9])"),  # Japanese passport number
    re.compile(r"[A-Z0-9<]{30,44}"),  # an MRZ line
)
# What every pattern above needs somewhere in its match: four digits in a row (a My Number, the
# year of a date, the digits of a passport number) or 30 MRZ characters. A text without either
# is left as it is after one scan instead of four (most log messages and fields).
_MAYBE_PERSONAL = re.compile(r"\d{4}|[A-Z0-9<]{30}")
_PERSONAL_FIELDS = frozenset(
    {
        "my_number",
        "mynumber",
        "name",
        "family_name",
        "given_name",
        "name_roman",
        "birth_date",
        "birthdate",
        "dob",
        "address",
        "passport",
        "passport_number",
        "mrz",
        "sex",
    }
)
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def current_request_id() -> str | None:
    """The id of the request being handled, if any."""
    return _request_id.get()


def new_request_id() -> str:
    """32 random hex digits (128 bits, as a UUID's hex form; a quarter of uuid4's cost)."""
    return os.urandom(16).hex()


def set_request_id(value: str | None) -> contextvars.Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


def mask_text(text: str) -> str:
    """`text` with every personal-data-shaped run replaced by `***`."""
    if _MAYBE_PERSONAL.search(text) is None:
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return text


def _mask_value(key: str, value: Any) -> Any:
    if key.lower() in _PERSONAL_FIELDS:
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(key, v) for v in value]
    return value


class PersonalDataFilter(logging.Filter):
    """Masks personal data in the message, its arguments and extra fields of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = mask_text(message)
        record.args = None
        fields = vars(record)
        for key in fields.keys() - _STANDARD_ATTRS:
            fields[key] = _mask_value(key, fields[key])
        if record.exc_info and record.exc_info[1] is not None:
            # Exception messages may quote data (driver errors quote rows): keep the type only.
            record.exc_text = type(record.exc_info[1]).__name__
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extra fields."""

    _second: int = -1
    _second_text: str = ""

    def _timestamp(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # the date and time are formatted once a second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = current_request_id()
        if rid is not None:
            out["request_id"] = rid
        out.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        )
        if record.exc_text:
            out["exc"] = record.exc_text
        return msgspec.json.encode(out).decode()


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """Route the root logger to one JSON handler with the masking filter (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_certsvc", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(PersonalDataFilter())
    handler._certsvc = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's access log quotes the query string; ours (certsvc.access) does not.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
