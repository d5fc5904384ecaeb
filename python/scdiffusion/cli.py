"""Command-line interface, a thin layer over :class:`scdiffusion.ScDiffusion`.

Contract (other tools drive it)::

    scdiffusion train INPUT.h5ad --model-dir DIR [--layer NAME] [--labels-key COL]... [--pretrained DIR]
        [--continuous-key COL]...
    scdiffusion generate --model-dir DIR --n-cells N [--condition COL=LABEL]... --output OUT.h5ad
    scdiffusion interpolate --model-dir DIR --labels-key COL --start A --end B --start-cells REAL.h5ad
                            [--n-states S] [--n-cells N] [--t-start T] --output OUT.h5ad
    scdiffusion quickstart [--output-dir DIR]
    scdiffusion evaluate --real REAL.h5ad --generated GEN.h5ad [--labels-key COL] --output-dir DIR

The options of train / generate / interpolate / evaluate, their defaults, bounds, choices and help come from
:mod:`scdiffusion.options` (the same declarations as the Python API and the R package). Every ``.h5ad`` input
or output may instead be a SingleCellExperiment ``.rds`` file (chosen by extension; needs the optional R
support, :mod:`scdiffusion.data.rds`); generated cells are written with ``X`` as the assay ``logcounts``.
Every input error is one line on stderr with exit code 1 (2 for usage errors); anything else is an internal
error (a bug): its traceback, a sentence saying so, exit code 3. Outputs are written atomically.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path

import click

from .cli_values import parse_conditions, parse_ints, parse_scales, parse_stage, parse_steps
from .errors import InputError
from .options import EVALUATE, GENERATE, INTERPOLATE, STAGE, TRAIN, Operation

logger = logging.getLogger("scdiffusion")

_CLICK_TYPES = {"int": click.INT, "float": click.FLOAT, "str": click.STRING}


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _fail(message: str) -> None:
    raise click.ClickException(message.replace("\n", " "))


def declared(op: Operation, *names: str, **overrides):
    """click options for the declared parameters ``names`` of ``op`` (flag, type, bounds, default, help)."""
    decorators = []
    for name in names:
        o = op[name]
        kw: dict = {"help": o.text, "default": o.default, "show_default": o.default is not None,
                    "required": o.required}
        if o.kind == "choice":
            kw["type"] = click.Choice(list(o.allowed()))
        elif o.kind == "bool":  # on by default, or None (decided from the data): --x/--no-x, so either can be asked
            kw = {"help": o.text, "default": o.default if o.default is None else bool(o.default),
                  "show_default": bool(o.default)}
            if o.default is False:
                kw["is_flag"] = True
        elif o.kind == "path":
            kw["type"] = click.Path()
        elif o.kind == "ints":  # comma-separated on the command line
            kw.update(type=click.STRING, default=",".join(map(str, o.default)), callback=parse_ints,
                      help=o.text + " Comma-separated.")
        elif o.kind in _CLICK_TYPES:  # bounds are checked by the Python API, with the same messages
            kw["type"] = _CLICK_TYPES[o.kind]
            if o.low is not None or o.high is not None:
                kw["help"] = f"{o.text} ({o.describe()})"
        else:  # lists and mappings: repeatable strings, parsed by the command
            kw.update(multiple=True, default=() if o.default is None else (str(o.default),),
                      help=o.text + " Repeatable.")
        kw.update(overrides.get(name, {}))
        flag = f"{o.flag}/--no-{o.flag[2:]}" if o.kind == "bool" and o.default is not False else o.flag
        decorators.append(click.option(flag, name, **kw))

    def apply(f):
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


def _check_output(output: str, overwrite: bool) -> Path:
    """An .h5ad or .rds output path, checked (and R support, for .rds) before any work starts."""
    from .data.io import check_anndata_output

    return check_anndata_output(output, overwrite=overwrite)


class InternalError(click.ClickException):
    """A failure that is not the user's: reported with its traceback and a request to report it (exit code 3)."""

    exit_code = 3


