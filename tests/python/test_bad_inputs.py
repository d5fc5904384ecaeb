"""The catalogue of bad inputs, Python API and CLI (the R cases are in tests/testthat/test-bad-inputs.R).

Every case is one row of ``CASES``: what the user passes, in words, the call on each surface, and the part of the
message they must get. Each run asserts

(a) the error is the package's input error: ``InputError`` from the API, one line; from the CLI an exit status
    other than 0 with one line of output and no Python traceback;
(b) the message holds the expected fragment;
(c) nothing is left at the output path and the inputs are unchanged: the case's folder (input files, an existing
    output, the model directory) is byte-for-byte what it was, and an AnnData passed in is unchanged.

The message each case gave is recorded; ``docs/bad-inputs.md`` is rendered from these records (with the R cases)
by ``tools/make_bad_input_catalogue.py``, and ``test_the_published_catalogue_is_up_to_date`` (the last test of
this module) fails when a declared case is missing from it or a message differs from the one published.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

from conftest import SMALL_ARCH, make_counts
from scdiffusion import ScDiffusion
from scdiffusion.cli import main
from scdiffusion.data import InputError

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "bad-inputs.md"
RECORD_ENV = "SCDIFFUSION_CATALOGUE_OUT"
ROWS: dict[tuple[str, str], dict] = {}  # (surface, id) -> row, filled by the tests of this module


# ------------------------------------------------------------------------------------------------ the cases
@dataclass
class Case:
    """One bad input. ``api(ctx)`` must raise; ``cli(ctx)`` gives the arguments after ``scdiffusion``."""

    id: str
    input: str
    message: str
    api: Callable | None = None
    cli: Callable | None = None
    env: dict | None = None
    pending: str | None = None  # behaviour being changed on another branch: listed, not yet asserted
    cli_message: str | None = None  # where the CLI's own parser answers first (click usage errors)
    disk: str | None = None  # what is left on disk when it is not "nothing" (e.g. a refused existing output)


def _base() -> ad.AnnData:
    return make_counts(n_cells=90, n_genes=30)


def _set_x(value, i=0, j=0):
    def fn(a):
        x = np.asarray(a.X, dtype=np.float64).copy()
        x[i, j] = value
        a.X = x
    return fn


def _set(attr, value):
    return lambda a: setattr(a, attr, value(a) if callable(value) else value)


def _obs(key, values):
    def fn(a):
        a.obs[key] = values(a.n_obs)
    return fn


def _sub(rows=slice(None), cols=slice(None)):
    return lambda a: a._inplace_subset_obs(np.arange(a.n_obs)[rows]) or a._inplace_subset_var(np.arange(a.n_vars)[cols])


def _train(fn, keys=("cell_type",), **kw):
    """The API call and CLI arguments of training on ``_base()`` changed by ``fn``."""
    def api(ctx):
        ScDiffusion(ctx.data(fn), labels_keys=list(keys), **{"device": "cpu", **SMALL_ARCH, **kw})

    def cli(ctx):
        path = ctx.write(ctx.data(fn), "cells.h5ad")
        flags = [x for k, v in kw.items() for x in (f"--{k.replace('_', '-')}", str(v))]
        return ["train", str(path), "--model-dir", str(ctx.work / "model"), "--quiet",
                *[x for k in keys for x in ("--labels-key", k)], *flags]
    return api, cli


def _train_continuous(fn, key="hours"):
    """Training on ``_base()`` changed by ``fn`` with ``key`` as a continuous column (API call, CLI arguments)."""
    def api(ctx):
        ScDiffusion(ctx.data(fn), continuous_keys=[key], **{"device": "cpu", **SMALL_ARCH})

    def cli(ctx):
        path = ctx.write(ctx.data(fn), "cells.h5ad")
        return ["train", str(path), "--model-dir", str(ctx.work / "model"), "--quiet", "--continuous-key", key]
    return api, cli


def _fit(**train_kw):
    """The API call of model.train(...) on good data (fails before any training)."""
    def api(ctx):
        ScDiffusion(ctx.data(), labels_keys=["cell_type"], device="cpu", **SMALL_ARCH).train(progress=False,
                                                                                           **train_kw)
    return api


def _train_cli(*flags):
    def cli(ctx):
        path = ctx.write(ctx.data(), "cells.h5ad")
        return ["train", str(path), "--model-dir", str(ctx.work / "model"), "--quiet", "--labels-key", "cell_type",
                *flags]
    return cli


def _gen(*args, **kw):
    return lambda ctx: ctx.model.generate(*args, **kw)


def _gen_cli(*flags, output=None):
    def cli(ctx):
        out = output(ctx) if output else ctx.out
        return ["generate", "--model-dir", str(ctx.model_dir), "--output", str(out), "--quiet", *flags]
    return cli


def _interp(labels_key="cell_type", start="type0", end="type1", cells=None, **kw):
    def api(ctx):
        ctx.model.interpolate(ctx.data(cells) if cells else ctx.cells, labels_key, start, end,
                              **{"n_states": 2, "n_cells": 2, **kw})
    return api


def _interp_cli(*flags, labels_key="cell_type", start="type0", end="type1", cells=None):
    def cli(ctx):
        path = ctx.write(ctx.data(cells), "start.h5ad")
        return ["interpolate", "--model-dir", str(ctx.model_dir), "--labels-key", labels_key, "--start", start,
                "--end", end, "--start-cells", str(path), "--n-states", "2", "--n-cells", "2", "--output",
                str(ctx.out), "--quiet", *flags]
    return cli


def _input_path(make):
    """Train from a path made by ``make(ctx)`` (API: ScDiffusion(path); CLI: scdiffusion train path)."""
    def api(ctx):
        ScDiffusion(str(make(ctx)), device="cpu", **SMALL_ARCH)

    def cli(ctx):
        return ["train", str(make(ctx)), "--model-dir", str(ctx.work / "model"), "--quiet"]
    return api, cli


def _file(name, content: bytes = b""):
    def make(ctx):
        p = ctx.work / name
        p.write_bytes(content)
        return ctx.register(p)
    return make


def _folder(name):
    def make(ctx):
        p = ctx.work / name
        p.mkdir()
        return ctx.register(p)
    return make


def _loop(name):
    def make(ctx):
        p = ctx.work / name
        os.symlink(p.name, p)
        return ctx.register(p)
    return make


def _damaged(damage):
    """Load (API) / generate from (CLI) a damaged copy of the model directory."""
    def make(ctx):
        d = ctx.work / "model"
        if not d.exists():
            shutil.copytree(ctx.model_dir, d)
            damage(d)
        return ctx.register(d)

    def api(ctx):
        ScDiffusion.load(make(ctx))

    def cli(ctx):
        return ["generate", "--model-dir", str(make(ctx)), "--n-cells", "2", "--output", str(ctx.out), "--quiet"]
    return api, cli


def _edit_config(**kv):
    def fn(path):
        cfg = json.loads((path / "config.json").read_text())
        cfg.update(kv)
        (path / "config.json").write_text(json.dumps(cfg))
    return fn


def _truncate(name):
    def fn(path):
        data = (path / name).read_bytes()
        (path / name).write_bytes(data[: len(data) // 3])
    return fn


def _existing(kind: str):
    """An output that already exists: a file, a folder, a symlink loop, an unrelated folder of notes."""
    def out(ctx):
        p = ctx.out
        if kind == "file":
            p.write_bytes(b"my results")
        elif kind == "folder":
            p.mkdir()
            (p / "notes.txt").write_text("mine")
        elif kind == "loop":
            os.symlink(p.name, p)
        return ctx.register(p)
    return out


def _gen_to(out_fn, **kw):
    return lambda ctx: ctx.model.generate_to_file(out_fn(ctx), 3, progress=False, **kw)


def _in_missing_folder(name):
    return lambda ctx: ctx.work / name / "cells.h5ad"


def _save_to(make, overwrite=False):
    return lambda ctx: ctx.model.save(make(ctx), overwrite=overwrite)


def _notes_folder(ctx):
    d = ctx.work / "my_notes"
    d.mkdir(exist_ok=True)
    (d / "todo.txt").write_text("keep me")
    return ctx.register(d)


def _file_at(name):
    def make(ctx):
        p = ctx.work / name
        p.write_text("not a folder")
        return ctx.register(p)
    return make


def _existing_model(ctx):
    d = ctx.work / "model"
    if not d.exists():
        shutil.copytree(ctx.model_dir, d)
    return ctx.register(d)


NOT_FINITE = "NaN or infinite"
STAGE_NOTE = "fails before any training"
CASES: list[Case] = [
    # ---- counts
    Case("nan", "a NaN in the counts", NOT_FINITE, *_train(_set_x(np.nan))),
    Case("inf", "an Inf in the counts", NOT_FINITE, *_train(_set_x(np.inf))),
    Case("negative", "a negative count", "negative values", *_train(_set_x(-3.0))),
    Case("non_integer", "a count of 2.5", "non-integer", *_train(_set_x(2.5))),
    Case("huge_count", "a count above 2^31 (3e9)", "above 2^31 - 1", *_train(_set_x(3e9))),
    Case("log_normalised", "log-normalised data instead of counts", "log-normalised",
         *_train(_set("X", lambda a: np.log1p(a.X)))),
    Case("fpkm_like", "FPKM-like values (counts x 37.3)", "pseudo_counts", *_train(_set("X", lambda a: a.X * 37.3))),
    Case("sparse_nan", "a NaN stored in a sparse matrix", NOT_FINITE,
         *_train(lambda a: (setattr(a, "X", sp.csr_matrix(a.X)), a.X.data.__setitem__(3, np.nan)))),
    Case("bool_matrix", "a boolean matrix", "dtype bool", *_train(_set("X", lambda a: a.X > 0))),
    Case("empty", "0 cells", "empty", *_train(_sub(rows=slice(0, 0)))),
    Case("no_genes", "0 genes", "empty", *_train(_sub(cols=slice(0, 0)), keys=())),
    Case("single_cell", "a single cell", "No gene is detected in at least 3 cells", *_train(_sub(rows=slice(0, 1)),
                                                                                           keys=())),
    Case("single_gene", "a single gene", "Only 1 gene is detected", *_train(_sub(cols=slice(0, 1)), keys=())),
    Case("all_zero", "every count zero", "No gene is detected", *_train(_set("X", lambda a: np.zeros_like(a.X)),
                                                                        keys=())),
    Case("all_cells_tiny", "every cell below min_counts (one count each)", "cells have at least 10 counts",
         *_train(_set("X", lambda a: np.tile(np.eye(3, a.n_vars, dtype=np.float32), (a.n_obs // 3, 1)) * 3),
                 keys=(), min_cells=1)),
    Case("duplicated_genes", "duplicated gene names", "var_names_make_unique",
         *_train(_set("var_names", lambda a: ["g0", "g0"] + list(a.var_names[2:])))),
    Case("duplicated_cells", "duplicated cell names", "obs_names_make_unique",
         *_train(_set("obs_names", lambda a: ["c0", "c0"] + list(a.obs_names[2:])))),
    # ---- labels
    Case("one_label", "a label column with a single label", "single label",
         *_train(_obs("cell_type", lambda n: ["B"] * n))),
    Case("missing_labels", "a label column with missing values", "missing values",
         *_train(_obs("cell_type", lambda n: ["B", None, "T"] * (n // 3)))),
    Case("rare_label", "a label with 2 cells", "fewer than 5 cells",
         *_train(_obs("cell_type", lambda n: ["rare"] * 2 + ["B", "T"] * ((n - 2) // 2)))),
    Case("label_one_cell", "a label with one cell", "'solo' (1 cells)",
         *_train(_obs("cell_type", lambda n: ["solo"] + (["B", "T"] * n)[: n - 1]))),
    Case("unicode_label_one_cell", "a unicode label with one cell ('Tüb zelle ✓')", "'Tüb zelle ✓' (1 cells)",
         *_train(_obs("cell_type", lambda n: ["Tüb zelle ✓"] + (["B", "T"] * n)[: n - 1]))),
    # ---- continuous columns (continuous_keys)
    Case("continuous_not_numbers", "a continuous column with labels that are not numbers ('24h')", "not numbers",
         *_train_continuous(_obs("hours", lambda n: ["24h", "0h"] * (n // 2)))),
    Case("continuous_nan", "a continuous column with a NaN", "missing or infinite",
         *_train_continuous(_obs("hours", lambda n: [0.0, np.nan, 24.0] * (n // 3)))),
    Case("continuous_single_value", "a continuous column with a single value", "at least 2 distinct values",
         *_train_continuous(_obs("hours", lambda n: [5.0] * n))),
    Case("missing_column", "labels_keys naming a column not in obs", "Label column 'organ' is not in adata.obs",
         *_train(None, keys=("organ",))),
    Case("column_trailing_space", "labels_keys with a trailing space ('cell_type ')",
         "Label column 'cell_type ' is not in adata.obs", *_train(None, keys=("cell_type ",))),
    Case("duplicated_labels_keys", "the same labels_keys column twice", "labels_keys has duplicates",
         _train(None, keys=("cell_type", "cell_type"))[0]),
    Case("missing_layer", "a layer that is not there", "Layer 'counts' is not in adata.layers",
         *_train(None, layer="counts")),
    Case("not_anndata", "a numpy array instead of an AnnData", "Wrap a matrix",
         lambda ctx: ScDiffusion(np.ones((5, 5)))),
    # ---- input files
    Case("input_missing_unicode", "an input path that does not exist, with spaces and unicode ('nö file.h5ad')",
         "does not exist", *_input_path(lambda ctx: ctx.work / "nö file.h5ad")),
    Case("input_csv", "an existing .csv file as input", "is not an .h5ad or .rds file",
         *_input_path(_file("cells.csv", b"a,b\n1,2\n"))),
    Case("input_garbage", "an .h5ad file that is not HDF5", "Could not read",
         *_input_path(_file("cells.h5ad", b"not hdf5"))),
    Case("input_truncated", "a truncated .h5ad file", "Could not read",
         *_input_path(lambda ctx: _truncated_h5ad(ctx))),
    Case("input_folder", "a folder named cells.h5ad as input", "is a folder",
         *_input_path(_folder("cells.h5ad")), cli_message="is a directory"),
    Case("input_symlink_loop", "an input path that is a symlink loop", "symlink loop",
         *_input_path(_loop("cells.h5ad"))),
    # ---- training options
    Case("threads_negative", "threads = -1", "threads must be a non-negative integer", _train(None, threads=-1)[0],
         lambda ctx: ["--threads", "-1", "train", "x.h5ad", "--model-dir", str(ctx.work / "m")],
         cli_message="positive whole number"),
    Case("threads_fraction", "threads = 1.5", "threads must be a non-negative integer",
         _train(None, threads=1.5)[0],
         lambda ctx: ["--threads", "1.5", "train", "x.h5ad", "--model-dir", str(ctx.work / "m")],
         cli_message="positive whole number"),
    Case("threads_env_text", "SCDIFFUSION_THREADS=many", "positive whole number", None,
         lambda ctx: ["train", "x.h5ad", "--model-dir", str(ctx.work / "m")], env={"SCDIFFUSION_THREADS": "many"}),
    Case("seed_negative", "seed = -1", "seed must be a non-negative integer", *_train(None, seed=-1)),
    Case("seed_huge", "seed = 2^64", "below 2^63", *_train(None, seed=2**64)),
    Case("seed_text", "seed = '1' (a string)", "seed must be a non-negative integer, got '1'",
         _train(None, seed="1")[0], _train_cli("--seed", "one"), cli_message="'one' is not a valid integer"),
    Case("n_latent_one", "n_latent = 1", "n_latent must be at least 2", *_train(None, n_latent=1)),
    Case("hidden_empty", "hidden = () (no layer)", "hidden must be a non-empty list",
         lambda ctx: ScDiffusion(ctx.data(), hidden=(), device="cpu")),
    Case("likelihood_unknown", "likelihood = 'poisson'", "poisson", *_train(None, likelihood="poisson")),
    Case("device_unknown", "device = 'gpu7'", "Unknown device 'gpu7'", *_train(None, device="gpu7")),
    Case("validation_half", "validation_fraction = 0.5", "validation_fraction must be a number in [0, 0.5)",
         *_train(None, validation_fraction=0.5)),
    Case("dropout_one", "dropout = 1", "dropout must be a number in [0, 1)", *_train(None, dropout=1.0)),
    Case("target_sum_zero", "target_sum = 0", "target_sum must be a number > 0", *_train(None, target_sum=0)),
    Case("preset_unknown", "preset = 'tpu'", "tpu", _fit(preset="tpu"), _train_cli("--preset", "tpu")),
    Case("max_steps_zero", "max_steps = 0", "must be a positive integer", _fit(max_steps=0),
         _train_cli("--max-steps", "0")),
    Case("max_steps_unknown_stage", "max_steps for a stage that does not exist ('decoder')",
         "Unknown training stage(s) ['decoder']", _fit(max_steps={"decoder": 3}),
         _train_cli("--max-steps", "decoder=3")),
    Case("max_time_negative", "max_time = -1", "max_time must be a number > 0", _fit(max_time=-1),
         _train_cli("--max-time", "-1")),
    Case("eval_every_zero", "autoencoder={'eval_every': 0}", "eval_every must be a positive integer",
         _fit(autoencoder={"eval_every": 0}), _train_cli("--autoencoder", "eval_every=0")),
    Case("lr_negative", "diffusion={'lr': -1}", "lr must be a number > 0", _fit(diffusion={"lr": -1}),
         _train_cli("--diffusion", "lr=-1")),
    Case("batch_size_zero", "classifier={'batch_size': 0}", "batch_size must be a positive integer",
         _fit(classifier={"batch_size": 0}), _train_cli("--classifier", "batch_size=0")),
    Case("stage_option_unknown", "autoencoder={'lrr': 0.1} (a typo)", "Unknown training option(s) ['lrr']",
         _fit(autoencoder={"lrr": 0.1}), _train_cli("--autoencoder", "lrr=0.1")),
    Case("stage_options_not_mapping", "autoencoder='fast'", "autoencoder must be a mapping",
         _fit(autoencoder="fast"), _train_cli("--autoencoder", "fast"), cli_message="is not OPTION=VALUE, e.g."),
    Case("stage_option_wrong_stage", "autoencoder={'select_by': 'realism'} (a diffusion-stage choice)",
         "is not an option of the autoencoder stage", _fit(autoencoder={"select_by": "realism"}),
         _train_cli("--autoencoder", "select_by=realism")),
    # ---- model folder to write
    Case("model_dir_is_file", "a model folder path that is an existing file", "exists and is not a folder",
         _save_to(_file_at("model")), lambda ctx: _train_cli()(ctx)[:3] + [str(_file_at("model")(ctx))] + ["--quiet"],
         disk="the existing file unchanged", cli_message="is a file"),
    Case("model_dir_exists", "an existing model folder without overwrite", "already exists and is not empty",
         _save_to(_existing_model), lambda ctx: _train_cli()(ctx)[:3] + [str(_existing_model(ctx)), "--quiet"],
         disk="the existing model unchanged"),
    Case("model_dir_unrelated_overwrite", "overwrite=True on a folder the package did not write (notes)",
         "Refusing to overwrite", _save_to(_notes_folder, overwrite=True),
         lambda ctx: _train_cli()(ctx)[:3] + [str(_notes_folder(ctx)), "--quiet", "--overwrite"],
         disk="the folder and its files unchanged"),
    # ---- generation
    Case("n_cells_zero", "n_cells = 0", "positive integer", _gen(0), _gen_cli("--n-cells", "0")),
    Case("n_cells_negative", "n_cells = -5", "positive integer", _gen(-5), _gen_cli("--n-cells", "-5")),
    Case("n_cells_fraction", "n_cells = 2.5", "n_cells must be a positive integer", _gen(2.5),
         _gen_cli("--n-cells", "2.5"), cli_message="'2.5' is not a valid integer"),
    Case("n_cells_text", "n_cells = '3' (a string)", "n_cells must be a positive integer, got '3'", _gen("3")),
    Case("n_cells_huge", "n_cells = 1e9 (more than memory holds)", "of memory, but only",
         _gen(10**9), _gen_cli("--n-cells", "1000000000")),
    Case("unknown_label", "a condition naming an unknown label", "Unknown label 'X'", _gen(3, {"cell_type": "X"}),
         _gen_cli("--n-cells", "3", "--condition", "cell_type=X")),
    Case("label_trailing_space", "a label with a trailing space ('type0 ')", "Unknown label 'type0 '",
         _gen(3, {"cell_type": "type0 "}), _gen_cli("--n-cells", "3", "--condition", "cell_type=type0 ")),
    Case("label_number", "a label given as a number (0) for text labels", "Unknown label '0'",
         _gen(3, {"cell_type": 0}), _gen_cli("--n-cells", "3", "--condition", "cell_type=0")),
    Case("label_unicode", "an unknown unicode label ('Téﬀ ✓')", "Unknown label 'Téﬀ ✓'",
         _gen(3, {"cell_type": "Téﬀ ✓"}), _gen_cli("--n-cells", "3", "--condition", "cell_type=Téﬀ ✓")),
    Case("no_classifier", "a condition naming an unknown column", "No classifier for column 'organ'",
         _gen(3, {"organ": "lung"}), _gen_cli("--n-cells", "3", "--condition", "organ=lung")),
    Case("condition_not_mapping", "condition = 'type0' (a label without its column)", "condition must be a mapping",
         _gen(3, "type0"), _gen_cli("--n-cells", "3", "--condition", "type0"),
         cli_message="'type0' is not COL=LABEL"),
    Case("condition_twice", "the same condition column twice (CLI)", "given twice", None,
         _gen_cli("--n-cells", "3", "--condition", "cell_type=type0", "--condition", "cell_type=type1")),
    Case("per_cell_wrong_length", "per-cell labels of the wrong length", "has 2 labels; give one label or n_cells",
         _gen(3, {"cell_type": ["type0", "type1"]})),
    Case("per_cell_missing", "per-cell labels with a missing value (None)",
         "has 1 missing label(s) (None/NaN), the first at position 1",
         _gen(3, {"cell_type": ["type0", None, "type1"]})),
    Case("condition_missing", "a condition whose label is NaN", "condition['cell_type'] is missing (None/NaN)",
         _gen(3, {"cell_type": float("nan")})),
    Case("guidance_negative", "guidance_scale = -2", "guidance_scale", _gen(3, {"cell_type": "type0"},
                                                                          guidance_scale=-2),
         _gen_cli("--n-cells", "3", "--condition", "cell_type=type0", "--guidance-scale", "-2")),
    Case("guidance_huge", "guidance_scale = 1e9", "guidance_scale must be a finite number in [0, 1000]",
         _gen(3, {"cell_type": "type0"}, guidance_scale=1e9),
         _gen_cli("--n-cells", "3", "--condition", "cell_type=type0", "--guidance-scale", "1e9")),
    Case("guidance_nan", "guidance_scale = NaN", "guidance_scale must be a finite number",
         _gen(3, {"cell_type": "type0"}, guidance_scale=float("nan")),
         _gen_cli("--n-cells", "3", "--condition", "cell_type=type0", "--guidance-scale", "nan")),
    Case("guidance_text", "guidance_scale = 'big'", "must be a number, got 'big'", _gen(3, {"cell_type": "type0"},
                                                                         guidance_scale="big"),
         _gen_cli("--n-cells", "3", "--condition", "cell_type=type0", "--guidance-scale", "big"),
         cli_message="'big' is not a number"),
    Case("guidance_other_column", "guidance_scale for a column without a condition",
         "guidance_scale names columns without a condition", _gen(3, {"cell_type": "type0"},
                                                                 guidance_scale={"tissue": 2}),
         _gen_cli("--n-cells", "3", "--condition", "cell_type=type0", "--guidance-scale", "tissue=2")),
    Case("cfg_negative", "cfg_scale = -1", "cfg_scale must be a finite number in [0, 1000]",
         _gen(3, {"cell_type": "type0"}, cfg_scale=-1),
         _gen_cli("--n-cells", "3", "--condition", "cell_type=type0", "--cfg-scale", "-1")),
    Case("cfg_negative_unconditional", "cfg_scale = -1 without a condition", "cfg_scale must be a finite number",
         _gen(3, cfg_scale=-1), _gen_cli("--n-cells", "3", "--cfg-scale", "-1")),
    Case("cfg_other_column", "cfg_scale for a column without a condition", "cfg_scale names columns without",
         _gen(3, {"cell_type": "type0"}, cfg_scale={"tissue": 2})),
    Case("seed_negative_generate", "seed = -1 when generating", "seed must be a non-negative integer",
         _gen(3, seed=-1), _gen_cli("--n-cells", "3", "--seed", "-1")),
    Case("seed_huge_generate", "seed = 2^64 when generating", "below 2^63", _gen(3, seed=2**64),
         _gen_cli("--n-cells", "3", "--seed", str(2**64))),
    Case("seed_fraction_generate", "seed = 1.5 when generating", "seed must be a non-negative integer",
         _gen(3, seed=1.5), _gen_cli("--n-cells", "3", "--seed", "1.5"), cli_message="is not a valid integer"),
    Case("sampler_unknown", "sampler = 'euler'", "euler", _gen(3, sampler="euler"),
         _gen_cli("--n-cells", "3", "--sampler", "euler")),
    Case("guidance_mode_unknown", "guidance = 'none'", "none", _gen(3, guidance="none"),
         _gen_cli("--n-cells", "3", "--guidance", "none")),
    Case("eta_wrong_sampler", "eta for a sampler without it", "has no option eta", _gen(3, eta=0.5),
         _gen_cli("--n-cells", "3", "--eta", "0.5")),
    Case("eta_negative", "eta = -1 (DDIM)", "eta must be a number >= 0", _gen(3, sampler="ddim", eta=-1),
         _gen_cli("--n-cells", "3", "--sampler", "ddim", "--eta", "-1")),
    Case("n_steps_zero", "n_steps = 0", "n_steps must be a positive integer", _gen(3, n_steps=0),
         _gen_cli("--n-cells", "3", "--n-steps", "0")),
    Case("guidance_t_max_high", "guidance_t_max = 5000 (> T)", "guidance_t_max must be an integer in [0, 1000]",
         _gen(3, guidance_t_max=5000), _gen_cli("--n-cells", "3", "--guidance-t-max", "5000")),
    Case("batch_size_zero_generate", "batch_size = 0 when generating", "batch_size must be a positive integer",
         _gen(3, batch_size=0), _gen_cli("--n-cells", "3", "--batch-size", "0")),
    # ---- outputs
    Case("output_csv", "an output ending in .csv", "must end in", _gen_to(lambda ctx: ctx.work / "cells.csv"),
         _gen_cli("--n-cells", "3", output=lambda ctx: ctx.work / "cells.csv")),
    Case("output_exists", "an existing output file without overwrite", "already exists",
         _gen_to(_existing("file")), _gen_cli("--n-cells", "3", output=_existing("file")),
         disk="the existing file unchanged"),
    Case("output_is_folder", "an output path that is a folder (overwrite)", "is a folder",
         _gen_to(_existing("folder"), overwrite=True),
         _gen_cli("--n-cells", "3", "--overwrite", output=_existing("folder")),
         disk="the folder and its files unchanged", cli_message="is a directory"),
    Case("output_symlink_loop", "an output path that is a symlink loop", "a symbolic link",
         _gen_to(_existing("loop")), _gen_cli("--n-cells", "3", output=_existing("loop")),
         disk="the link unchanged"),
    Case("output_folder_missing", "an output in a folder that does not exist ('nö dir/')", "does not exist",
         _gen_to(_in_missing_folder("nö dir")), _gen_cli("--n-cells", "3", output=_in_missing_folder("nö dir"))),
    # ---- interpolation
    Case("t_start_high", "t_start = 5000 (> T - 1)", "t_start", _interp(t_start=5000),
         _interp_cli("--t-start", "5000")),
    Case("t_start_zero", "t_start = 0", "t_start", _interp(t_start=0), _interp_cli("--t-start", "0")),
    Case("same_labels", "start and end the same label", "same label", _interp(end="type0"),
         _interp_cli(end="type0")),
    Case("one_state", "n_states = 1", "n_states must be at least 2", _interp(n_states=1),
         _interp_cli("--n-states", "1")),
    Case("interp_unknown_label", "an unknown end label", "Unknown label 'typeX'", _interp(end="typeX"),
         _interp_cli(end="typeX")),
    Case("interp_no_classifier", "labels_key without a classifier", "No classifier for column 'organ'",
         _interp(labels_key="organ"), _interp_cli(labels_key="organ")),
    Case("interp_cells_lack_column", "start cells without the labels_key column",
         "start_cells has no obs column 'cell_type'", _interp(cells=lambda a: a.obs.drop(columns="cell_type",
                                                                                         inplace=True)),
         _interp_cli(cells=lambda a: a.obs.drop(columns="cell_type", inplace=True))),
    Case("interp_no_start_cells", "start cells with no cell of the start label",
         "start_cells has no cell labelled 'type0'",
         _interp(cells=lambda a: a._inplace_subset_obs(np.asarray(a.obs.cell_type != "type0"))),
         _interp_cli(cells=lambda a: a._inplace_subset_obs(np.asarray(a.obs.cell_type != "type0")))),
    Case("interp_layer_missing", "start cells without the layer asked for", "Layer 'counts' is not in",
         _interp(layer="counts"), _interp_cli("--layer", "counts")),
    Case("interp_cfg_negative", "cfg_scale = -1 when interpolating", "cfg_scale must be a number in [0, 1000]",
         _interp(cfg_scale=-1), _interp_cli("--cfg-scale", "-1")),
    Case("interp_unknown_method", "an unknown interpolation method", "choose one of ['auto', 'gradient', 'two-ended']",
         _interp(method="nope"), _interp_cli("--method", "nope"),
         cli_message="is not one of 'auto', 'gradient', 'two-ended'"),
    Case("interp_two_ended_no_end_cells", "method two-ended, start cells with no cell of the end label",
         "start_cells has no cell labelled 'type1'",
         _interp(method="two-ended", cells=lambda a: a._inplace_subset_obs(np.asarray(a.obs.cell_type != "type1"))),
         _interp_cli("--method", "two-ended",
                     cells=lambda a: a._inplace_subset_obs(np.asarray(a.obs.cell_type != "type1")))),
    Case("mismatched_genes", "start cells lacking 4 of the model's genes", "missing from the data",
         _interp(cells=_sub(cols=slice(4, None))), _interp_cli(cells=_sub(cols=slice(4, None)))),
    Case("latent_mismatched_genes", "get_latent_representation on other genes", "missing from the data",
         lambda ctx: ctx.model.get_latent_representation(ctx.data(_sub(cols=slice(3, None))))),
    # ---- damaged model folders
    Case("newer_format", "a model folder of a newer format version", "newer than this scDiffusion supports",
         *_damaged(_edit_config(format_version=99))),
    Case("truncated_weights", "a truncated model.safetensors", "truncated or corrupted",
         *_damaged(_truncate("model.safetensors"))),
    Case("garbage_weights", "model.safetensors replaced by other bytes", "truncated or corrupted",
         *_damaged(lambda p: (p / "model.safetensors").write_bytes(b"\x80\x04not safetensors"))),
    Case("missing_genes_file", "a model folder without genes.txt", "missing ['genes.txt']",
         *_damaged(lambda p: (p / "genes.txt").unlink())),
    Case("bad_json", "a config.json that is not JSON", "not valid JSON",
         *_damaged(lambda p: (p / "config.json").write_text("{"))),
    Case("truncated_config", "a truncated config.json", "not valid JSON",
         *_damaged(lambda p: (p / "config.json").write_text('{"format_version": 2, "arch": {"n_latent": 1'))),
    Case("not_scdiffusion", "a config.json without format_version", "not written by scDiffusion",
         *_damaged(_edit_config(format_version=None))),
    Case("model_missing", "a model folder that does not exist", "does not exist",
         lambda ctx: ScDiffusion.load(ctx.work / "nomodel"),
         lambda ctx: ["generate", "--model-dir", str(ctx.work / "nomodel"), "--n-cells", "2", "--output",
                      str(ctx.out)]),
    Case("model_symlink_loop", "a model folder that is a symlink loop", "a symbolic link that leads nowhere",
         lambda ctx: ScDiffusion.load(_loop("model")(ctx)),
         lambda ctx: ["generate", "--model-dir", str(_loop("model")(ctx)), "--n-cells", "2", "--output",
                      str(ctx.out)]),
]


def _truncated_h5ad(ctx):
    p = ctx.work / "cells.h5ad"
    _base().write_h5ad(p)
    p.write_bytes(p.read_bytes()[:4000])
    return ctx.register(p)


# ------------------------------------------------------------------------------------------------ the checks
class Ctx:
    """A case's world: its own folder, the shared trained model (a folder no case may change), data."""

    def __init__(self, work: Path, setup):
        self.work, self.out = work, work / "out.h5ad"
        self.model, self.cells, self.model_dir = setup
        self.given: list[tuple[ad.AnnData, str]] = []
        self.inputs: dict = {}  # files the case made as the user's inputs, as they were made

    def register(self, path: Path) -> Path:
        """``path`` (a file, folder or link the case made) is an input: it must be unchanged after the call."""
        self.inputs[str(path)] = _entry(path)
        if path.is_dir() and not path.is_symlink():
            self.inputs.update(_snapshot(path))
        return path

    def data(self, fn=None) -> ad.AnnData:
        a = _base()
        if fn is not None:
            fn(a)
        self.given.append((a, _adata_hash(a)))
        return a

    def write(self, a: ad.AnnData, name: str) -> Path:
        path = self.work / name
        a.write_h5ad(path)
        return self.register(path)


