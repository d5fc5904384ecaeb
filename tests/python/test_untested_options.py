"""Options that had no test (issue 21): preset="gpu", interpolate(guidance="both"), the Python-side cfg_scale
checks, and per-stage training options such as eval_every=0 (refused before any training)."""

import numpy as np
import pytest

from conftest import SMALL_ARCH, make_counts
from scdiffusion import ScDiffusion
from scdiffusion.errors import InputError
from scdiffusion.train.presets import PRESETS, stage_configs


def test_preset_gpu_sets_the_original_codes_budgets_without_a_gpu():
    """What preset="gpu" sets, stage by stage (no GPU needed): the original code's long budgets and large
    diffusion batches; max_steps and stage overrides still win."""
    cpu, gpu = stage_configs("cpu", n_classifiers=2), stage_configs("gpu", n_classifiers=2)
    assert (gpu["autoencoder"].max_steps, gpu["diffusion"].max_steps, gpu["classifier"].max_steps) == \
        (150_000, 500_000, 50_000)
    assert gpu["diffusion"].batch_size == 1024 and gpu["diffusion"].lr == 1e-4 and gpu["diffusion"].ema_decay == 0.9999
    assert (gpu["autoencoder"].eval_every, gpu["diffusion"].eval_every, gpu["classifier"].eval_every) == \
        (1000, 5000, 1000)
    for stage in gpu:  # longer than the cpu preset everywhere, and more patient
        assert gpu[stage].max_steps > 10 * cpu[stage].max_steps and gpu[stage].patience > cpu[stage].patience
    assert gpu["autoencoder"].lr == PRESETS["cpu"]["autoencoder"].lr  # what the preset does not change
    over = stage_configs("gpu", max_steps={"diffusion": 7}, overrides={"autoencoder": {"batch_size": 64}})
    assert over["diffusion"].max_steps == 7 and over["diffusion"].batch_size == 1024
    assert over["autoencoder"].batch_size == 64 and over["autoencoder"].max_steps == 150_000


def test_preset_gpu_trains_on_cpu_with_the_preset_settings():
    a = make_counts(n_cells=60, n_genes=20)
    m = ScDiffusion(a, device="cpu", **SMALL_ARCH)
    m.train(preset="gpu", max_steps=2, progress=False)
    assert m.is_trained and m.generate(3, progress=False).n_obs == 3


@pytest.mark.parametrize("stage, options, message", [
    ("autoencoder", {"eval_every": 0}, "autoencoder stage: eval_every must be a positive integer, got 0"),
    ("diffusion", {"eval_every": -5}, "diffusion stage: eval_every must be a positive integer"),
    ("classifier", {"eval_every": 2.5}, "classifier stage: eval_every must be a positive integer, got 2.5"),
    ("diffusion", {"lr": 0}, "lr must be a number > 0"),
    ("autoencoder", {"patience": -1}, "patience must be a non-negative integer"),
    ("diffusion", {"ema_decay": 1.0}, "ema_decay must be a number in [0, 1)"),
    ("autoencoder", {"lr_schedule": "cosine"}, "Unknown lr_schedule 'cosine'"),
])
def test_stage_options_are_checked_before_any_training(stage, options, message):
    """eval_every=0 was a ZeroDivisionError in the middle of training; every declared stage option is now checked
    first (scdiffusion.options.STAGE)."""
    m = ScDiffusion(make_counts(n_cells=60, n_genes=20), labels_keys=["cell_type"], device="cpu", **SMALL_ARCH)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        m.train(progress=False, **{stage: options})
    assert not m.is_trained and not m.history.get("autoencoder")
    good = stage_configs("cpu", overrides={stage: {"eval_every": 3.0}})  # whole floats (from R) become ints
    assert good[stage].eval_every == 3 and isinstance(good[stage].eval_every, int)


@pytest.mark.parametrize("kwargs, message", [
    ({"condition": {"cell_type": "type0"}, "cfg_scale": -1}, "cfg_scale must be a finite number in [0, 1000], got -1"),
    ({"condition": {"cell_type": "type0"}, "cfg_scale": float("inf")}, "cfg_scale must be a finite number"),
    ({"condition": {"cell_type": "type0"}, "cfg_scale": "strong"}, "cfg_scale must be a number, got 'strong'"),
    ({"condition": {"cell_type": "type0"}, "cfg_scale": {"cell_type": 2000}}, "cfg_scale['cell_type'] must be"),
    ({"condition": {"cell_type": "type0"}, "cfg_scale": {"tissue": 2}}, "cfg_scale names columns without"),
    ({"cfg_scale": -1}, "cfg_scale must be a finite number"),  # no condition: still checked
])
def test_cfg_scale_is_checked_on_the_python_side_and_named_in_the_message(small_model, tmp_path, kwargs, message):
    pattern = message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(InputError, match=pattern) as err:
        small_model.generate(3, progress=False, **kwargs)
    assert "guidance_scale" not in str(err.value)  # it used to name the other weight
    with pytest.raises(InputError, match=pattern):
        small_model.generate_to_file(tmp_path / "out.h5ad", 3, progress=False, **kwargs)
    assert not (tmp_path / "out.h5ad").exists()


def test_cfg_scale_is_checked_when_interpolating(small_model, counts_adata):
    with pytest.raises(InputError, match=r"cfg_scale must be a number in \[0, 1000\], got -1"):
        small_model.interpolate(counts_adata, "cell_type", "type0", "type1", cfg_scale=-1, progress=False)


def test_interpolate_with_guidance_both_uses_both_kinds_of_guidance(small_model, counts_adata):
    """guidance="both": classifier gradients and the label-conditioned denoiser together. With the same seed it
    differs from each alone, and setting the classifier-free weight to 1 (the plain conditional model) or the
    classifier weight to 0 changes it: both weights are in use."""
    assert small_model.module.classifier_free

    def run(guidance, **kw):
        out = small_model.interpolate(counts_adata, "cell_type", "type0", "type1", n_states=3, n_cells=4,
                                      t_start=300, n_steps=10, seed=5, guidance=guidance, progress=False, **kw)
        return out, np.asarray(out.obsm["X_scdiffusion"] if "X_scdiffusion" in out.obsm else out.X)

    both, z = run("both")
    assert both.uns["scdiffusion"]["guidance"] == "both" and both.n_obs == 12
    np.testing.assert_array_equal(run("both")[1], z)  # same seed, same cells
    for other in ("classifier", "classifier-free"):
        assert not np.allclose(run(other)[1], z), other
    assert not np.allclose(run("both", guidance_scale=0.0)[1], z)
    assert not np.allclose(run("both", cfg_scale=1.0)[1], z)
