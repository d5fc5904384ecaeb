"""The package's error for bad user input (one home; every layer raises it)."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input. The message says what is wrong and how to fix it."""


class InputKeyError(InputError, KeyError):
    """Bad user input that names a missing key (a column, a layer): an :class:`InputError` that is also the
    ``KeyError`` Python callers expect from a lookup."""

    def __str__(self) -> str:  # the message itself, not KeyError's quoted repr
        return str(self.args[0]) if self.args else ""