def _adata_hash(a: ad.AnnData) -> str:
    h = hashlib.sha1()
    x = a.X
    for part in ((x.data, x.indices, x.indptr) if sp.issparse(x) else (np.asarray(x),)):
        h.update(np.ascontiguousarray(part).tobytes())
    h.update(a.obs.to_csv().encode())
    h.update("|".join(map(str, a.var_names)).encode())
    h.update(repr(sorted(a.layers.keys())).encode())
    return h.hexdigest()


def _snapshot(*roots: Path) -> dict:
    """Every file, link and folder under ``roots``: content hash, link target, or 'dir'."""
    out = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                out[str(p)] = _entry(p)
    return out


def _entry(p: Path) -> str:
    if p.is_symlink():
        return "-> " + os.readlink(p)
    return "dir" if p.is_dir() else hashlib.sha1(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny model trained for 10 steps per stage, saved; the cells it was trained on."""
    d = tmp_path_factory.mktemp("catalogue_model")
    a = _base()
    m = ScDiffusion(a, labels_keys=["cell_type"], device="cpu", **SMALL_ARCH)
    m.train(progress=False, autoencoder={"max_steps": 10}, diffusion={"max_steps": 10},
            classifier={"max_steps": 10})
    m.save(d / "model")
    return m, a, d / "model"


def _normalise(text: str, tmp_root: Path) -> str:
    """One line with the per-run temporary folders written as <tmp>, and the machine's free memory (in the
    memory bound's message) as <free memory> / <N> cells, so that the published table does not depend on it."""
    text = " ".join(text.split())
    text = re.sub(r"but only [0-9.]+ [KMGT]?B is available: at most about [0-9]+ cells",
                  "but only <free memory> is available: at most about <N> cells", text)
    return re.sub(re.escape(str(tmp_root)) + r"/[^/\s'\"]+", "<tmp>", text)


def _record(case: Case, surface: str, message: str, tmp_root: Path) -> None:
    ROWS[(surface, case.id)] = {"id": case.id, "surface": surface, "input": case.input,
                                "message": _normalise(message, tmp_root),
                                "disk": case.disk or "nothing: no output, inputs unchanged"}


def _run_case(case, ctx, surface, call, tmp_path_factory):
    before = _snapshot(ctx.work, ctx.model_dir)
    message = call()
    after = _snapshot(ctx.work, ctx.model_dir)
    expected = {**before, **ctx.inputs}  # the case's own input files, as they were made (maybe during the call)
    changed = {k: (expected.get(k), after.get(k)) for k in set(after) | set(expected)
               if after.get(k) != expected.get(k)}
    assert not changed, f"left on disk or changed (expected, found): {changed}"  # (c)
    for a, digest in ctx.given:
        assert _adata_hash(a) == digest, "the AnnData passed in was modified"
    _record(case, surface, message, tmp_path_factory.getbasetemp())


API_CASES = [c for c in CASES if c.api is not None]
CLI_CASES = [c for c in CASES if c.cli is not None]


@pytest.mark.parametrize("case", API_CASES, ids=[c.id for c in API_CASES])
def test_python_api(case, setup, tmp_path, tmp_path_factory):
    if case.pending:
        pytest.skip(f"pending: {case.pending}")
    ctx = Ctx(tmp_path, setup)

    def call():
        with pytest.raises(Exception) as info:
            case.api(ctx)
        err = info.value
        assert type(err) is InputError, f"{type(err).__name__}: {err}"  # (a)
        assert "\n" not in str(err) and case.message in str(err), str(err)  # (a), (b)
        return str(err)
    _run_case(case, ctx, "Python", call, tmp_path_factory)


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli(case, setup, tmp_path, tmp_path_factory):
    if case.pending:
        pytest.skip(f"pending: {case.pending}")
    ctx = Ctx(tmp_path, setup)
    args = case.cli(ctx)  # makes the input files: they are the user's, present before the command

    def call():
        res = CliRunner().invoke(main, args, env={"SCDIFFUSION_THREADS": "1", **(case.env or {})})
        out = res.output.strip()
        assert res.exit_code != 0, out  # (a)
        assert isinstance(res.exception, SystemExit), repr(res.exception)  # click's error, not an exception
        assert "Traceback" not in out and (out.count("\n") == 0 or out.startswith("Usage:")), out
        assert (case.cli_message or case.message) in out, out  # (b)
        return out.splitlines()[-1] if out.startswith("Usage:") else out
    _run_case(case, ctx, "CLI", call, tmp_path_factory)


# -------------------------------------------------------------------------- cases that need the machine's help
MACHINE_CASES = {
    "readonly_output_folder": "an output in a read-only folder",
    "disk_full": "an output on a full disk (a 128 KiB tmpfs)",
    "two_processes_one_output": "two processes writing one output at once",
    "disk_full_chunked": "generate_to_file / generate --chunk-size onto a full disk",
}


@pytest.fixture
def mounted(tmp_path):
    """``mount(options) -> folder``: a small tmpfs (root only); skips where mounting is not permitted."""
    mounts = []

    def mount(options: str) -> Path:
        d = tmp_path / f"mnt{len(mounts)}"
        d.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(d)], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
        mounts.append(d)
        return d
    yield mount
    for d in mounts:
        subprocess.run(["umount", str(d)], check=False)


