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
