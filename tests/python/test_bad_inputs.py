"""The table of bad inputs, tried on the Python API and on the CLI: each gives an error that says what is
wrong and how to fix it, and leaves no output file behind."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import SMALL_ARCH, make_counts
from scdiffusion import ScDiffusion
from scdiffusion.cli import main
from scdiffusion.data import InputError


def _base():
    return make_counts(n_cells=90, n_genes=30)


def _with(fn):
    def make():
        a = _base()
        fn(a)
        return a
    return make


def _set_x(value, i=0, j=0):
    def fn(a):
        x = a.X.copy()
        x[i, j] = value
        a.X = x
    return fn


def _relabel(values):
    def fn(a):
        a.obs["cell_type"] = values(a.n_obs)
    return fn


# (id, make AnnData, labels_keys, layer, expected message part)
TRAIN_CASES = [
    ("nan", _with(_set_x(np.nan)), ["cell_type"], None, "NaN or infinite"),
    ("inf", _with(_set_x(np.inf)), ["cell_type"], None, "NaN or infinite"),
    ("negative", _with(_set_x(-3.0)), ["cell_type"], None, "negative values"),
    ("non_integer", _with(_set_x(2.5)), ["cell_type"], None, "non-integer"),
    ("log_normalised", _with(lambda a: setattr(a, "X", np.log1p(a.X))), ["cell_type"], None, "log-normalised"),
    ("fpkm_like", _with(lambda a: setattr(a, "X", a.X * 37.3)), ["cell_type"], None, "pseudo_counts"),
    ("empty", lambda: _base()[:0].copy(), ["cell_type"], None, "empty"),
    ("single_cell", lambda: _base()[:1].copy(), [], None, "No gene is detected in at least 3 cells"),
    ("all_zero", _with(lambda a: setattr(a, "X", np.zeros_like(a.X))), [], None, "No gene is detected"),
    ("one_label", _with(_relabel(lambda n: ["B"] * n)), ["cell_type"], None, "single label"),
    ("missing_labels", _with(_relabel(lambda n: ["B", None, "T"] * (n // 3))), ["cell_type"], None,
     "missing values"),
    ("rare_label", _with(_relabel(lambda n: ["rare"] * 2 + ["B", "T"] * ((n - 2) // 2))), ["cell_type"], None,
     "fewer than 5 cells"),
    ("missing_column", _base, ["organ"], None, "Label column 'organ' is not in adata.obs"),
    ("missing_layer", _base, ["cell_type"], "counts", "Layer 'counts' is not in adata.layers"),
    ("duplicated_genes", _with(lambda a: setattr(a, "var_names", ["g0", "g0"] + list(a.var_names[2:]))),
     ["cell_type"], None, "var_names_make_unique"),
    ("duplicated_cells", _with(lambda a: setattr(a, "obs_names", ["c0", "c0"] + list(a.obs_names[2:]))),
     ["cell_type"], None, "obs_names_make_unique"),
]


@pytest.mark.parametrize("make, keys, layer, message", [c[1:] for c in TRAIN_CASES], ids=[c[0] for c in TRAIN_CASES])
def test_bad_training_input_api(make, keys, layer, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ScDiffusion(make(), labels_keys=keys, layer=layer, device="cpu", **SMALL_ARCH)


@pytest.mark.parametrize("make, keys, layer, message", [c[1:] for c in TRAIN_CASES], ids=[c[0] for c in TRAIN_CASES])
def test_bad_training_input_cli(tmp_path, make, keys, layer, message):
    path = tmp_path / "in.h5ad"
    make().write_h5ad(path)
    before = path.read_bytes()
    args = ["train", str(path), "--model-dir", str(tmp_path / "model"), "--quiet"]
    args += [x for k in keys for x in ("--labels-key", k)] + (["--layer", layer] if layer else [])
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output
    assert message in res.output and res.output.count("\n") == 1, res.output
    assert not (tmp_path / "model").exists() and not (tmp_path / "model.ckpt").exists()
    assert path.read_bytes() == before  # the input is never modified


def test_wrong_object_type_api():
    with pytest.raises(InputError, match="Wrap a matrix"):
        ScDiffusion(np.ones((5, 5)))


# generation-time cases: (id, API call, CLI arguments after the command, message)
GEN_CASES = [
    ("n_cells_zero", lambda m, d: m.generate(0), ["generate", "--n-cells", "0"], "positive integer"),
    ("n_cells_negative", lambda m, d: m.generate(-5), ["generate", "--n-cells", "-5"], "positive integer"),
    ("unknown_label", lambda m, d: m.generate(3, {"cell_type": "X"}),
     ["generate", "--n-cells", "3", "--condition", "cell_type=X"], "Unknown label 'X'"),
    ("no_classifier", lambda m, d: m.generate(3, {"organ": "lung"}),
     ["generate", "--n-cells", "3", "--condition", "organ=lung"], "No classifier for column 'organ'"),
    ("guidance_negative", lambda m, d: m.generate(3, {"cell_type": "type0"}, guidance_scale=-2),
     ["generate", "--n-cells", "3", "--condition", "cell_type=type0", "--guidance-scale", "-2"], "guidance_scale"),
    ("guidance_huge", lambda m, d: m.generate(3, {"cell_type": "type0"}, guidance_scale=1e9),
     ["generate", "--n-cells", "3", "--condition", "cell_type=type0", "--guidance-scale", "1e9"], "guidance_scale"),
    ("n_steps_zero", lambda m, d: m.generate(3, n_steps=0), ["generate", "--n-cells", "3", "--n-steps", "0"],
     "n_steps must be a positive integer"),
    ("t_start_high", lambda m, d: m.interpolate(d, "cell_type", "type0", "type1", t_start=5000),
     ["interpolate", "--labels-key", "cell_type", "--start", "type0", "--end", "type1", "--n-states", "3",
      "--n-cells", "2", "--t-start", "5000"], "t_start"),
    ("t_start_zero", lambda m, d: m.interpolate(d, "cell_type", "type0", "type1", t_start=0),
     ["interpolate", "--labels-key", "cell_type", "--start", "type0", "--end", "type1", "--n-states", "3",
      "--n-cells", "2", "--t-start", "0"], "t_start"),
    ("same_labels", lambda m, d: m.interpolate(d, "cell_type", "type0", "type0"),
     ["interpolate", "--labels-key", "cell_type", "--start", "type0", "--end", "type0", "--n-states", "3",
      "--n-cells", "2"], "same label"),
    ("one_state", lambda m, d: m.interpolate(d, "cell_type", "type0", "type1", n_states=1),
     ["interpolate", "--labels-key", "cell_type", "--start", "type0", "--end", "type1", "--n-states", "1",
      "--n-cells", "2"], "n_states must be at least 2"),
    ("interp_unknown_label", lambda m, d: m.interpolate(d, "cell_type", "type0", "typeX"),
     ["interpolate", "--labels-key", "cell_type", "--start", "type0", "--end", "typeX", "--n-states", "3",
      "--n-cells", "2"], "Unknown label 'typeX'"),
]


@pytest.fixture(scope="module")
def gen_setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("badgen")
    a = _base()
    m = ScDiffusion(a, labels_keys=["cell_type"], device="cpu", **SMALL_ARCH)
    m.train(progress=False, autoencoder={"max_steps": 10}, diffusion={"max_steps": 10}, classifier={"max_steps": 10})
    m.save(d / "model")
    a.write_h5ad(d / "cells.h5ad")
    return m, a, d


@pytest.mark.parametrize("call, args, message", [c[1:] for c in GEN_CASES], ids=[c[0] for c in GEN_CASES])
def test_bad_generation_api(gen_setup, call, args, message):
    m, a, _ = gen_setup
    with pytest.raises(InputError, match=message):
        call(m, a)


@pytest.mark.parametrize("call, args, message", [c[1:] for c in GEN_CASES], ids=[c[0] for c in GEN_CASES])
def test_bad_generation_cli(gen_setup, call, args, message):
    _, _, d = gen_setup
    out = d / "out.h5ad"
    extra = ["--start-cells", str(d / "cells.h5ad")] if args[0] == "interpolate" else []
    res = CliRunner().invoke(main, [*args, *extra, "--model-dir", str(d / "model"), "--output", str(out), "--quiet"])
    assert res.exit_code != 0 and message in res.output, res.output
    assert not out.exists() and not list(d.glob(".out.h5ad*"))


MODEL_CASES = [
    ("newer_format", lambda p: _edit_config(p, format_version=99), "newer than this scDiffusion supports"),
    ("truncated_weights", lambda p: _truncate(p / "model.safetensors"), "truncated or corrupted"),
    ("garbage_weights", lambda p: (p / "model.safetensors").write_bytes(b"\x80\x04not safetensors"),
     "truncated or corrupted"),
    ("missing_genes_file", lambda p: (p / "genes.txt").unlink(), "missing ['genes.txt']"),
    ("bad_json", lambda p: (p / "config.json").write_text("{"), "not valid JSON"),
    ("not_scdiffusion", lambda p: _edit_config(p, format_version=None), "not written by scDiffusion"),
]


def _edit_config(path, **kv):
    cfg = json.loads((path / "config.json").read_text())
    cfg.update(kv)
    (path / "config.json").write_text(json.dumps(cfg))


def _truncate(f):
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("damage, message", [c[1:] for c in MODEL_CASES], ids=[c[0] for c in MODEL_CASES])
def test_damaged_model_directory_api_and_cli(gen_setup, tmp_path, damage, message):
    _, _, d = gen_setup
    model = tmp_path / "model"
    shutil.copytree(d / "model", model)
    damage(model)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ScDiffusion.load(model)
    res = CliRunner().invoke(main, ["generate", "--model-dir", str(model), "--n-cells", "2", "--output",
                                    str(tmp_path / "o.h5ad"), "--quiet"])
    assert res.exit_code == 1 and message in res.output
    assert not (tmp_path / "o.h5ad").exists()


def test_genes_of_new_data_must_match_the_model(gen_setup, tmp_path):
    m, a, d = gen_setup
    other = a[:, 4:].copy()
    with pytest.raises(InputError, match="missing from the data"):
        m.get_latent_representation(other)
    other.write_h5ad(tmp_path / "other.h5ad")
    res = CliRunner().invoke(main, ["interpolate", "--model-dir", str(d / "model"), "--labels-key", "cell_type",
                                    "--start", "type0", "--end", "type1", "--start-cells", str(tmp_path / "other.h5ad"),
                                    "--n-states", "2", "--n-cells", "2", "--output", str(tmp_path / "o.h5ad")])
    assert res.exit_code == 1 and "missing from the data" in res.output
