"""The package's error for bad user input (one home; every layer raises it)."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input. The message says what is wrong and how to fix it."""
