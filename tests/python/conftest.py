"""Shared fixtures: tiny synthetic counts, and one small model trained once per session."""

import sys
from pathlib import Path

import numpy as np
import pytest

_PYTHON_SRC = Path(__file__).resolve().parents[2] / "python"
if str(_PYTHON_SRC) not in sys.path:
    sys.path.insert(0, str(_PYTHON_SRC))

try:  # two cores: keep BLAS from oversubscribing next to torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
except ImportError:  # pragma: no cover
    pass


def make_counts(n_cells: int = 240, n_genes: int = 60, n_types: int = 3, seed: int = 0):
    """Negative-binomial mixture: each cell type over-expresses its own block of genes; two obs columns."""
    import anndata as ad
    import pandas as pd

    rng = np.random.default_rng(seed)
    types = np.array([f"type{i}" for i in range(n_types)])[np.arange(n_cells) % n_types]
    tissue = np.array(["lung", "liver"])[(np.arange(n_cells) // n_types) % 2]
    base = rng.gamma(2.0, 1.0, n_genes)
    mu = np.tile(base, (n_cells, 1))
    block = n_genes // (n_types + 1)
    for i in range(n_types):
        mu[types == f"type{i}", i * block:(i + 1) * block] *= 8.0
    mu[tissue == "liver", -block:] *= 6.0
    lib = rng.lognormal(0.0, 0.3, n_cells)[:, None]
    counts = rng.negative_binomial(5, 5 / (5 + mu * lib)).astype(np.float32)
    obs = pd.DataFrame({"cell_type": pd.Categorical(types), "tissue": pd.Categorical(tissue)},
                       index=[f"cell{i}" for i in range(n_cells)])
    var = pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)])
    return ad.AnnData(counts, obs=obs, var=var)


SMALL_ARCH = {"hidden": (64, 64), "n_latent": 16}
SMALL_TRAIN = {"autoencoder": {"max_steps": 150, "eval_every": 50, "patience": 0},
               "diffusion": {"max_steps": 150, "eval_every": 50, "patience": 0, "batch_size": 128},
               "classifier": {"max_steps": 150, "eval_every": 50, "patience": 0}}


@pytest.fixture(scope="session")
def counts_adata():
    return make_counts()


@pytest.fixture(scope="session")
def small_model(counts_adata):
    from scdiffusion import ScDiffusion

    model = ScDiffusion(counts_adata, labels_keys=["cell_type", "tissue"], device="cpu", seed=0, **SMALL_ARCH)
    model.train(progress=False, **SMALL_TRAIN)
    return model


@pytest.fixture(scope="session")
def small_model_dir(small_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "small"
    small_model.save(path)
    return path
