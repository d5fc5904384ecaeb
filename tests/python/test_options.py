"""One concept, one name, one default: the Python API, the CLI and R against the declarations in options.py.

The parameters of train / generate / interpolate / evaluate are read from the Python signatures, the click
commands and the R sources, and compared with :mod:`scdiffusion.options`. Arguments that exist on one surface
only (output paths, ``--quiet``, R's assay pickers) are listed here with the reason.
"""

import inspect
import re
import sys
from pathlib import Path

import pytest

import scdiffusion.cli as cli
from scdiffusion import ScDiffusion
from scdiffusion.diffusion import SAMPLERS
from scdiffusion.options import OPERATIONS, TRAIN

ROOT = Path(__file__).resolve().parents[2]

PYTHON = {
    "train": [ScDiffusion.__init__, ScDiffusion.train],
    "generate": [ScDiffusion.generate],
    "interpolate": [ScDiffusion.interpolate],
    "evaluate": ["scdiffusion.evaluation:evaluate"],
}
PYTHON_ONLY = {"self", "adata"}  # the data argument of the constructor
CLI = {"train": cli.train, "generate": cli.generate, "interpolate": cli.interpolate, "evaluate": cli.evaluate}
CLI_ONLY = {
    "input_path", "model_dir", "output", "output_dir", "overwrite",  # files: where to read and write
    "quiet",  # the CLI's spelling of progress=False
    "chunk_size",  # generate: switches to generate_to_file
    "autoencoder_steps", "diffusion_steps", "classifier_steps",  # deprecated, hidden: --max-steps STAGE=N
}
CLI_FROM_TRAIN = {"device", "mixed_precision"}  # generate / interpolate load the model: the train options' concepts
R_FUNCTIONS = {
    "train": ("R/train.R", r'setMethod\("trainScDiffusion", "SummarizedExperiment", function\('),
    "generate": ("R/generate.R", r'setMethod\("generate", "ScDiffusionModel", function\('),
    "interpolate": ("R/interpolate.R", r'setMethod\("interpolate", "SummarizedExperiment", function\('),
    "evaluate": ("R/evaluate.R", r"evaluateGeneration <- function\("),
}
R_ONLY = {"...": "deprecated argument names", "model": "interpolate's model object (Python: self)",
          "x": "the data object of train (Python: adata) and the model of generate (Python: self)",
          "real_assay": "SummarizedExperiment assay picker", "generated_assay": "SummarizedExperiment assay picker",
          "like": "the SingleCellExperiment whose layout generated cells take, to cbind with it (an R object)"}


def _python_params(op: str) -> dict[str, inspect.Parameter]:
    out = {}
    for fn in PYTHON[op]:
        if isinstance(fn, str):
            mod, name = fn.split(":")
            fn = getattr(__import__(mod, fromlist=[name]), name)
        out.update({n: p for n, p in inspect.signature(fn).parameters.items() if n not in PYTHON_ONLY})
    return out


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_python_signatures_match_the_declarations(op):
    params = _python_params(op)
    declared = {o.name: o for o in OPERATIONS[op].on("python")}
    assert set(params) == set(declared), f"{op}: undeclared {set(params) - set(declared)}, " \
                                         f"missing {set(declared) - set(params)}"
    for name, p in params.items():
        o = declared[name]
        if p.default is inspect.Parameter.empty:
            assert o.required or o.default is None, f"{op}.{name} has no default in Python"
        else:
            assert p.default == o.default, f"{op}.{name}: Python default {p.default!r} != declared {o.default!r}"


def _cli_default(o, value):
    if o.kind == "ints" and isinstance(value, str):
        return tuple(int(v) for v in value.split(","))
    if o.kind == "scale" and len(value) == 1:
        return float(value[0])
    if value == () or (o.kind == "bool" and value is False and o.default is None):
        return None
    return value


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_cli_options_match_the_declarations(op):
    params = {p.name: p for p in CLI[op].params if p.name not in CLI_ONLY}
    declared = {o.name: o for o in OPERATIONS[op].on("cli")}
    extra = set(params) - set(declared)
    assert extra <= CLI_FROM_TRAIN, f"{op}: CLI options without a declaration: {extra - CLI_FROM_TRAIN}"
    assert set(declared) <= set(params), f"{op}: declared but not on the CLI: {set(declared) - set(params)}"
    for name, p in params.items():
        o = declared.get(name) or TRAIN[name]
        assert p.opts[0] == o.flag, f"{op}.{name}: flag {p.opts[0]} != {o.flag}"
        if o.required:
            assert p.required
        else:
            assert _cli_default(o, p.default) == o.default, f"{op}.{name}: CLI default {p.default!r} != {o.default!r}"
        if o.kind == "choice":
            assert list(p.type.choices) == list(o.allowed())


