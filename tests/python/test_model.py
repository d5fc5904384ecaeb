"""The user-facing model on tiny synthetic counts: training, guidance, determinism, persistence, errors."""

import json

import numpy as np
import pytest
import torch

from conftest import SMALL_ARCH, make_counts
from scdiffusion import ScDiffusion
from scdiffusion.data import InputError
from scdiffusion.model.serialization import WEIGHTS_FILE

GEN = {"sampler": "ddpm", "n_steps": 50, "progress": False}


def test_training_lowers_every_loss(small_model):
    for stage in ("autoencoder", "diffusion", "classifier:cell_type", "classifier:tissue"):
        h = small_model.history[stage]
        assert h["train_loss"][-1] < h["train_loss"][0], stage
    for stage in ("autoencoder", "diffusion"):
        h = small_model.history[stage]
        assert h["best_loss"] < h["val_loss"][0], stage
    for key, n_classes in (("cell_type", 3), ("tissue", 2)):
        h = small_model.history[f"classifier:{key}"]
        assert h["best_loss"] < 0.85 * np.log(n_classes)  # below chance-level cross-entropy
        assert h["val_accuracy"] > 1 / n_classes + 0.1


def test_latents_are_scaled_to_unit_variance(small_model, counts_adata):
    z = small_model.get_latent_representation(counts_adata, scaled=True)
    assert z.std() == pytest.approx(1.0, rel=0.15)
    assert abs(z.mean()) < 0.1
    z_unit = small_model.get_latent_representation(counts_adata)
    np.testing.assert_allclose(np.linalg.norm(z_unit, axis=1), 1.0, rtol=1e-5)


def test_eval_mode_encoding_does_not_depend_on_the_batch(small_model, counts_adata):
    all_z = small_model.get_latent_representation(counts_adata)
    one = small_model.get_latent_representation(counts_adata[:3].copy())
    np.testing.assert_allclose(all_z[:3], one, rtol=1e-5, atol=1e-6)


def test_same_seed_same_cells_and_different_seed_different_cells(small_model):
    a = small_model.generate(20, {"cell_type": "type1"}, seed=3, **GEN)
    b = small_model.generate(20, {"cell_type": "type1"}, seed=3, **GEN)
    c = small_model.generate(20, {"cell_type": "type1"}, seed=4, **GEN)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.allclose(a.X, c.X)


def test_guidance_scale_zero_equals_unguided(small_model):
    for sampler in ("ddpm", "ddim"):
        kw = {**GEN, "sampler": sampler}
        plain = small_model.generate(15, guidance="classifier", seed=7, **kw)  # the null label, unguided
        zero = small_model.generate(15, {"cell_type": "type2"}, guidance="classifier", guidance_scale=0.0, seed=7,
                                    **kw)
        # identical sampled cells (latents); the NB decoder then draws library sizes of the requested label
        np.testing.assert_array_equal(plain.obsm["X_scdiffusion"], zero.obsm["X_scdiffusion"])


def test_generated_anndata_layout(small_model):
    g = small_model.generate(12, {"cell_type": "type0", "tissue": "liver"},
                             guidance_scale={"cell_type": 3.0, "tissue": 1.0}, seed=0, **GEN)
    assert g.shape == (12, len(small_model.genes))
    assert list(g.var_names) == small_model.genes
    assert (g.obs["cell_type"] == "type0").all() and (g.obs["tissue"] == "liver").all()
    assert g.uns["scdiffusion"]["guidance_scale"] == {"cell_type": 3.0, "tissue": 1.0}
    assert g.uns["scdiffusion"]["n_steps"] == 50
    assert np.all(g.X >= 0)
    assert g.obsm["X_scdiffusion"].shape == (12, SMALL_ARCH["n_latent"])


