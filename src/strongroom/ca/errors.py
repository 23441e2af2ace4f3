"""One exception type for CA problems, so the CLI can map them to exit codes."""
from __future__ import annotations


class CAError(ValueError):
    """A CA operation could not be done; the message is one line and names the input.

    ``code`` is a CLI exit code (2 usage/bad input, 3 not found, 1 failure); it is a
    ValueError so callers that only know ValueError still report it cleanly.
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