def _r_formals(path: str, pattern: str) -> dict[str, str | None]:
    """``{argument: default R source or None}`` of the function whose definition matches ``pattern``."""
    src = (ROOT / path).read_text()
    start = re.search(pattern, src).end()
    depth, i = 1, start
    while depth:
        depth += {"(": 1, ")": -1}.get(src[i], 0)
        i += 1
    args, depth, cur = [], 0, ""
    for ch in src[start:i - 1]:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            args.append(cur)
            cur = ""
        else:
            cur += ch
    args.append(cur)
    out = {}
    for a in args:
        name, _, default = a.partition("=")
        out[name.strip()] = " ".join(default.split()) or None
    return out


def _r_literal(src: str | None):
    """The value of a simple R literal (numbers, strings, logicals, NULL, c(...)); other code as itself."""
    if src is None:
        return None
    src = src.strip()
    if src == "NULL":
        return None
    if src in ("TRUE", "FALSE"):
        return src == "TRUE"
    if src.startswith('"') and src.endswith('"'):
        return src[1:-1]
    if src.startswith("c(") and src.endswith(")"):
        return tuple(_r_literal(v) for v in src[2:-1].split(","))
    try:
        return float(src.rstrip("L"))
    except ValueError:
        return src


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_r_arguments_match_the_declarations(op):
    formals = _r_formals(*R_FUNCTIONS[op])
    declared = {o.r: o for o in OPERATIONS[op].on("r")}
    undeclared = set(formals) - set(declared) - set(R_ONLY)
    assert not undeclared, f"{op}: R arguments without a declaration: {undeclared}"
    assert set(declared) <= set(formals), f"{op}: declared but missing in R: {set(declared) - set(formals)}"
    for name, o in declared.items():
        r_default = formals[name]
        if o.required:
            assert r_default in (None, "NULL"), f"{op}.{name} is required; R default {r_default}"
            continue
        want = o.r_default if o.r_default is not None else o.default
        got = _r_literal(r_default)
        want = _r_literal(want) if o.r_default is not None else want
        if isinstance(want, (list, tuple)):
            want = tuple(float(v) for v in want)
        elif isinstance(want, (int, float)) and not isinstance(want, bool):
            want = float(want)
        assert got == want, f"{op}.{name}: R default {r_default} != declared {want!r}"


def test_r_option_table_is_generated_from_the_declarations():
    sys.path.insert(0, str(ROOT / "tools"))
    import make_r_options

    assert make_r_options.main(["--check"]) == 0, "run: python tools/make_r_options.py"

    # R CMD check warns about non-ASCII characters in R code, and the table is R code: help texts stay ASCII
    # (e.g. MMD^2, not the superscript)
    table = (ROOT / "R" / "options.R").read_text(encoding="utf-8")
    assert table.isascii(), [line for line in table.splitlines() if not line.isascii()]


def test_sampler_names_are_written_in_one_place():
    """Outside the sampler registry, a sampler's name appears only as the one default (Python's declaration,
    R's signatures); no other file lists samplers."""
    pattern = re.compile("[\"'](" + "|".join(re.escape(n) for n in SAMPLERS) + ")[\"']")
    allowed = {"python/scdiffusion/options.py": 1, "R/generate.R": 1, "R/interpolate.R": 1}
    files = [p for p in (ROOT / "python" / "scdiffusion").rglob("*.py") if p.name != "samplers.py"]
    files += [p for p in (ROOT / "R").glob("*.R") if p.name != "options.R"]  # options.R is generated
    for path in files:
        rel = str(path.relative_to(ROOT))
        n = len(pattern.findall(path.read_text()))
        assert n <= allowed.get(rel, 0), f"{rel} names samplers {n} times; take them from the registry"