def _readonly_folder(tmp_path, mounted) -> Path:
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d
    return mounted("ro,size=64k")  # root ignores permission bits: a read-only file system


def test_readonly_output_folder(setup, tmp_path, tmp_path_factory, mounted):
    ro = _readonly_folder(tmp_path, mounted)
    m, _, model_dir = setup
    case = Case("readonly_output_folder", MACHINE_CASES["readonly_output_folder"], "is not writable")
    before = _snapshot(ro, model_dir)
    with pytest.raises(InputError, match=case.message) as info:
        m.generate_to_file(ro / "cells.h5ad", 3, progress=False)
    _record(case, "Python", str(info.value), tmp_path_factory.getbasetemp())
    res = CliRunner().invoke(main, ["generate", "--model-dir", str(model_dir), "--n-cells", "3", "--output",
                                    str(ro / "cells.h5ad"), "--quiet"])
    assert res.exit_code == 1 and case.message in res.output and "Traceback" not in res.output, res.output
    _record(case, "CLI", res.output.strip(), tmp_path_factory.getbasetemp())
    with pytest.raises(InputError, match="read-only|permission"):
        m.save(ro / "model")
    # training into a read-only place is refused before the training starts, not when its result is saved
    data = tmp_path / "cells.h5ad"
    _base().write_h5ad(data)
    t0 = time.perf_counter()
    res = CliRunner().invoke(main, ["train", str(data), "--model-dir", str(ro / "model"), "--labels-key",
                                    "cell_type", "--quiet"], env={"SCDIFFUSION_THREADS": "1"})
    assert res.exit_code == 1 and "is not writable" in res.output and "Traceback" not in res.output, res.output
    assert time.perf_counter() - t0 < 30, "the check came after the training"
    assert _snapshot(ro, model_dir) == before


