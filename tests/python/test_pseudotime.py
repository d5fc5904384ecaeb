"""Within-time-point pseudotime (issue 22): a time-course column's values spread along the cells' expression, so
that cells ahead of their time point condition the denoiser on a later value."""

import logging

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from scdiffusion import ScDiffusion
from scdiffusion.data.preprocessing import log_normalize
from scdiffusion.data.pseudotime import MAX_TIME_POINTS, R2_CV_AUTO, pseudotime_values

LEVELS = (0.0, 24.0, 48.0)


def course(n_per: int = 120, n_genes: int = 60, seed: int = 0, sd: float = 0.08):
    """Counts of a process: every cell has a progress τ around its time point's (sd ``sd``); the first half of
    the genes rise with τ, the second half fall. Returns ``(counts, hours, tau)``."""
    rng = np.random.default_rng(seed)
    hours = np.repeat(LEVELS, n_per)
    tau = hours / 48.0 + rng.normal(0.0, sd, hours.size)
    slope = np.r_[np.full(n_genes // 2, 2.5), np.full(n_genes - n_genes // 2, -2.5)]
    mu = 20.0 * np.exp(slope[None, :] * (tau[:, None] - 0.5))
    return rng.poisson(mu).astype(np.float32), hours, tau


def test_spread_follows_progress_within_time_points_and_keeps_their_medians():
    counts, hours, tau = course()
    spread, info = pseudotime_values(hours, log_normalize(counts, 1e4), seed=0, key="hours")
    assert info["applied"] and info["r2"] > 0.8 and info["sd_within"] > 1.0
    assert 0.8 < info["r2_cv"] <= info["r2"] + 0.01  # out of sample: a little below the fit's own R²
    for h in LEVELS:
        m = hours == h
        assert np.median(spread[m]) == pytest.approx(h, abs=0.05)  # the time point's median is its value
        assert spearmanr(spread[m], tau[m])[0] > 0.6  # cells ahead of the median get later values
    assert spread.min() < 0.0 < 48.0 < spread.max()  # beyond the first and last time point: linear


def test_columns_that_are_no_time_course_are_kept_as_measured(caplog):
    counts, hours, _ = course(n_per=40)
    x = log_normalize(counts, 1e4)
    many = np.arange(hours.size, dtype=float) % (MAX_TIME_POINTS + 1)
    kept, info = pseudotime_values(many, x, seed=0)
    assert not info["applied"] and "per-cell values already" in info["reason"] and np.array_equal(kept, many)
    few = hours.copy()
    few[:3] = 12.0  # a time point of 3 cells: no median to keep
    kept, info = pseudotime_values(few, x, seed=0)
    assert not info["applied"] and "3 cell(s)" in info["reason"] and np.array_equal(kept, few)
    noise = np.random.default_rng(1).poisson(20.0, counts.shape).astype(np.float32)  # expression orders nothing
    with caplog.at_level(logging.WARNING, logger="scdiffusion.data.pseudotime"):
        kept, info = pseudotime_values(np.r_[np.zeros(40), np.full(40, 24.0), np.full(40, 48.0)],
                                       log_normalize(noise[:120], 1e4), seed=0, key="h")
    if not info["applied"]:  # ridge on pure noise may still order the medians by chance; then nothing to check
        assert "does not order" in caplog.text and np.array_equal(kept, np.r_[np.zeros(40), np.full(40, 24.0),
                                                                             np.full(40, 48.0)])


def test_a_column_that_expression_orders_poorly_out_of_sample_is_spread_with_a_warning(caplog):
    """Cells of a time point spread far into the neighbouring ones (sd 0.15 of the course, 0.5 between time points):
    the ridge's out-of-sample R² falls below R2_CV_AUTO, as on HSMM, where cells generated from noise at a
    held-out time were farther with the spread."""
    counts, hours, _ = course(sd=0.15)
    with caplog.at_level(logging.WARNING, logger="scdiffusion.data.pseudotime"):
        _, info = pseudotime_values(hours, log_normalize(counts, 1e4), seed=0, key="hours")
    assert info["applied"] and info["r2_cv"] < R2_CV_AUTO  # 0.88
    assert "less well out of sample" in caplog.text and "continuous_pseudotime=False" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="scdiffusion.data.pseudotime"):
        _, info = pseudotime_values(hours, log_normalize(course(sd=0.05)[0], 1e4), seed=0, key="hours")
    assert info["r2_cv"] > R2_CV_AUTO and "out of sample" not in caplog.text  # 0.98: no warning


def test_a_model_conditions_on_the_spread_values_and_records_it(tmp_path):
    import anndata as ad

    counts, hours, tau = course(n_per=60, n_genes=40)
    adata = ad.AnnData(counts, obs=pd.DataFrame({"hours": hours}, index=[f"c{i}" for i in range(hours.size)]),
                       var=pd.DataFrame(index=[f"g{j}" for j in range(counts.shape[1])]))
    tiny = {"hidden": (32,), "n_latent": 8, "denoiser_hidden": (64, 32), "classifier_hidden": (16,)}
    plain = ScDiffusion(adata, continuous_keys=["hours"], continuous_pseudotime=False, device="cpu", seed=0, **tiny)
    model = ScDiffusion(adata, continuous_keys=["hours"], continuous_pseudotime=True, device="cpu", seed=0, **tiny)
    reg = model.continuous["hours"]
    assert plain.continuous["hours"].pseudotime is None and reg.pseudotime["applied"]
    assert (reg.low, reg.high) == (0.0, 48.0)  # the trained range stays the measured one
    v_plain = plain.data.values["hours"].numpy() * 48.0
    v = model.data.values["hours"].numpy() * 48.0
    assert set(np.round(v_plain, 4)) == set(LEVELS) and len(np.unique(np.round(v, 4))) > 100
    assert spearmanr(v, tau)[0] > spearmanr(v_plain, tau)[0]
    model.train(progress=False, max_steps=5)
    model.save(tmp_path / "m")
    again = ScDiffusion.load(tmp_path / "m", device="cpu")
    assert again.continuous["hours"].pseudotime == reg.pseudotime


@pytest.mark.parametrize(("sd", "spread"), [(0.05, True), (0.15, False)])
def test_by_default_the_spread_is_applied_only_where_expression_predicts_time_out_of_sample(sd, spread, caplog):
    """continuous_pseudotime=None (the default): spread at out-of-sample R² 0.98 (sd 0.05), kept as measured at
    0.88 (sd 0.15; where the spread made cells generated from noise farther) -- with the R² recorded and the
    reason logged, and no warning."""
    import anndata as ad

    counts, hours, _ = course(sd=sd, n_genes=40)
    adata = ad.AnnData(counts, obs=pd.DataFrame({"hours": hours}, index=[f"c{i}" for i in range(hours.size)]),
                       var=pd.DataFrame(index=[f"g{j}" for j in range(counts.shape[1])]))
    tiny = {"hidden": (32,), "n_latent": 8, "denoiser_hidden": (64, 32), "classifier_hidden": (16,)}
    with caplog.at_level(logging.INFO, logger="scdiffusion.data.pseudotime"):
        model = ScDiffusion(adata, continuous_keys=["hours"], device="cpu", seed=0, **tiny)
    info = model.continuous["hours"].pseudotime
    assert info["applied"] is spread and (info["r2_cv"] >= R2_CV_AUTO) is spread
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    v = model.data.values["hours"].numpy() * 48.0
    if spread:
        assert len(np.unique(np.round(v, 4))) > 100
    else:
        assert set(np.round(v, 4)) == set(LEVELS)
        assert "(auto)" in info["reason"] and "continuous_pseudotime=True" in caplog.text
        forced = ScDiffusion(adata, continuous_keys=["hours"], continuous_pseudotime=True, device="cpu", seed=0,
                             **tiny)
        assert forced.continuous["hours"].pseudotime["applied"]  # True: applied below the threshold too