def test_guidance_steers_towards_the_label(small_model):
    """The model's classifier calls guided cells the requested label more often than unguided cells."""
    n = 60
    for label in ("type0", "type1", "type2"):
        guided = small_model.generate(n, {"cell_type": label}, guidance="classifier", guidance_scale=4.0, seed=1,
                                      **GEN)
        plain = small_model.generate(n, guidance="classifier", seed=1, **GEN)
        f_guided = np.mean(small_model.predict_labels(guided, "cell_type", log_normalized=True) == label)
        f_plain = np.mean(small_model.predict_labels(plain, "cell_type", log_normalized=True) == label)
        assert f_guided > f_plain, (label, f_guided, f_plain)


def test_save_load_gives_identical_cells(small_model, small_model_dir):
    loaded = ScDiffusion.load(small_model_dir, device="cpu")
    assert loaded.genes == small_model.genes
    assert loaded.registries == small_model.registries
    a = small_model.generate(10, {"tissue": "lung"}, seed=5, **GEN)
    b = loaded.generate(10, {"tissue": "lung"}, seed=5, **GEN)
    np.testing.assert_array_equal(a.X, b.X)
    cfg = json.loads((small_model_dir / "config.json").read_text())
    assert cfg["format_version"] == 2 and cfg["labels"][0]["key"] == "cell_type"
    assert cfg["diffusion"] == {"n_timesteps": 1000, "beta_schedule": "linear", "beta_start": 1e-4,
                                "beta_end": 0.02, "prediction": "epsilon"}


def test_interpolation_states_move_from_start_to_end(small_model, counts_adata):
    out = small_model.interpolate(counts_adata, "cell_type", "type0", "type2", n_states=5, n_cells=40,
                                  t_start=600, guidance="classifier", guidance_scale=6.0, n_steps=60, progress=False,
                                  seed=0)
    assert out.n_obs == 200
    assert list(out.obs["interpolation_state"].unique()) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(out.obs.groupby("interpolation_state")["weight_end"].first(), np.linspace(0, 6, 5))
    assert out.uns["scdiffusion"]["n_steps"] <= 601
    frac_end = [np.mean(small_model.predict_labels(out[out.obs["interpolation_state"] == s], "cell_type",
                                                   log_normalized=True) == "type2") for s in range(5)]
    assert frac_end[-1] > frac_end[0]
    assert all(b >= a - 0.1 for a, b in zip(frac_end, frac_end[1:])), frac_end


@pytest.mark.parametrize("call, match", [
    (lambda m, a: m.generate(0), "n_cells must be a positive integer"),
    (lambda m, a: m.generate(5, {"cell_type": "nope"}), "Unknown label 'nope'"),
    (lambda m, a: m.generate(5, {"batch": "x"}), "No classifier for column 'batch'"),
    (lambda m, a: m.generate(5, {"cell_type": "type0"}, guidance_scale=-1), "guidance_scale"),
    (lambda m, a: m.generate(5, {"cell_type": "type0"}, guidance_scale=float("nan")), "guidance_scale"),
    (lambda m, a: m.generate(5, sampler="euler"), "Unknown sampler"),
    (lambda m, a: m.interpolate(a, "cell_type", "type0", "type0"), "same label"),
    (lambda m, a: m.interpolate(a, "cell_type", "type0", "type1", t_start=1000), "t_start"),
    (lambda m, a: m.interpolate(a, "cell_type", "type0", "type1", n_states=1), "n_states"),
    (lambda m, a: m.interpolate(a[:, 3:].copy(), "cell_type", "type0", "type1"), "missing from the data"),
])
def test_bad_generation_arguments(small_model, counts_adata, call, match):
    with pytest.raises(InputError, match=match):
        call(small_model, counts_adata)


def test_untrained_model_refuses_to_generate(counts_adata):
    m = ScDiffusion(counts_adata, labels_keys="cell_type", device="cpu", **SMALL_ARCH)
    with pytest.raises(InputError, match="not trained"):
        m.generate(3)


def test_rare_label_is_refused():
    a = make_counts(n_cells=60)
    a.obs["cell_type"] = a.obs["cell_type"].astype(str)
    a.obs.iloc[:3, 0] = "rare"
    with pytest.raises(InputError, match="'rare' \\(3 cells\\)"):
        ScDiffusion(a, labels_keys=["cell_type"], **SMALL_ARCH)


