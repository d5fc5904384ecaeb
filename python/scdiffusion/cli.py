"""Command-line interface, a thin layer over :class:`scdiffusion.ScDiffusion`.

Contract (other tools drive it)::

    scdiffusion train INPUT.h5ad --model-dir DIR [--layer NAME] [--labels-key COL]... [--pretrained DIR]
    scdiffusion generate --model-dir DIR --n-cells N [--condition COL=LABEL]... --output OUT.h5ad
    scdiffusion interpolate --model-dir DIR --labels-key COL --start A --end B --start-cells REAL.h5ad
                            --n-states S --n-cells N [--t-start T] --output OUT.h5ad
    scdiffusion quickstart [--output-dir DIR]
    scdiffusion evaluate --real REAL.h5ad --generated GEN.h5ad [--labels-key COL] --output-dir DIR

Every ``.h5ad`` input or output may instead be a SingleCellExperiment ``.rds`` file (chosen by extension; needs
the optional R support, :mod:`scdiffusion.data.rds`); generated cells are written with ``X`` as the assay
``logcounts``. Every error is one line on stderr with exit code 1 (2 for usage errors); outputs are written
atomically.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import click

from .data.validation import InputError

logger = logging.getLogger("scdiffusion")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _fail(message: str) -> None:
    raise click.ClickException(message.replace("\n", " "))


def _parse_conditions(values: tuple[str, ...]) -> dict[str, str]:
    cond: dict[str, str] = {}
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"{v!r} is not COL=LABEL", param_hint="--condition")
        key, label = v.split("=", 1)
        if not key or not label:
            raise click.BadParameter(f"{v!r} is not COL=LABEL", param_hint="--condition")
        if key in cond:
            raise click.BadParameter(f"column {key!r} given twice", param_hint="--condition")
        cond[key] = label
    return cond


def _parse_scales(values: tuple[str, ...], cond: dict[str, str]) -> float | dict[str, float]:
    """``--guidance-scale 2`` for all, or ``--guidance-scale COL=G`` per classifier."""
    if not values:
        return 2.0
    if len(values) == 1 and "=" not in values[0]:
        try:
            return float(values[0])
        except ValueError:
            raise click.BadParameter(f"{values[0]!r} is not a number", param_hint="--guidance-scale") from None
    scales: dict[str, float] = {}
    for v in values:
        key, _, num = v.partition("=")
        try:
            scales[key] = float(num)
        except ValueError:
            raise click.BadParameter(f"{v!r} is not COL=G", param_hint="--guidance-scale") from None
    for key in cond:
        scales.setdefault(key, 2.0)
    return scales


def _check_output(output: str, overwrite: bool) -> Path:
    """An .h5ad or .rds output path, checked (and R support, for .rds) before any work starts."""
    from .data.io import check_anndata_output

    return check_anndata_output(output, overwrite=overwrite)


def _run(fn):
    """Turn input errors into one-line click errors."""
    try:
        return fn()
    except InputError as err:
        _fail(str(err))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scdiffusion-ldm", prog_name="scdiffusion")
def main() -> None:
    """scDiffusion: generate realistic single-cell RNA-seq data with a latent diffusion model."""


@main.command()
@click.argument("input_path", metavar="INPUT.h5ad|INPUT.rds", type=click.Path(dir_okay=False))
@click.option("--model-dir", required=True, type=click.Path(file_okay=False), help="Where to save the model.")
@click.option("--layer", default=None, help="Layer with raw counts (default: X).")
@click.option("--labels-key", "labels_keys", multiple=True, help="obs column to train a classifier on (repeatable).")
@click.option("--pretrained", default=None, type=click.Path(file_okay=False), help="SCimilarity model folder.")
@click.option("--likelihood", type=click.Choice(["nb", "zinb", "mse"]), default="nb", show_default=True,
              help="Decoder output: negative binomial over counts (nb, zinb) or the paper's MSE on log values.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--preset", type=click.Choice(["cpu", "gpu"]), default="cpu", show_default=True,
              help="Training budgets: minutes on a CPU, or the original GPU scale.")
@click.option("--max-time", type=click.FloatRange(min=1), default=None, help="Total training time budget (s).")
@click.option("--autoencoder-steps", type=click.IntRange(min=1), default=None)
@click.option("--diffusion-steps", type=click.IntRange(min=1), default=None)
@click.option("--classifier-steps", type=click.IntRange(min=1), default=None)
@click.option("--checkpoint-dir", default=None, type=click.Path(file_okay=False),
              help="Resumable checkpoints (default: MODEL_DIR.ckpt next to the model; removed after success). "
                   "Re-running an interrupted command resumes from them.")
@click.option("--checkpoint-every", default=200, show_default=True, type=click.IntRange(min=1),
              help="Steps between checkpoints.")
@click.option("--overwrite", is_flag=True, help="Replace an existing model directory.")
@click.option("--quiet", is_flag=True, help="No progress bars or log lines.")
@click.option("--backed", is_flag=True, help="Out-of-core: stream the counts of a CSR INPUT.h5ad from disk in chunks "
              "(data larger than memory; no resumable checkpoints).")
def train(input_path, model_dir, layer, labels_keys, pretrained, likelihood, device, seed, preset, max_time, autoencoder_steps,
          diffusion_steps, classifier_steps, checkpoint_dir, checkpoint_every, overwrite, quiet, backed):
    """Train a model on raw counts in INPUT.h5ad (or a SingleCellExperiment INPUT.rds) and save it to --model-dir."""
    _setup_logging(not quiet)
    from .model import ScDiffusion
    from .model.serialization import CONFIG_FILE

    out = Path(model_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not overwrite)):
        _fail(f"Model directory '{out}' already exists and is not empty. Choose another path or pass --overwrite.")
    if out.exists() and overwrite and any(out.iterdir()) and not (out / CONFIG_FILE).exists():
        _fail(f"Refusing to overwrite '{out}': it is not an scDiffusion model directory.")

    def work():
        model = ScDiffusion(input_path, labels_keys=list(labels_keys), layer=layer, pretrained=pretrained,
                            likelihood=likelihood, device=device, seed=seed, backed=backed)
        steps = {"autoencoder": autoencoder_steps, "diffusion": diffusion_steps, "classifier": classifier_steps}
        over = {k: {"max_steps": v} for k, v in steps.items() if v is not None}
        ckpt = Path(checkpoint_dir) if checkpoint_dir else out.with_name(out.name + ".ckpt")
        ckpt = None if backed and not checkpoint_dir else ckpt
        model.train(preset=preset, max_time=max_time, progress=not quiet, checkpoint_dir=ckpt,
                    checkpoint_every=checkpoint_every, **over)
        model.save(out, overwrite=overwrite)
        if not checkpoint_dir and ckpt is not None:
            shutil.rmtree(ckpt, ignore_errors=True)
        return model

    model = _run(work)
    click.echo(f"Saved {model!r} to {out}")


@main.command()
@click.option("--model-dir", required=True, type=click.Path(file_okay=False))
@click.option("--n-cells", required=True, type=int, help="Number of cells to generate.")
@click.option("--condition", "conditions", multiple=True, metavar="COL=LABEL",
              help="Guide to LABEL of obs column COL; repeat for a combination.")
@click.option("--guidance-scale", "scales", multiple=True, metavar="G|COL=G",
              help="Guidance weight (default 2), or per column COL=G.")
@click.option("--sampler", type=click.Choice(["dpmpp-sde", "ddpm", "ddim", "dpmpp"]), default="dpmpp-sde",
              show_default=True, help="dpmpp-sde: few-step stochastic DPM-Solver++; ddpm: the paper's 1000 steps.")
@click.option("--n-steps", type=int, default=None,
              help="Sampling steps (default: 25 dpmpp-sde/dpmpp, 1000 ddpm, 100 ddim).")
@click.option("--eta", type=click.FloatRange(min=0), default=0.0, show_default=True, help="DDIM noise (0: deterministic).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default="auto", show_default=True)
@click.option("--output", required=True, type=click.Path(dir_okay=False), metavar="OUT.h5ad|OUT.rds",
              help="Output .h5ad, or .rds (SingleCellExperiment; X as assay 'logcounts').")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--quiet", is_flag=True)
@click.option("--chunk-size", type=click.IntRange(min=1), default=None,
              help="Generate and write this many cells at a time straight to OUT.h5ad (memory bounded by one chunk).")
def generate(model_dir, n_cells, conditions, scales, sampler, n_steps, eta, seed, device, output, overwrite, quiet,
             chunk_size):
    """Generate N cells (of a label or a combination of labels) into OUT.h5ad or OUT.rds."""
    _setup_logging(not quiet)
    cond = _parse_conditions(conditions)
    scale = _parse_scales(scales, cond)
    if n_cells <= 0:
        raise click.BadParameter(f"must be a positive integer, got {n_cells}", param_hint="--n-cells")
    from .data.io import write_anndata_atomic
    from .model import ScDiffusion

    def work():
        out = _check_output(output, overwrite)
        model = ScDiffusion.load(model_dir, device=device)
        if chunk_size is not None:
            return model.generate_to_file(out, n_cells, cond or None, chunk_size=chunk_size, guidance_scale=scale,
                                          sampler=sampler, n_steps=n_steps, eta=eta, seed=seed, overwrite=overwrite,
                                          progress=not quiet)
        adata = model.generate(n_cells, cond or None, guidance_scale=scale, sampler=sampler, n_steps=n_steps,
                               eta=eta, seed=seed, progress=not quiet)
        return write_anndata_atomic(adata, out, overwrite=overwrite, x_name="logcounts")

    path = _run(work)
    click.echo(f"Wrote {n_cells} generated cells to {path}")


@main.command()
@click.option("--model-dir", required=True, type=click.Path(file_okay=False))
@click.option("--labels-key", required=True, help="obs column whose classifier guides the interpolation.")
@click.option("--start", required=True, help="Start label (real cells of it are the starting point).")
@click.option("--end", required=True, help="End label.")
@click.option("--start-cells", required=True, type=click.Path(dir_okay=False),
              help="Real cells (.h5ad or .rds, counts).")
@click.option("--layer", default=None, help="Layer of --start-cells with raw counts (default: the model's).")
@click.option("--n-states", required=True, type=int)
@click.option("--n-cells", required=True, type=int, help="Cells per state.")
@click.option("--t-start", type=int, default=600, show_default=True, help="Noise level of the start cells.")
@click.option("--guidance-scale", type=float, default=2.0, show_default=True)
@click.option("--sampler", type=click.Choice(["dpmpp-sde", "ddpm", "ddim", "dpmpp"]), default="dpmpp-sde",
              show_default=True)
@click.option("--n-steps", type=int, default=None,
              help="Sampling steps from --t-start (default: 25 dpmpp-sde/dpmpp, all t-start+1 ddpm, 100 ddim).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default="auto", show_default=True)
@click.option("--output", required=True, type=click.Path(dir_okay=False), metavar="OUT.h5ad|OUT.rds",
              help="Output .h5ad, or .rds (SingleCellExperiment; X as assay 'logcounts').")
@click.option("--overwrite", is_flag=True)
@click.option("--quiet", is_flag=True)
def interpolate(model_dir, labels_key, start, end, start_cells, layer, n_states, n_cells, t_start, guidance_scale,
                sampler, n_steps, seed, device, output, overwrite, quiet):
    """Gradient Interpolation from label A to label B, starting from real cells of A."""
    _setup_logging(not quiet)
    from .data.io import write_anndata_atomic
    from .model import ScDiffusion

    def work():
        out = _check_output(output, overwrite)
        model = ScDiffusion.load(model_dir, device=device)
        adata = model.interpolate(start_cells, labels_key, start, end, n_states=n_states, n_cells=n_cells,
                                  t_start=t_start, guidance_scale=guidance_scale, sampler=sampler, n_steps=n_steps,
                                  layer=layer, seed=seed, progress=not quiet)
        return write_anndata_atomic(adata, out, overwrite=overwrite, x_name="logcounts")

    path = _run(work)
    click.echo(f"Wrote {n_states} states × {n_cells} cells to {path}")


@main.command()
@click.option("--real", "real_path", required=True, type=click.Path(dir_okay=False), help="Real cells (.h5ad or .rds).")
@click.option("--generated", "gen_path", required=True, type=click.Path(dir_okay=False),
              help="Generated cells (.h5ad or .rds).")
@click.option("--labels-key", default=None, help="obs column present in both (per-label metrics).")
@click.option("--train", "train_path", default=None, type=click.Path(dir_okay=False),
              help="Training cells, .h5ad or .rds (for the memorization metric).")
@click.option("--model-dir", default=None, type=click.Path(file_okay=False), help="Model (for loss curves).")
@click.option("--output-dir", required=True, type=click.Path(file_okay=False))
@click.option("--quick", is_flag=True, help="Fewer trees and cells: fast, less precise.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--overwrite", is_flag=True)
def evaluate(real_path, gen_path, labels_key, train_path, model_dir, output_dir, quick, seed, overwrite):
    """Compare generated with real cells: metrics.json, figures and report.md in --output-dir."""
    _setup_logging(True)
    from .data.io import read_anndata
    from .metrics.report import write_report

    def work():
        real, gen = read_anndata(real_path), read_anndata(gen_path)
        train_cells = read_anndata(train_path) if train_path else None
        history = None
        if model_dir:
            hist_file = Path(model_dir) / "history.json"
            history = json.loads(hist_file.read_text()) if hist_file.exists() else None
        try:
            return write_report(real, gen, output_dir, labels_key=labels_key, history=history, seed=seed,
                                quick=quick, overwrite=overwrite, train=train_cells)
        except (ValueError, FileExistsError) as err:
            raise InputError(str(err)) from err

    path = _run(work)
    click.echo(f"Wrote evaluation report to {path}")


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
