"""Two-ended interpolation (issue 22, part 2): interpolate(method="two-ended") starts each state from a spherical
blend of noised real start and end cells paired by optimal transport, then denoises with the mixed guidance of
Gradient Interpolation."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from scdiffusion.errors import InputError
from scdiffusion.options import INTERPOLATE

START, END = "type0", "type2"
RUN = {"n_states": 5, "n_cells": 40, "t_start": 600, "n_steps": 60, "guidance": "classifier", "progress": False}


@pytest.fixture(scope="module")
def real_latents(small_model, counts_adata):
    """Unit-norm latents of the real cells, their labels, and a logistic regression (start vs end) fitted on the
    real start and end cells."""
    z = small_model.get_latent_representation(counts_adata)
    labels = counts_adata.obs["cell_type"].astype(str).to_numpy()
    both = np.isin(labels, [START, END])
    clf = LogisticRegression(max_iter=2000).fit(z[both], labels[both] == END)
    return z, labels, clf


@pytest.fixture(scope="module")
def two_ended(small_model, counts_adata):
    return small_model.interpolate(counts_adata, "cell_type", START, END, method="two-ended", seed=0, **RUN)


def _per_state(out, fn):
    state = out.obs["interpolation_state"].to_numpy()
    z = np.asarray(out.obsm["X_scdiffusion"])
    return [fn(z[state == s]) for s in range(out.uns["scdiffusion"]["n_states"])]


def test_two_ended_states_move_monotonically_from_start_to_end(two_ended, real_latents):
    z, labels, clf = real_latents
    frac_end = _per_state(two_ended, lambda zs: clf.predict(zs).mean())
    assert frac_end[0] <= 0.15 and frac_end[-1] >= 0.85, frac_end  # w = 0 start-like, w = 1 end-like
    assert all(b >= a - 0.1 for a, b in zip(frac_end, frac_end[1:])), frac_end
    assert frac_end[2] > frac_end[0] + 0.2 and frac_end[2] < frac_end[-1] - 0.1, frac_end  # a middle state between
    centroid = z[labels == END].mean(0)
    dist = _per_state(two_ended, lambda zs: np.linalg.norm(zs - centroid, axis=1).mean())
    assert all(b < a for a, b in zip(dist, dist[1:])), dist
    # the first state is as far from the end cells as the real start cells are; the last as near as real end cells
    real = {lab: np.linalg.norm(z[labels == lab] - centroid, axis=1).mean() for lab in (START, END)}
    assert dist[0] > 0.8 * real[START] and dist[-1] < real[END] + 0.2 * (real[START] - real[END]), (dist, real)


def test_two_ended_outputs_name_both_real_cells_and_the_method(two_ended, small_model, counts_adata):
    out = two_ended
    assert out.n_obs == 5 * 40
    obs = out.obs
    assert {"interpolation_state", "weight_start", "weight_end", "interpolation_start", "interpolation_end",
            "source_cell", "source_cell_end"} <= set(obs.columns)
    np.testing.assert_allclose(obs.groupby("interpolation_state")["weight_end"].first(), np.linspace(0, 2, 5))
    labels = counts_adata.obs["cell_type"].astype(str)
    assert set(obs["source_cell"]) <= set(labels.index[labels == START])
    assert set(obs["source_cell_end"]) <= set(labels.index[labels == END])
    # every state starts from the same pairs
    pairs = obs[["source_cell", "source_cell_end"]].to_numpy()
    np.testing.assert_array_equal(pairs.reshape(5, 40, 2), np.broadcast_to(pairs[:40], (5, 40, 2)))
    p = out.uns["scdiffusion"]
    assert p["interpolation_method"] == "two-ended" and p["guidance"] == "classifier" and p["t_start"] == 600
    gradient = small_model.interpolate(counts_adata, "cell_type", START, END, n_states=2, n_cells=3, t_start=300,
                                       n_steps=5, method="gradient", progress=False)
    assert gradient.uns["scdiffusion"]["interpolation_method"] == "gradient"
    assert "source_cell_end" not in gradient.obs.columns


def test_two_ended_pairs_are_optimal_transport_pairs(two_ended, small_model, counts_adata):
    """Every drawn (start, end) pair is in the support of the exact optimal-transport coupling of the real start
    and end latents (80 cells each: a permutation), and the pairs are closer than random start-end pairs."""
    import ot

    z = small_model.get_latent_representation(counts_adata, scaled=True).astype(np.float64)
    labels = counts_adata.obs["cell_type"].astype(str).to_numpy()
    names = {lab: list(counts_adata.obs_names[labels == lab]) for lab in (START, END)}
    zs, ze = z[labels == START], z[labels == END]
    cost = ot.dist(zs, ze, metric="sqeuclidean")
    coupling = ot.emd(np.full(len(zs), 1 / len(zs)), np.full(len(ze), 1 / len(ze)), cost)
    first = two_ended.obs[two_ended.obs["interpolation_state"] == 0]
    i = [names[START].index(c) for c in first["source_cell"]]
    j = [names[END].index(c) for c in first["source_cell_end"]]
    assert (coupling[i, j] > 0).all()
    assert cost[i, j].mean() < cost.mean()


def test_two_ended_is_seeded(small_model, counts_adata):
    kw = dict(n_states=3, n_cells=6, t_start=300, n_steps=10, method="two-ended", progress=False)
    a = small_model.interpolate(counts_adata, "cell_type", START, END, seed=3, **kw)
    b = small_model.interpolate(counts_adata, "cell_type", START, END, seed=3, **kw)
    c = small_model.interpolate(counts_adata, "cell_type", START, END, seed=4, **kw)
    np.testing.assert_array_equal(a.obsm["X_scdiffusion"], b.obsm["X_scdiffusion"])
    np.testing.assert_array_equal(a.X.toarray() if hasattr(a.X, "toarray") else a.X,
                                  b.X.toarray() if hasattr(b.X, "toarray") else b.X)
    assert a.obs["source_cell_end"].tolist() == b.obs["source_cell_end"].tolist()
    assert not np.allclose(a.obsm["X_scdiffusion"], c.obsm["X_scdiffusion"])


@pytest.mark.parametrize("guidance", ["classifier", "classifier-free", "both"])
def test_two_ended_works_with_every_guidance(small_model, counts_adata, guidance):
    """The mixed guidance of Gradient Interpolation steers the two-ended states too: with the same seed, the
    guided states differ from the unguided ones."""
    assert small_model.module.classifier_free
    kw = dict(n_states=3, n_cells=4, t_start=300, n_steps=10, method="two-ended", seed=5, progress=False)
    out = small_model.interpolate(counts_adata, "cell_type", START, END, guidance=guidance, **kw)
    assert out.uns["scdiffusion"]["guidance"] == guidance and out.n_obs == 12
    unguided = small_model.interpolate(counts_adata, "cell_type", START, END, guidance=guidance, guidance_scale=0.0,
                                       cfg_scale=1.0 if guidance == "classifier-free" else 0.0, **kw)
    assert not np.allclose(out.obsm["X_scdiffusion"], unguided.obsm["X_scdiffusion"])


def test_unknown_method_lists_the_choices(small_model, counts_adata):
    with pytest.raises(InputError, match=r"Unknown method 'nope'; choose one of \['auto', 'gradient', 'two-ended'\]"):
        small_model.interpolate(counts_adata, "cell_type", START, END, method="nope", n_states=2, n_cells=2)
    assert INTERPOLATE["method"].default == "auto"


def test_auto_is_two_ended_given_end_cells_and_gradient_without(small_model, counts_adata, caplog):
    """The default method: two-ended (what measured closest to held-out cells) when the cells include the end
    label -- the same states as asking for it -- and Gradient Interpolation, said in the log, when they do not."""
    kw = dict(n_states=3, n_cells=4, t_start=300, n_steps=5, seed=2, progress=False)
    auto = small_model.interpolate(counts_adata, "cell_type", START, END, **kw)
    two = small_model.interpolate(counts_adata, "cell_type", START, END, method="two-ended", **kw)
    assert auto.uns["scdiffusion"]["interpolation_method"] == "two-ended"
    np.testing.assert_array_equal(auto.obsm["X_scdiffusion"], two.obsm["X_scdiffusion"])
    no_end = counts_adata[counts_adata.obs["cell_type"] != END].copy()
    with caplog.at_level("INFO", logger="scdiffusion.model.interpolation"):
        fallback = small_model.interpolate(no_end, "cell_type", START, END, **kw)
    grad = small_model.interpolate(no_end, "cell_type", START, END, method="gradient", **kw)
    assert fallback.uns["scdiffusion"]["interpolation_method"] == "gradient"
    np.testing.assert_array_equal(fallback.obsm["X_scdiffusion"], grad.obsm["X_scdiffusion"])
    assert "no cell labelled 'type2', so method='auto' uses Gradient Interpolation" in caplog.text


def test_t_start_defaults_to_the_methods_own(small_model, counts_adata, caplog):
    """t_start unset: each method's measured default (two-ended denoises its blends from less noise than Gradient
    Interpolation, whose states must move from the start label); also when auto falls back; a given one wins."""
    from scdiffusion.model.interpolation import T_START

    assert INTERPOLATE["t_start"].default is None and T_START["gradient"] == 600
    assert T_START["two-ended"] < T_START["gradient"]
    kw = dict(n_states=2, n_cells=3, n_steps=5, seed=1, progress=False)
    params = {m: small_model.interpolate(counts_adata, "cell_type", START, END, method=m, **kw).uns["scdiffusion"]
              for m in ("gradient", "two-ended", "auto")}
    assert params["gradient"]["t_start"] == 600 and params["two-ended"]["t_start"] == T_START["two-ended"]
    assert params["auto"]["t_start"] == T_START["two-ended"]
    no_end = counts_adata[counts_adata.obs["cell_type"] != END].copy()
    assert small_model.interpolate(no_end, "cell_type", START, END, **kw).uns["scdiffusion"]["t_start"] == 600
    given = small_model.interpolate(counts_adata, "cell_type", START, END, t_start=450, **kw).uns["scdiffusion"]
    assert given["t_start"] == 450 and given["interpolation_method"] == "two-ended"


def test_two_ended_needs_cells_of_the_end_label(small_model, counts_adata):
    no_end = counts_adata[counts_adata.obs["cell_type"] != END].copy()
    with pytest.raises(InputError, match=r"start_cells has no cell labelled 'type2'.*method='gradient'"):
        small_model.interpolate(no_end, "cell_type", START, END, method="two-ended", n_states=2, n_cells=2)
    # the gradient method needs only the start cells
    out = small_model.interpolate(no_end, "cell_type", START, END, n_states=2, n_cells=2, t_start=300, n_steps=5,
                                  method="gradient", progress=False)
    assert out.n_obs == 4


def test_missing_start_cells_do_not_point_to_gradient(small_model, counts_adata):
    """Without cells of the start label no method can run: the message asks for them, not for method='gradient'."""
    no_start = counts_adata[counts_adata.obs["cell_type"] != START].copy()
    with pytest.raises(InputError, match=r"no cell labelled 'type0'.*add cells of 'type0'") as err:
        small_model.interpolate(no_start, "cell_type", START, END, n_states=2, n_cells=2)
    assert "gradient" not in str(err.value)