def test_newer_format_and_corrupted_weights_are_refused(small_model_dir, tmp_path):
    import shutil

    newer = tmp_path / "newer"
    shutil.copytree(small_model_dir, newer)
    cfg = json.loads((newer / "config.json").read_text())
    cfg["format_version"] = 99
    (newer / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="newer than this scDiffusion supports"):
        ScDiffusion.load(newer)
    broken = tmp_path / "broken"
    shutil.copytree(small_model_dir, broken)
    data = (broken / WEIGHTS_FILE).read_bytes()
    (broken / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupted"):
        ScDiffusion.load(broken)


def test_save_refuses_to_overwrite(small_model, small_model_dir):
    with pytest.raises(InputError, match="already exists"):
        small_model.save(small_model_dir)


def test_setup_anndata_then_construct(counts_adata):
    a = counts_adata.copy()
    a.layers["counts"] = a.X.copy()
    a.X = np.log1p(a.X)
    ScDiffusion.setup_anndata(a, layer="counts", labels_keys=["tissue"])
    m = ScDiffusion(a, device="cpu", **SMALL_ARCH)
    assert m.labels_keys == ["tissue"] and m.layer == "counts"


def test_time_budget_stops_training(counts_adata):
    m = ScDiffusion(counts_adata, device="cpu", **SMALL_ARCH)
    m.train(max_time=3, progress=False,
            diffusion={"max_steps": 10**6, "patience": 0}, autoencoder={"max_steps": 10**6, "patience": 0})
    assert m.history["diffusion"]["stopped"] == "max_time"
    assert m.history["diffusion"]["seconds"] < 10
    assert torch.isfinite(torch.tensor(m.generate(4, progress=False, n_steps=10).X)).all()


def test_small_denoiser_and_classifiers_train_save_and_load(tmp_path):
    """Denoiser and classifier widths are options (the paper's by default) and are saved with the model."""
    a = make_counts(n_cells=120, n_genes=30)
    m = ScDiffusion(a, labels_keys=["cell_type"], device="cpu", seed=0, hidden=(16,), n_latent=4,
                    denoiser_hidden=(24, 16, 8), classifier_hidden=(12, 6))
    m.train(progress=False, max_steps=20)
    assert m.denoiser.down[0].linear.out_features == 24 and m.classifiers["cell_type"].out.in_features == 6
    m.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["denoiser"]["hidden"] == [24, 16, 8] and cfg["classifier"]["hidden"] == [12, 6]
    assert (tmp_path / "m" / WEIGHTS_FILE).stat().st_size < 200_000  # the paper's widths: ~14 MB
    loaded = ScDiffusion.load(tmp_path / "m", device="cpu")
    np.testing.assert_array_equal(loaded.generate(5, {"cell_type": "type0"}, seed=2, **GEN).X,
                                  m.generate(5, {"cell_type": "type0"}, seed=2, **GEN).X)
    with pytest.raises(InputError, match="denoiser_hidden must be a non-empty list of positive integers"):
        ScDiffusion(a, denoiser_hidden=(8, 0))


def test_generation_that_does_not_fit_in_memory_is_refused_before_it_starts(small_model, monkeypatch):
    from scdiffusion.model import generation

    need = generation.memory_needed(10**9, len(small_model.genes), small_model.arch["n_latent"])
    assert need > 10**12  # a billion cells: terabytes, never allocated
    monkeypatch.setattr(generation, "memory_available", lambda: 50 * 2**20)
    with pytest.raises(InputError, match=r"n_cells=1000000000 cells of \d+ genes needs about .* TB of memory, but "
                                         r"only 50.0 MB is available: at most about \d+ cells fit.*generate_to_file"):
        small_model.generate(10**9)
    assert small_model.generate(5, n_steps=3).n_obs == 5  # what fits still runs


def test_memory_available_reads_proc_meminfo():
    from scdiffusion.model.generation import memory_available

    avail = memory_available()
    assert avail is None or 0 < avail < 2**50
