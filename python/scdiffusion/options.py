"""Every user-facing parameter of train / generate / interpolate / evaluate, declared once.

A parameter has one name for one concept in Python, on the command line (``--n-steps`` for ``n_steps``) and in
R, one default and one set of bounds. The Python methods take their defaults from here
(``guidance_scale=GENERATE.defaults.guidance_scale``), the CLI builds its options, choices and help from here
(:func:`scdiffusion.cli`), and R's checks and documentation are generated from here
(``tools/make_r_options.py`` writes ``R/options.R``). ``tests/python/test_options.py`` reads the Python
signatures, the CLI options and the R function arguments and checks them against these declarations.

Where a surface needs its own spelling of a concept, the declaration says so explicitly:

- containers: AnnData's ``layer`` is SummarizedExperiment's ``assay`` in R, and the data argument of R's
  generics is ``x`` (Bioconductor convention);
- ``progress``: shown by default in Python, ``interactive()`` in R, ``--quiet`` on the command line.
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
        ``"ints"`` (list of int), ``"condition"`` (``{column: label or labels}``), ``"scale"`` (a number or
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


def _samplers() -> tuple[str, ...]:
    from .diffusion.samplers import SAMPLERS

    return tuple(SAMPLERS)


def _describe_samplers() -> str:
    from .diffusion.samplers import describe_samplers

    return describe_samplers()


def _likelihoods() -> tuple[str, ...]:
    from .nn.likelihood import OUTPUT_LIKELIHOODS

    return tuple(OUTPUT_LIKELIHOODS)


def _presets() -> tuple[str, ...]:
    from .train.presets import PRESETS

    return tuple(PRESETS)


# ---------------------------------------------------------------------------------------- shared options
_PY_CLI = ("python", "cli")
_PY_R = ("python", "r")
SEED = Option("seed", "int", 0, "Random seed; the same seed on the same machine gives the same result (training: "
              "unless max_time stops a stage).", low=0)
PROGRESS = Option("progress", "bool", True, "Show progress bars.", surfaces=_PY_R, r_default="interactive()")
LAYER = Option("layer", "str", None, "Layer (R: assay) holding raw counts; default X (R: 'counts').",
               r_name="assay", r_default='"counts"')
DEVICE = Option("device", "str", "auto", "Torch device: auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")
BATCH_SIZE = Option("batch_size", "int", 4096, "Cells denoised at a time (memory).", low=1, surfaces=_PY_CLI)
N_CELLS = Option("n_cells", "int", None, "Number of cells to generate.", low=1, required=True)
GUIDANCE_SCALE = Option(
    "guidance_scale", "scale", 2.0,
    "Classifier guidance weight (paper: 2), or one weight per condition column.", low=0, high=1000)
SAMPLER = Option("sampler", "choice", "dpmpp-sde", lambda: "Sampler. " + _describe_samplers(), choices=_samplers)
N_STEPS = Option("n_steps", "int", None, "Sampling steps (default: the sampler's own, see sampler). The log-SNR "
                 "samplers (dpmpp, dpmpp-sde) take fewer when steps coincide near t = 0 (many steps, or a low "
                 "t_start); the parameters record n_steps taken and n_steps_requested.", low=1)
ETA = Option("eta", "float", None, "Noise of the samplers that take it (DDIM: 0, deterministic, by default); "
             "an error with the others.", low=0)
GUIDANCE_T_MAX = Option("guidance_t_max", "int", None,
                        "Guidance applies at original time steps t < guidance_t_max (default T/2), whatever the "
                        "sampler and number of steps.", low=0, high="T")
LABELS_KEY = Option("labels_key", "str", None, "obs (colData) column with the labels.", deprecated_r=("labels",))
_R = ("r",)
GENES = Option("genes", "strings", None, "Genes to return, in this order (default: the model's genes); genes the "
               "model does not generate are zero rows, e.g. genes = rownames(x) to bind the result with x.",
               surfaces=_R)
PREFIX = Option("prefix", "str", None, "Prefix of the cell names, numbered from 1 (default: 'scd' and a hash of "
                "the model and the parameters, so that other calls give other names).", surfaces=_R)

# ---------------------------------------------------------------------------------------- operations
TRAIN = Operation("train", (
    Option("labels_keys", "strings", None,
           "obs (colData) columns to train one classifier each on; their labels become conditions.",
           cli_flag="--labels-key", deprecated_r=("labels",)),
    LAYER,
    Option("pretrained", "path", None, "SCimilarity model folder to fine-tune the autoencoder from."),
    Option("likelihood", "choice", "nb",
           "Decoder output: nb (negative binomial over counts; generated cells get counts), zinb, or mse (the "
           "paper's regression of log-normalised expression).", choices=_likelihoods),
    Option("n_latent", "int", 128, "Latent size of the autoencoder (SCimilarity: 128).", low=2),
    Option("hidden", "ints", (1024, 1024, 1024), "Hidden layer sizes of the encoder (reversed for the decoder).",
           low=1),
    Option("denoiser_hidden", "ints", (512, 512, 256, 128), "Down path of the skip-MLP denoiser (the paper's "
           "widths by default; smaller ones train faster on small data).", low=1),
    Option("classifier_hidden", "ints", (512, 512, 256), "Hidden layers of each noise-aware classifier.", low=1),
    Option("dropout", "float", 0.2, "Dropout of the hidden layers.", low=0, high=1, high_open=True),
    Option("input_dropout", "float", 0.2, "Dropout of the encoder's input genes.", low=0, high=1, high_open=True),
    Option("min_cells", "int", 3, "Genes detected in fewer cells are dropped (paper: 3).", low=0),
    Option("min_counts", "int", 10, "Cells with fewer counts are dropped (paper: 10).", low=0),
    Option("target_sum", "float", 1e4, "Counts per cell after normalisation, before log1p (paper: 1e4).",
           low=0, low_open=True),
    Option("min_cells_per_label", "int", 5, "Labels with fewer training cells are refused.", low=1),
    Option("validation_fraction", "float", 0.1, "Cells held out for early stopping.", low=0, high=0.5,
           high_open=True),
    Option("n_timesteps", "int", 1000, "Diffusion steps T (paper: 1000).", low=10),
    DEVICE,
    SEED,
    Option("backed", "bool", False, "Out-of-core: stream the counts of a CSR .h5ad from disk in chunks.",
           surfaces=_PY_CLI),
    Option("preset", "choice", "cpu", "Training budgets: cpu (minutes for a few thousand cells) or gpu (the "
           "original code's scale).", choices=_presets),
    Option("max_time", "float", None, "Wall-time budget of the whole training in seconds, split 25/60/15 % over "
           "the stages. How many steps fit depends on the machine's speed and load: a stage it stops can train "
           "differently with the same seed (max_steps repeats exactly).", low=0, low_open=True),
    Option("max_steps", "steps", None, "Optimiser steps: one number for every stage, or per stage "
           "(autoencoder, diffusion, classifier).", low=1),
    Option("autoencoder", "overrides", None, "Further options of the autoencoder stage (batch_size, lr, "
           "eval_every, patience, ...).", surfaces=_PY_R),
    Option("diffusion", "overrides", None, "Further options of the diffusion stage.", surfaces=_PY_R),
    Option("classifier", "overrides", None, "Further options of the classifier stage.", surfaces=_PY_R),
    Option("checkpoint_dir", "path", None, "Folder for resumable checkpoints; re-running with it resumes.",
           surfaces=_PY_CLI),
    Option("checkpoint_every", "int", 200, "Steps between checkpoints.", low=1, surfaces=_PY_CLI),
    PROGRESS,
))

GENERATE = Operation("generate", (
    N_CELLS,
    Option("condition", "condition", None,
           "Labels to guide to: {column: label}, several columns for a combination; a value may also be one "
           "label per cell."),
    GUIDANCE_SCALE, SAMPLER, N_STEPS, ETA, GUIDANCE_T_MAX, SEED, BATCH_SIZE, PROGRESS, GENES, PREFIX,
))

INTERPOLATE = Operation("interpolate", (
    Option("start_cells", "path", None, "Real cells with raw counts; those labelled `start` are the starting "
           "point.", required=True, r_name="x"),
    Option("labels_key", "str", None, "obs (colData) column whose classifier guides the interpolation.",
           required=True, deprecated_r=("labels",)),
    Option("start", "str", None, "Start label.", required=True, deprecated_r=("from",)),
    Option("end", "str", None, "End label.", required=True, deprecated_r=("to",)),
    Option("n_states", "int", 5, "Number of states from start to end.", low=2),
    Option("n_cells", "int", 100, "Cells per state.", low=1),
    Option("t_start", "int", 600, "Noise level the start cells are diffused to, and where denoising begins "
           "(paper: 600).", low=1, high="T-1"),
    Option("guidance_scale", "float", GUIDANCE_SCALE.default, "Guidance weight shared by the two labels.",
           low=0, high=1000),
    SAMPLER, N_STEPS, ETA, GUIDANCE_T_MAX, LAYER, SEED, BATCH_SIZE, PROGRESS, GENES, PREFIX,
))

EVALUATE = Operation("evaluate", (
    Option("real", "path", None, "Real cells (held out from training).", required=True),
    Option("generated", "path", None, "Generated cells, same genes.", required=True),
    LABELS_KEY,
    Option("train", "path", None, "Training cells (for the memorisation check).", surfaces=_PY_CLI),
    Option("use_celltypist", "bool", None, "Annotate with CellTypist (default: when it is installed).",
           surfaces=("python",)),
    Option("quick", "bool", False, "Cheaper settings: fewer trees, at most 2000 cells per side."),
    Option("max_cells", "int", None, "Cap on cells per side (default 2000 with quick, else 10000).", low=1),
    Option("n_comps", "int", 50, "Principal components of the PCA-space metrics.", low=2),
    SEED,
))

OPERATIONS = {op.name: op for op in (TRAIN, GENERATE, INTERPOLATE, EVALUATE)}


def options_json() -> dict:
    """Every declaration as plain data (R's generated option table)."""
    return {name: op.to_dict() for name, op in OPERATIONS.items()}
