"""Failures the read service reports in the caller's terms (mapped to codes in
app/schema/error_policy.py)."""

from __future__ import annotations


class InvalidInputError(Exception):
    """The request names something that cannot be used (e.g. a cursor of another list)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
