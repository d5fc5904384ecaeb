"""noise_fit: the count likelihood's dispersion refitted after training (issue 13), saved, and chosen by option."""

import json

import numpy as np
import pytest
import torch

from conftest import SMALL_ARCH, make_counts
from scdiffusion import ScDiffusion
from scdiffusion.errors import InputError

AE_ONLY = {"autoencoder": {"max_steps": 120, "eval_every": 40, "patience": 0},
           "diffusion": {"max_steps": 1}, "classifier": {"max_steps": 1}}


def _eval_nll(model, adata) -> float:
    """Mean NB negative log-likelihood of ``adata``'s counts under the eval-mode decoder (own latents)."""
    ae = model.autoencoder.eval()
    counts = torch.from_numpy(np.asarray(adata[:, model.genes].X, dtype=np.float32))
    library = counts.sum(1)
    x = torch.log1p(counts / library[:, None] * model.preprocessor.target_sum)
    with torch.no_grad():
        return float(-ae.likelihood.log_prob(ae.decoder(ae.encoder(x)), counts, library).mean())


@pytest.fixture(scope="module")
def pair():
    adata = make_counts(n_cells=300, seed=3)
    out = {}
    for fit in ("joint", "eval-train", "eval-validation"):
        m = ScDiffusion(adata, labels_keys="cell_type", device="cpu", seed=0, noise_fit=fit, **SMALL_ARCH)
        m.train(progress=False, **AE_ONLY)
        out[fit] = m
    return adata, out


def test_refit_keeps_the_network_and_raises_the_likelihood_of_the_training_cells(pair):
    adata, models = pair
    joint, refit = models["joint"], models["eval-train"]
    # same seed, same network: only the dispersion differs
    for (name, a), b in zip(joint.autoencoder.named_parameters(), refit.autoencoder.parameters()):
        if name != "likelihood.log_theta":
            torch.testing.assert_close(a, b)
    assert not torch.allclose(joint.autoencoder.likelihood.log_theta, refit.autoencoder.likelihood.log_theta)
    # the jointly learned θ barely leaves its start (log θ = 0); the refit moves it by the data's dispersion
    assert joint.autoencoder.likelihood.log_theta.abs().max() < 0.5
    assert refit.autoencoder.likelihood.log_theta.median() > 1.0  # make_counts draws with θ = 5
    assert _eval_nll(refit, adata) < _eval_nll(joint, adata)
    hist = refit.history["autoencoder"]
    assert 250 <= hist["noise_refit_cells"] < 300  # every training cell (the validation cells held out)
    assert "noise_refit_nll" not in joint.history["autoencoder"]


def test_eval_validation_refits_on_the_validation_cells_only(pair):
    """noise_fit="eval-validation": same network as the others (same seed), θ refitted on the held-out cells:
    their number is recorded, θ moves to the data's dispersion, and it differs from the refit on training cells."""
    adata, models = pair
    joint, train_fit, val_fit = models["joint"], models["eval-train"], models["eval-validation"]
    for (name, a), b in zip(joint.autoencoder.named_parameters(), val_fit.autoencoder.parameters()):
        if name != "likelihood.log_theta":
            torch.testing.assert_close(a, b)
    hist = val_fit.history["autoencoder"]
    n_train = train_fit.history["autoencoder"]["noise_refit_cells"]
    assert 20 <= hist["noise_refit_cells"] <= 40 and hist["noise_refit_cells"] + n_train == 300  # 10 % held out
    theta = val_fit.autoencoder.likelihood.log_theta
    assert theta.median() > 1.0 and not torch.allclose(theta, train_fit.autoencoder.likelihood.log_theta)
    assert _eval_nll(val_fit, adata) < _eval_nll(joint, adata)
    assert val_fit.arch["noise_fit"] == "eval-validation"


def test_noise_fit_is_saved_and_loaded(pair, tmp_path):
    _, models = pair
    path = models["eval-train"].save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    assert config["autoencoder"]["noise_fit"] == "eval-train"
    loaded = ScDiffusion.load(path, device="cpu")
    assert loaded.arch["noise_fit"] == "eval-train"
    torch.testing.assert_close(loaded.autoencoder.likelihood.log_theta,
                               models["eval-train"].autoencoder.likelihood.log_theta)


def test_default_is_eval_train_and_bad_values_are_refused():
    adata = make_counts(n_cells=60, seed=4)
    assert ScDiffusion(adata, device="cpu", **SMALL_ARCH).arch["noise_fit"] == "eval-train"
    with pytest.raises(InputError, match="noise_fit"):
        ScDiffusion(adata, device="cpu", noise_fit="sometimes", **SMALL_ARCH)