def test_disk_full(setup, tmp_path, tmp_path_factory, mounted):
    full = mounted("size=128k")
    m, _, model_dir = setup
    case = Case("disk_full", MACHINE_CASES["disk_full"], "the disk is full",
                disk="nothing: the temporary file is removed, inputs unchanged")
    with pytest.raises(InputError, match=case.message) as info:
        m.save(full / "model")
    assert not list(full.iterdir())
    _record(case, "Python", str(info.value), tmp_path_factory.getbasetemp())
    res = CliRunner().invoke(main, ["generate", "--model-dir", str(model_dir), "--n-cells", "3000", "--output",
                                    str(full / "cells.h5ad"), "--quiet"])
    assert res.exit_code == 1 and case.message in res.output and "Traceback" not in res.output, res.output
    assert not list(full.iterdir())
    _record(case, "CLI", res.output.strip(), tmp_path_factory.getbasetemp())


def test_disk_full_while_writing_chunks(setup, tmp_path, tmp_path_factory, mounted):
    """The chunked writer (h5py) on a disk that fills up part-way: one-line input error, the temporary file
    removed, and the process exits normally. Run in subprocesses: h5py objects that outlive a file whose close
    failed used to crash the interpreter (SIGSEGV) after the error, when they were freed."""
    full = mounted("size=128k")
    _, _, model_dir = setup
    case = Case("disk_full_chunked", MACHINE_CASES["disk_full_chunked"], "the disk is full",
                disk="nothing: the temporary file is removed, inputs unchanged")
    env = {**os.environ, "SCDIFFUSION_THREADS": "1", "PYTHONPATH": str(ROOT / "python")}
    api = ("import faulthandler, gc, sys\n"
           "faulthandler.enable()\n"
           "from scdiffusion import ScDiffusion\n"
           "from scdiffusion.errors import InputError\n"
           "m = ScDiffusion.load(sys.argv[1], device='cpu')\n"
           "try:\n"
           "    m.generate_to_file(sys.argv[2], 20000, chunk_size=1000, progress=False)\n"
           "except InputError as err:\n"
           "    print(err, flush=True)\n"
           "gc.collect()\n")
    out = full / "cells.h5ad"
    res = subprocess.run([sys.executable, "-c", api, str(model_dir), str(out)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr[-2000:]}"
    message = res.stdout.strip()
    assert case.message in message and "\n" not in message, message
    assert not list(full.iterdir())
    _record(case, "Python", message, tmp_path_factory.getbasetemp())
    res = subprocess.run([sys.executable, "-m", "scdiffusion.cli", "generate", "--model-dir", str(model_dir),
                          "--n-cells", "20000", "--chunk-size", "1000", "--output", str(out), "--quiet"],
                         env=env, capture_output=True, text=True, timeout=300)
    message = (res.stdout + res.stderr).strip()
    assert res.returncode == 1 and case.message in message and "Traceback" not in message, (res.returncode, message)
    assert not list(full.iterdir())
    _record(case, "CLI", message, tmp_path_factory.getbasetemp())


def test_two_processes_writing_one_output(setup, tmp_path, tmp_path_factory):
    """Two ``scdiffusion generate`` to one new output at once: the file is complete (one of them), no temporary
    file is left. (That both may succeed, the second replacing the first without --overwrite, is a known gap:
    the output check and the rename are not one atomic step.)"""
    _, _, model_dir = setup
    out = tmp_path / "cells.h5ad"
    env = {**os.environ, "SCDIFFUSION_THREADS": "1", "PYTHONPATH": str(ROOT / "python")}
    cmd = [sys.executable, "-m", "scdiffusion.cli", "generate", "--model-dir", str(model_dir), "--n-cells", "50",
           "--output", str(out), "--quiet"]
    procs = [subprocess.Popen(cmd + ["--seed", str(s)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for s in (1, 2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    codes = [p.returncode for p in procs]
    assert 0 in codes, outputs
    for code, text in zip(codes, outputs):
        assert "Traceback" not in text, text
        if code != 0:
            assert code == 1 and "already exists" in text, text
    written = ad.read_h5ad(out)
    assert written.shape == (50, 30) and written.uns["scdiffusion"]["seed"] in (1, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.h5ad"]  # no temporary file left
    # which of the two outcomes happens depends on timing: the row states both
    ROWS[("CLI", "two_processes_one_output")] = {
        "id": "two_processes_one_output", "surface": "CLI", "input": MACHINE_CASES["two_processes_one_output"],
        "message": "the first to finish succeeds; the other gets \"Error: Output '<tmp>/cells.h5ad' already exists. "
                   "Choose another path or pass overwrite=True (CLI: --overwrite).\" if it checks after that, else "
                   "it succeeds too and its file replaces the first (known gap)",
        "disk": "one complete output file, no temporary file"}


# ------------------------------------------------------------------------------------------------ the table
def declared_rows() -> set[tuple[str, str]]:
    """(surface, id) of every declared Python and CLI case (pending ones included)."""
    rows = {("Python", c.id) for c in API_CASES} | {("CLI", c.id) for c in CLI_CASES}
    rows |= {("Python", k) for k in ("readonly_output_folder", "disk_full", "disk_full_chunked")}
    rows |= {("CLI", k) for k in MACHINE_CASES}
    return rows


def pending_rows() -> list[dict]:
    """The rows of pending cases (not run: the message is the one planned)."""
    return [{"id": c.id, "surface": s, "input": c.input, "message": f"(pending) {c.pending}",
             "disk": "(pending)"} for c in CASES if c.pending for s, f in (("Python", c.api), ("CLI", c.cli)) if f]


def read_catalogue(path: Path = CATALOGUE) -> dict[tuple[str, str], dict]:
    """The rows of the published table, by (surface, id), read by the tool that writes it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_bad_input_catalogue",
                                                  ROOT / "tools" / "make_bad_input_catalogue.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return {(r["surface"], r["id"]): r for r in tool.read_rows(path)}


def test_the_published_catalogue_is_up_to_date():
    """Last in this module: every declared case is in docs/bad-inputs.md, and every case that ran in this session
    gave the message published there (regenerate with `python tools/make_bad_input_catalogue.py`)."""
    if os.environ.get(RECORD_ENV):
        Path(os.environ[RECORD_ENV]).write_text(json.dumps(list(ROWS.values()) + pending_rows(), indent=1,
                                                           ensure_ascii=False), encoding="utf-8")
        pytest.skip(f"rows recorded to {os.environ[RECORD_ENV]}")
    published = read_catalogue()
    fix = " Regenerate it: python tools/make_bad_input_catalogue.py"
    missing = declared_rows() - set(published)
    assert not missing, f"cases not in {CATALOGUE.name}: {sorted(missing)}.{fix}"
    stale = {k for k in published if k[0] != "R"} - declared_rows()
    assert not stale, f"{CATALOGUE.name} lists cases that no longer exist: {sorted(stale)}.{fix}"
    differ = {k: (published[k], row) for k, row in ROWS.items() if published[k] != row}
    assert not differ, f"{CATALOGUE.name} is out of date: {differ}.{fix}"