def _run(fn):
    """Run a command's work: input errors (and a full disk, a read-only folder) become one line; anything else is an
    internal error, shown with its traceback and said to be a bug."""
    try:
        return fn()
    except InputError as err:
        _fail(str(err))
    except MemoryError:
        _fail("Out of memory. Ask for fewer cells at a time (generate --chunk-size N writes them in chunks) or "
              "a smaller batch size.")
    except OSError as err:  # the machine's state, not a bug: disk full, permission denied, read-only file system
        if err.errno is None:
            raise _internal(err) from err
        where = f" ({err.filename})" if err.filename else ""
        _fail(f"{err.strerror or err}{where}. Free space or choose a writable location; nothing partial was left "
              "at the output path.")
    except click.ClickException:
        raise
    except RuntimeError as err:
        if "can't allocate memory" in str(err) or "out of memory" in str(err).lower():
            _fail("Out of memory. Ask for fewer cells at a time (generate --chunk-size N writes them in chunks) or "
                  "a smaller batch size.")
        raise _internal(err) from err
    except Exception as err:  # noqa: BLE001 - any other failure is ours
        raise _internal(err) from err


def _internal(err: BaseException) -> InternalError:
    from ._version import __version__

    trace = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    click.echo(trace, err=True)
    return InternalError(f"internal error ({type(err).__name__}: {err}). This is a bug in scdiffusion {__version__}, "
                         "not a problem with your input: please report it with the traceback above.")


_OUTPUT = {"type": click.Path(dir_okay=False), "metavar": "OUT.h5ad|OUT.rds",
           "help": "Output .h5ad, or .rds (SingleCellExperiment; X as assay 'logcounts')."}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scdiffusion-ldm", prog_name="scdiffusion")
@click.option("--threads", default=None, envvar="SCDIFFUSION_THREADS", metavar="N",
              help="CPU threads, fixed for the run (default, 0 or 'auto': every usable core; environment: "
                   "SCDIFFUSION_THREADS).")
def main(threads: str | None) -> None:
    """scDiffusion: generate realistic single-cell RNA-seq data with a latent diffusion model."""
    from .runtime import parse_threads

    try:
        threads = parse_threads(threads, "--threads / SCDIFFUSION_THREADS")
    except InputError as err:
        raise click.BadParameter(str(err), param_hint="--threads") from None
    if threads is not None:
        from .runtime import set_threads

        set_threads(threads)


@main.command()
@click.argument("input_path", metavar="INPUT.h5ad|INPUT.rds", type=click.Path(dir_okay=False))
@click.option("--model-dir", required=True, type=click.Path(file_okay=False), help="Where to save the model.")
@declared(TRAIN, *(o.name for o in TRAIN.on("cli")),
          max_steps={"metavar": "N|STAGE=N", "help": TRAIN["max_steps"].text + " Repeatable as STAGE=N."},
          **{stage: {"metavar": "OPTION=VALUE", "help": f"{TRAIN[stage].text} Repeatable OPTION=VALUE, e.g. "
                     "--autoencoder select_by=split --diffusion max_steps=24000; options: "
                     f"{', '.join(o.name for o in STAGE.options)}."} for stage in ("autoencoder", "diffusion",
                                                                                   "classifier")},
          checkpoint_dir={"type": click.Path(file_okay=False),
                          "help": "Resumable checkpoints (default: MODEL_DIR.ckpt next to the model; removed after "
                                  "success). Re-running an interrupted command resumes from them."})
