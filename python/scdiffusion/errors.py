"""The package's errors for bad user input (one home; every layer raises them). Anything else is a bug."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input. The message says what is wrong and how to fix it."""


class MissingKeyError(InputError, KeyError):
    """Bad user input naming something that is not there (an ``obs`` column, a layer): also a ``KeyError``."""

    def __str__(self) -> str:  # a KeyError would quote the message
        return str(self.args[0]) if self.args else ""
