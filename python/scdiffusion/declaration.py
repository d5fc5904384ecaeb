"""How a user-facing parameter is declared and checked: :class:`Option` (one parameter: name on each surface,
kind, default, bounds, help) and :class:`Operation` (the parameters of one operation, in order).

The declarations themselves are in :mod:`scdiffusion.options`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from .errors import InputError

SURFACES = ("python", "cli", "r")


@dataclass(frozen=True)
class Option:
    """One parameter.

    Parameters
    ----------
    name
        The concept's name: the Python keyword argument, the CLI option ``--name-with-dashes`` and the R
        argument (unless ``r_name`` / ``cli_flag`` say otherwise).
    kind
        ``"int"``, ``"float"``, ``"str"``, ``"bool"``, ``"choice"``, ``"path"``, ``"strings"`` (list of str),
        ``"ints"`` (list of int), ``"floats"`` (list of numbers), ``"condition"`` (``{column: label or labels}``),
        ``"scale"`` (a number or
        ``{column: number}``), ``"overrides"`` (``{option: value}`` of a training stage), ``"steps"``
        (a number of steps, or ``{stage: steps}``).
    default
        Default value (``None``: not set / derived from the model, as ``help`` says).
    help
        One sentence for ``--help`` and R's ``@param`` (or a function returning it, e.g. built from a registry;
        read it as :attr:`text`).
    low, high
        Bounds (inclusive unless ``low_open`` / ``high_open``); a string names a model quantity
        (``"T"``: the number of diffusion steps, ``"T-1"``).
    choices
        Allowed values, or a function returning them (e.g. the sampler registry).
    surfaces
        Where the parameter exists: a subset of ``("python", "cli", "r")``.
    required
        No default: the caller must give it.
    r_name, r_default
        R's spelling and default where they differ (containers, ``progress``); ``r_default`` is R source code.
    cli_flag
        The CLI option when not ``--<name with dashes>`` (e.g. repeatable ``--labels-key`` for ``labels_keys``).
    deprecated_r
        Old R names still accepted for one release, with a deprecation message.
    """

    name: str
    kind: str
    default: Any = None
    help: str | Callable[[], str] = ""
    low: float | str | None = None
    high: float | str | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | Callable[[], Iterable] | None = None
    surfaces: tuple[str, ...] = SURFACES
    required: bool = False
    r_name: str | None = None
    r_default: str | None = None
    cli_flag: str | None = None
    deprecated_r: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The help text."""
        return self.help() if callable(self.help) else self.help

    @property
    def flag(self) -> str:
        """The CLI option."""
        return self.cli_flag or "--" + self.name.replace("_", "-")

    @property
    def r(self) -> str:
        """The R argument name."""
        return self.r_name or self.name

    def allowed(self) -> tuple:
        """The allowed values of a ``"choice"`` option."""
        c = self.choices() if callable(self.choices) else self.choices
        return tuple(c or ())

    def bound(self, which: str, n_timesteps: int | None = None) -> float | None:
        """``low`` or ``high`` as a number (model quantities resolved with ``n_timesteps``)."""
        value = self.low if which == "low" else self.high
        if isinstance(value, str):
            if n_timesteps is None:
                return None
            return {"T": n_timesteps, "T-1": n_timesteps - 1}[value]
        return value

    def check(self, value: Any, *, n_timesteps: int | None = None) -> Any:
        """Return ``value`` checked (and coerced: ints, floats) or raise :class:`InputError` saying what to pass."""
        if value is None:
            if self.required:
                raise InputError(f"{self.name} is required.")
            return None
        if self.kind == "int":
            if isinstance(value, bool) or not _is_integral(value):
                raise InputError(f"{self.name} must be {self._what(n_timesteps)}, got {value!r}.")
            value = int(value)
            if abs(value) > _INT64_MAX:  # torch and numpy seeds, sizes: 64-bit integers
                raise InputError(f"{self.name} must be {self._what(n_timesteps)} below 2^63, got {value}.")
        elif self.kind == "float":
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InputError(f"{self.name} must be {self._what(n_timesteps)}, got {value!r}.") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise InputError(f"{self.name} must be a finite number, got {value}.")
        elif self.kind == "bool":
            if not isinstance(value, bool):
                raise InputError(f"{self.name} must be True or False, got {value!r}.")
            return value
        elif self.kind == "choice":
            allowed = self.allowed()
            if value not in allowed:
                raise InputError(f"Unknown {self.name} {value!r}; choose one of {list(allowed)}.")
            return value
        else:
            return value
        low, high = self.bound("low", n_timesteps), self.bound("high", n_timesteps)
        if (low is not None and (value < low or (self.low_open and value == low))) or \
                (high is not None and (value > high or (self.high_open and value == high))):
            raise InputError(f"{self.name} must be {self._what(n_timesteps)}, got {value!r}.")
        return value

    def from_text(self, text: str, *, n_timesteps: int | None = None) -> Any:
        """``text`` (a command-line value) converted to this option's kind and checked: ``"24000"`` -> 24000,
        ``"true"`` / ``"false"`` -> bool; :class:`InputError` saying what to pass otherwise."""
        value: Any = text
        if self.kind == "int":
            try:
                value = int(text)
            except ValueError:
                raise InputError(f"{self.name} must be {self._what(n_timesteps)}, got {text!r}.") from None
        elif self.kind == "bool":
            value = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(text.lower())
            if value is None:
                raise InputError(f"{self.name} must be true or false, got {text!r}.")
        return self.check(value, n_timesteps=n_timesteps)

    def describe(self) -> str:
        """What a valid value is, e.g. 'a positive integer', 'an integer in [1, T-1]'."""
        if isinstance(self.low, str) or isinstance(self.high, str):
            return ("an integer" if self.kind == "int" else "a number") + \
                f" in [{_fmt(self.low)}, {_fmt(self.high)}]".replace("None", "")
        return self._what(None)

    def _what(self, n_timesteps: int | None) -> str:
        """What a valid value is, in words: 'a positive integer', 'a number in [0, 1000]', ..."""
        low, high = self.bound("low", n_timesteps), self.bound("high", n_timesteps)
        if self.kind == "int" and high is None and low is not None and not self.low_open:
            return {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"at least {_fmt(low)}")
        return ("an integer" if self.kind == "int" else "a number") + self._range(n_timesteps)

    def _range(self, n_timesteps: int | None) -> str:
        low, high = self.bound("low", n_timesteps), self.bound("high", n_timesteps)
        if low is None and high is None:
            return ""
        if high is None:
            return f" {'>' if self.low_open else '>='} {_fmt(low)}"
        if low is None:
            return f" {'<' if self.high_open else '<='} {_fmt(high)}"
        return f" in {'(' if self.low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if self.high_open else ']'}"

    def to_dict(self) -> dict:
        """A JSON-able description (for R's generated option table)."""
        return {"name": self.name, "r": self.r, "kind": self.kind, "default": self.default,
                "r_default": self.r_default, "help": self.text, "low": self.low, "high": self.high,
                "low_open": self.low_open, "high_open": self.high_open,
                "choices": list(self.allowed()) if self.choices is not None else None,
                "required": self.required, "surfaces": list(self.surfaces), "deprecated_r": list(self.deprecated_r)}


_INT64_MAX = 2**63 - 1


def _is_integral(value: Any) -> bool:
    try:
        import numpy as np

        if isinstance(value, np.integer):
            return True
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Operation:
    """The parameters of one operation (``train``, ``generate``, ...), in order."""

    name: str
    options: tuple[Option, ...]
    defaults: SimpleNamespace = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "defaults", SimpleNamespace(**{o.name: o.default for o in self.options}))

    def __getitem__(self, name: str) -> Option:
        for o in self.options:
            if o.name == name:
                return o
        raise KeyError(f"{self.name} has no option {name!r}")

    def __contains__(self, name: str) -> bool:
        return any(o.name == name for o in self.options)

    def on(self, surface: str) -> tuple[Option, ...]:
        """The options that exist on ``surface``."""
        return tuple(o for o in self.options if surface in o.surfaces)

    def check(self, values: dict[str, Any], *, n_timesteps: int | None = None) -> dict[str, Any]:
        """Check several values at once (see :meth:`Option.check`)."""
        return {k: self[k].check(v, n_timesteps=n_timesteps) for k, v in values.items()}

    def to_dict(self) -> dict:
        return {"name": self.name, "options": [o.to_dict() for o in self.options]}