@click.option("--autoencoder-steps", type=click.IntRange(min=1), default=None, hidden=True)
@click.option("--diffusion-steps", type=click.IntRange(min=1), default=None, hidden=True)
@click.option("--classifier-steps", type=click.IntRange(min=1), default=None, hidden=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing model directory.")
@click.option("--quiet", is_flag=True, help="No progress bars or log lines.")
def train(input_path, model_dir, overwrite, quiet, autoencoder_steps, diffusion_steps, classifier_steps, **opts):
    """Train a model on raw counts in INPUT.h5ad (or a SingleCellExperiment INPUT.rds) and save it to --model-dir."""
    _setup_logging(not quiet)
    from .atomic import check_output_dir, remove_own_folder
    from .model import ScDiffusion
    out = Path(model_dir)
    _run(lambda: check_output_dir(out, overwrite=overwrite, kind="model"))
    max_steps = parse_steps(opts.pop("max_steps"))
    stages = {stage: parse_stage(opts.pop(stage), stage) for stage in ("autoencoder", "diffusion", "classifier")}
    old = {"autoencoder": autoencoder_steps, "diffusion": diffusion_steps, "classifier": classifier_steps}
    if any(v is not None for v in old.values()):
        click.echo("Warning: --autoencoder-steps, --diffusion-steps and --classifier-steps are deprecated; use "
                   "--max-steps STAGE=N.", err=True)
        base = max_steps if isinstance(max_steps, dict) else {} if max_steps is None else dict.fromkeys(old, max_steps)
        max_steps = {**base, **{k: v for k, v in old.items() if v is not None}}
    fit = {k: opts.pop(k) for k in ("preset", "max_time", "checkpoint_dir", "checkpoint_every")}
    backed = opts["backed"]

    def work():
        model = ScDiffusion(input_path, **{**opts, "labels_keys": list(opts["labels_keys"])})
        ckpt = Path(fit["checkpoint_dir"]) if fit["checkpoint_dir"] else out.with_name(out.name + ".ckpt")
        ckpt = None if backed and not fit["checkpoint_dir"] else ckpt
        model.train(preset=fit["preset"], max_time=fit["max_time"], max_steps=max_steps, progress=not quiet,
                    checkpoint_dir=ckpt, checkpoint_every=fit["checkpoint_every"], **stages)
        model.save(out, overwrite=overwrite)
        if not fit["checkpoint_dir"] and ckpt is not None:
            remove_own_folder(ckpt, "checkpoint")  # only ever a checkpoint folder that scDiffusion wrote
        return model

    model = _run(work)
    click.echo(f"Saved {model!r} to {out}")


@main.command()
@click.option("--model-dir", required=True, type=click.Path(file_okay=False))
@declared(GENERATE, *(o.name for o in GENERATE.on("cli")),
          condition={"metavar": "COL=LABEL", "help": "Guide to LABEL of obs column COL (a number for a "
                                                      "continuous column, e.g. hours=36); repeat for a combination."},
          guidance_scale={"metavar": "G|COL=G", "help": "Classifier guidance weight, or per column COL=G."},
          cfg_scale={"metavar": "W|COL=W", "help": "Classifier-free guidance weight, or per column COL=W."},
          n_cells={"type": click.INT})
@click.option("--device", default=TRAIN.defaults.device, show_default=True, help=TRAIN["device"].text)
@click.option("--mixed-precision", is_flag=True, default=False, help=TRAIN["mixed_precision"].text)
@click.option("--output", required=True, **_OUTPUT)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--quiet", is_flag=True)
@click.option("--chunk-size", type=click.IntRange(min=1), default=None,
              help="Generate and write this many cells at a time straight to OUT.h5ad (memory bounded by one chunk).")
def generate(model_dir, device, mixed_precision, output, overwrite, quiet, chunk_size, **opts):
    """Generate N cells (of a label or a combination of labels) into OUT.h5ad or OUT.rds."""
    _setup_logging(not quiet)
    cond = parse_conditions(opts.pop("condition")) or None
    opts["guidance_scale"] = parse_scales(opts["guidance_scale"])
    opts["cfg_scale"] = parse_scales(opts["cfg_scale"], "--cfg-scale")
    n_cells = opts.pop("n_cells")
    if n_cells <= 0:
        raise click.BadParameter(f"must be a positive integer, got {n_cells}", param_hint="--n-cells")
    from .data.io import write_anndata_atomic
    from .model import ScDiffusion

    def work():
        out = _check_output(output, overwrite)
        model = ScDiffusion.load(model_dir, device=device, mixed_precision=mixed_precision)
        if chunk_size is not None:
            return model.generate_to_file(out, n_cells, cond, chunk_size=chunk_size, overwrite=overwrite,
                                          progress=not quiet, **opts)
        adata = model.generate(n_cells, cond, progress=not quiet, **opts)
        return write_anndata_atomic(adata, out, overwrite=overwrite, x_name="logcounts")

    path = _run(work)
    click.echo(f"Wrote {n_cells} generated cells to {path}")


@main.command()
@click.option("--model-dir", required=True, type=click.Path(file_okay=False))
@declared(INTERPOLATE, *(o.name for o in INTERPOLATE.on("cli")),
          start_cells={"type": click.Path(dir_okay=False), "help": "Real cells (.h5ad or .rds, counts); those "
                       "labelled --start are the starting point (two-ended, the default when there are any: and those "
                       "labelled --end)."},
          layer={"help": "Layer of --start-cells with raw counts (default: the model's)."},
          guidance_scale={"metavar": "G|COL=G", "help": "Classifier guidance weight, or COL=G for --labels-key."},
          cfg_scale={"metavar": "W|COL=W", "help": "Classifier-free guidance weight, or COL=W for --labels-key."},
          at={"metavar": "VALUE"})
@click.option("--device", default=TRAIN.defaults.device, show_default=True, help=TRAIN["device"].text)
@click.option("--mixed-precision", is_flag=True, default=False, help=TRAIN["mixed_precision"].text)
@click.option("--output", required=True, **_OUTPUT)
@click.option("--overwrite", is_flag=True)
@click.option("--quiet", is_flag=True)
def interpolate(model_dir, device, mixed_precision, output, overwrite, quiet, **opts):
    """Interpolation from label --start to label --end: from blends of paired real cells of --start and --end
    (two-ended, the default when --start-cells has both), or Gradient Interpolation from real cells of --start."""
    _setup_logging(not quiet)
    opts["guidance_scale"] = parse_scales(opts["guidance_scale"])
    opts["cfg_scale"] = parse_scales(opts["cfg_scale"], "--cfg-scale")
    opts["at"] = list(opts["at"]) or None  # values of a continuous --labels-key (checked as numbers by the API)
    from .data.io import write_anndata_atomic
    from .model import ScDiffusion

    def work():
        out = _check_output(output, overwrite)
        model = ScDiffusion.load(model_dir, device=device, mixed_precision=mixed_precision)
        adata = model.interpolate(opts.pop("start_cells"), opts.pop("labels_key"), opts.pop("start"),
                                  opts.pop("end"), progress=not quiet, **opts)
        return write_anndata_atomic(adata, out, overwrite=overwrite, x_name="logcounts")

    path = _run(work)
    click.echo(f"Wrote {len(opts['at']) if opts['at'] else opts['n_states']} states × {opts['n_cells']} cells to "
               f"{path}")


@main.command()
@declared(EVALUATE, *(o.name for o in EVALUATE.on("cli")),
          real={"type": click.Path(dir_okay=False), "help": "Real cells (.h5ad or .rds)."},
          generated={"type": click.Path(dir_okay=False), "help": "Generated cells (.h5ad or .rds)."},
          train={"type": click.Path(dir_okay=False), "help": "Training cells, .h5ad or .rds (memorisation check)."},
          de_pairs={"metavar": "A:B"})
@click.option("--model-dir", default=None, type=click.Path(file_okay=False), help="Model (for loss curves).")
@click.option("--output-dir", required=True, type=click.Path(file_okay=False))
@click.option("--overwrite", is_flag=True)
def evaluate(model_dir, output_dir, overwrite, **opts):
    """Compare generated with real cells, each metric judged against a real-vs-real control: metrics.json,
    figures and report.md (with pass/fail per metric) in --output-dir."""
    _setup_logging(True)
    from .data.io import read_anndata
    from .evaluation import write_report

    pairs = []
    for p in opts.pop("de_pairs"):
        a, sep, b = p.partition(":")
        if not sep or not a or not b:
            raise click.BadParameter(f"{p!r} is not A:B", param_hint="--de-pair")
        pairs.append((a, b))
    for side in ("real_counts_layer", "generated_counts_layer"):
        opts[side] = None if str(opts[side]).lower() == "none" else opts[side]

    def work():
        real, gen = read_anndata(opts.pop("real")), read_anndata(opts.pop("generated"))
        train_path = opts.pop("train")
        train_cells = read_anndata(train_path) if train_path else None
        history = None
        if model_dir:
            hist_file = Path(model_dir) / "history.json"
            history = json.loads(hist_file.read_text()) if hist_file.exists() else None
        return write_report(real, gen, output_dir, history=history, overwrite=overwrite, train=train_cells,
                            de_pairs=pairs or None, **opts)

    path = _run(work)
    meta = json.loads((Path(path) / "metrics.json").read_text()).get("meta", {})
    click.echo(f"Wrote evaluation report to {path}: {meta.get('n_passed', '?')} metrics passed, "
               f"{meta.get('n_failed', '?')} failed against the real-vs-real control.")


@main.command()
@click.option("--output-dir", default="scdiffusion_quickstart", show_default=True, type=click.Path(file_okay=False))
@click.option("--n-cells-per-type", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default="auto", show_default=True)
@click.option("--overwrite", is_flag=True)
@click.option("--quiet", is_flag=True)
def quickstart(output_dir, n_cells_per_type, seed, device, overwrite, quiet):
    """Train on the bundled PBMC data (scanpy's pbmc68k_reduced) and generate every cell type."""
    _setup_logging(not quiet)
    from .quickstart import run_quickstart

    summary = _run(lambda: run_quickstart(output_dir, n_cells_per_type=n_cells_per_type, seed=seed, device=device,
                                          overwrite=overwrite, progress=not quiet))
    click.echo(summary["text"])


if __name__ == "__main__":  # pragma: no cover
    main()
