"""count_split: the autoencoder's training cells split by binomial thinning (issue 23)."""

import numpy as np
import pytest
import torch

from conftest import SMALL_ARCH, make_counts
from scdiffusion import ScDiffusion
from scdiffusion.data.preprocessing import log_normalize
from scdiffusion.errors import InputError
from scdiffusion.train.autoencoder import SELECTION_SPLIT, validation_score_fn
from scdiffusion.train.count_splitting import row_seeds, split_batch, thin
from scdiffusion.train.presets import stage_configs

AE_ONLY = {"autoencoder": {"max_steps": 60, "eval_every": 20, "patience": 0},
           "diffusion": {"max_steps": 1}, "classifier": {"max_steps": 1}}


def test_thin_splits_every_count_and_each_row_follows_its_own_seed():
    counts = torch.from_numpy(np.random.default_rng(0).poisson(3.0, (6, 400)).astype(np.float32))
    seeds = row_seeds(6, torch.Generator().manual_seed(4))
    part, rest = thin(counts, 0.3, seeds)
    assert torch.equal(part + rest, counts) and (part >= 0).all() and (rest >= 0).all()
    assert torch.equal(part, part.round())
    # the same seeds give the same split; a row's split does not depend on the other rows of its batch
    assert torch.equal(thin(counts, 0.3, seeds)[0], part)
    assert torch.equal(thin(counts[3:4], 0.3, seeds[3:4])[0], part[3:4])
    assert not torch.equal(thin(counts, 0.3, seeds + 1)[0], part)
    # binomial thinning: about p of the counts go to the encoder's part
    big = torch.full((50, 200), 40.0)
    share = thin(big, 0.3, row_seeds(50, torch.Generator().manual_seed(1)))[0].sum() / big.sum()
    assert abs(float(share) - 0.3) < 0.01


def test_split_batch_normalises_the_encoders_part_like_the_training_cells():
    counts = torch.from_numpy(np.random.default_rng(1).poisson(2.0, (5, 50)).astype(np.float32))
    counts[4] = 0.0  # an empty part (no counts at all) gives zeros, not NaN
    seeds = row_seeds(5, torch.Generator().manual_seed(2))
    x, rest, library = split_batch(counts, 0.5, seeds, 1e4)
    part = counts - rest
    np.testing.assert_allclose(x.numpy(), log_normalize(part.numpy(), 1e4), rtol=1e-5, atol=1e-5)
    assert torch.equal(library, rest.sum(1)) and torch.isfinite(x).all() and (x[4] == 0).all()


def test_count_split_trains_saves_and_needs_a_count_likelihood(tmp_path):
    adata = make_counts(n_cells=200, seed=5)
    plain = ScDiffusion(adata, device="cpu", seed=0, **SMALL_ARCH)
    split = ScDiffusion(adata, device="cpu", seed=0, count_split=0.5, **SMALL_ARCH)
    zero = ScDiffusion(adata, device="cpu", seed=0, count_split=0.0, **SMALL_ARCH)
    for m in (plain, split, zero):
        m.train(progress=False, **AE_ONLY)
    # off by default; count_split=0 is the plain training exactly; splitting changes what the network learns
    assert plain.module.arch["count_split"] == 0.0 and split.module.arch["count_split"] == 0.5
    for a, b in zip(plain.autoencoder.parameters(), zero.autoencoder.parameters()):
        torch.testing.assert_close(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(plain.autoencoder.parameters(), split.autoencoder.parameters()))
    # the validation loss scores the held-out half of the counts: finite, recorded
    assert np.isfinite(split.history["autoencoder"]["val_loss"]).all()
    split.save(tmp_path / "m")
    assert ScDiffusion.load(tmp_path / "m").module.arch["count_split"] == 0.5
    with pytest.raises(InputError, match="count_split needs a count likelihood"):
        ScDiffusion(adata, device="cpu", likelihood="mse", count_split=0.5, **SMALL_ARCH)
    with pytest.raises(InputError, match="count_split"):
        ScDiffusion(adata, device="cpu", count_split=1.0, **SMALL_ARCH)


class _PoissonRate(torch.nn.Module):
    """A Poisson 'autoencoder' whose decoded rate copies its input (``profile=None``) or is a fixed profile."""

    def __init__(self, profile: torch.Tensor | None = None):
        super().__init__()
        self.profile = profile

    def loss(self, x, counts, library):
        rate = torch.expm1(x) if self.profile is None else self.profile.expand_as(counts)
        mu = library[:, None] * rate / rate.sum(1, keepdim=True).clamp_min(1e-12) + 1e-6
        return (mu - counts * torch.log(mu)).sum(1).mean()


def test_split_selection_scores_counts_the_encoder_did_not_see():
    rng = np.random.default_rng(3)
    profile = torch.from_numpy(rng.gamma(0.6, 1.0, 300).astype(np.float32))
    library = torch.from_numpy(rng.integers(300, 900, 80).astype(np.float32))
    counts = torch.poisson(library[:, None] * profile / profile.sum(), generator=torch.Generator().manual_seed(0))
    validation = (torch.from_numpy(log_normalize(counts.numpy(), 1e4)), counts, counts.sum(1))
    copying, truth = _PoissonRate(), _PoissonRate(profile)
    plain = validation_score_fn(validation)
    split = validation_score_fn(validation, SELECTION_SPLIT, 1e4)
    # the plain validation loss rewards a decoder that copies each cell's counting noise; the split score does not
    assert plain(copying) < plain(truth)
    assert split(truth) < split(copying)
    assert split(truth) == split(truth)  # the split is drawn once: every evaluation scores the same parts


def test_select_by_split_changes_only_which_autoencoder_weights_are_kept():
    adata = make_counts(n_cells=200, seed=5)
    runs = {}
    for select_by in ("loss", "split"):
        m = ScDiffusion(adata, device="cpu", seed=0, **SMALL_ARCH)
        m.train(progress=False, **{**AE_ONLY, "autoencoder": {**AE_ONLY["autoencoder"], "select_by": select_by}})
        runs[select_by] = m.history["autoencoder"]
    assert runs["loss"]["train_loss"] == runs["split"]["train_loss"]  # the same training steps
    assert runs["loss"]["val_loss"] != runs["split"]["val_loss"] and np.isfinite(runs["split"]["val_loss"]).all()
    assert runs["split"]["config"]["select_by"] == "split"
    with pytest.raises(InputError, match="count likelihood"):
        ScDiffusion(adata, device="cpu", likelihood="mse", **SMALL_ARCH).train(
            progress=False, **{**AE_ONLY, "autoencoder": {"max_steps": 5, "select_by": "split"}})
    for stage in ("diffusion", "classifier"):
        with pytest.raises(InputError, match=f"'split' is not an option of the {stage} stage"):
            stage_configs("cpu", overrides={stage: {"select_by": "split"}})
