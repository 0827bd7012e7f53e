"""The root of every error the signing package raises."""

from __future__ import annotations


class SigningError(Exception):
    """Root error of `signing`. `code` is a stable UPPER_SNAKE string; the message never holds
    personal data."""

    code: str = "SIGNING_ERROR"

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code
