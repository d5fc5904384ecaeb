"""diffusion={"select_by": "realism"}: the diffusion stage's weights chosen by MMD² of generated cells (issue 23)."""

import numpy as np
import pytest
import torch

from conftest import SMALL_ARCH, make_counts
from scdiffusion import ScDiffusion
from scdiffusion.errors import InputError
from scdiffusion.metrics import mmd_rbf
from scdiffusion.train.presets import stage_configs
from scdiffusion.train.realism import BANDWIDTHS, MIN_CELLS, mmd2, realism_score_fn

BUDGET = {"autoencoder": {"max_steps": 60, "eval_every": 20}, "classifier": {"max_steps": 5}}


@pytest.fixture(scope="module")
def trained():
    """A small labelled model whose diffusion stage is selected by realism (every 20 steps, 100 steps)."""
    adata = make_counts(n_cells=240, seed=3)
    m = ScDiffusion(adata, labels_keys=["cell_type"], device="cpu", seed=0, **SMALL_ARCH)
    m.train(progress=False, diffusion={"select_by": "realism", "max_steps": 100, "eval_every": 20, "patience": 0},
            **BUDGET)
    return adata, m


def test_realism_scores_are_mmd_of_generated_cells_and_select_the_weights(trained):
    adata, m = trained
    h = m.history["diffusion"]
    scores = np.asarray(h["val_loss"], dtype=float)
    assert h["config"]["select_by"] == "realism" and len(scores) == 5 and np.isfinite(scores).all()
    # the selected step is the one of the lowest score (MMD² ≥ 0), not of the lowest denoising loss
    assert (scores >= 0).all() and h["best_step"] == h["step"][int(np.argmin(scores))]
    assert h["best_loss"] == pytest.approx(scores.min())
    # the criterion re-computed on the returned (selected) weights gives the selected score: same draws each time
    val_x = m.data.validation_tensors()[0]
    score = realism_score_fn(m.module, m.library, val_x, m.seed + 5)
    assert score(m.module.denoiser) == pytest.approx(scores.min(), rel=1e-4, abs=1e-6)
    assert score(m.module.denoiser) == score(m.module.denoiser)  # deterministic


def test_realism_score_tells_a_trained_denoiser_from_an_untrained_one(trained):
    """What the score measures: cells of the trained denoiser are closer to the validation cells than cells of
    a fresh (untrained) one, and the score is the MMD² of its own generated cells."""
    _, m = trained
    val_x = m.data.validation_tensors()[0]
    score = realism_score_fn(m.module, m.library, val_x, seed=11)
    d = m.module.denoiser_hidden
    fresh = type(m.module.denoiser)(m.module.n_latent, down=d, n_time=d[0], n_head=2 * d[0],
                                    n_classes=dict(m.module.denoiser.null_ids)).eval()
    torch.manual_seed(0)
    assert score(m.module.denoiser) < score(fresh)
    x_val = val_x.numpy()
    assert max(MIN_CELLS, 2 * len(x_val)) == MIN_CELLS  # 24 validation cells: 256 generated cells
    self_mmd = mmd_rbf(x_val, x_val, seed=11)
    assert self_mmd == pytest.approx(0.0, abs=1e-9) and score(m.module.denoiser) > self_mmd


def test_loss_selection_is_unchanged_by_the_option():
    """select_by="loss" (the default) trains exactly as before: same weights as without the option."""
    adata = make_counts(n_cells=120, seed=4)
    runs = []
    for extra in ({}, {"select_by": "loss"}):
        m = ScDiffusion(adata, labels_keys=["cell_type"], device="cpu", seed=1, **SMALL_ARCH)
        m.train(progress=False, diffusion={"max_steps": 30, "eval_every": 10, **extra}, **BUDGET)
        runs.append(m)
    for a, b in zip(runs[0].module.denoiser.parameters(), runs[1].module.denoiser.parameters()):
        torch.testing.assert_close(a, b)
    assert runs[0].history["diffusion"]["config"]["select_by"] == "loss"


@pytest.mark.parametrize("stage", ["autoencoder", "classifier"])
def test_realism_is_refused_outside_the_diffusion_stage(stage):
    from scdiffusion.diffusion.samplers import DEFAULT_SAMPLER
    from scdiffusion.options import GENERATE

    assert DEFAULT_SAMPLER == GENERATE.defaults.sampler  # the criterion samples like the default generation
    with pytest.raises(InputError, match=f"'realism' is not an option of the {stage} stage: choose one of"):
        stage_configs("cpu", overrides={stage: {"select_by": "realism"}})
    with pytest.raises(InputError, match="Unknown select_by 'mmd'"):
        stage_configs("cpu", overrides={"diffusion": {"select_by": "mmd"}})


def test_realism_without_validation_cells_says_how_to_fix_it():
    m = ScDiffusion(make_counts(n_cells=80, seed=2), device="cpu", validation_fraction=0.0, **SMALL_ARCH)
    with pytest.raises(InputError, match="set validation_fraction > 0"):
        m.train(progress=False, diffusion={"select_by": "realism", "max_steps": 5}, **BUDGET)


def test_the_criterion_is_the_metrics_mmd():
    """The train layer's torch MMD² is the estimator of scdiffusion.metrics.mmd_rbf (same PCs, kernels, bias)."""
    from scdiffusion.metrics.mmd import BANDWIDTH_MULTIPLIERS

    assert tuple(BANDWIDTHS) == tuple(BANDWIDTH_MULTIPLIERS)
    rng = np.random.default_rng(0)
    a = np.log1p(rng.poisson(2.0, (60, 120))).astype(np.float32)
    b = np.log1p(rng.poisson(2.4, (90, 120))).astype(np.float32)
    for x, y in ((a, b), (a, a[:30].copy()), (b, b[::-1].copy())):
        assert mmd2(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(mmd_rbf(x, y, seed=0), rel=1e-3,
                                                                               abs=1e-6)
