"""The evaluation layer: real-vs-real control, verdicts, counts handling, result table and report."""

from __future__ import annotations

import json

import numpy as np
import pytest

anndata = pytest.importorskip("anndata")
pd = pytest.importorskip("pandas")

from scdiffusion.data.preprocessing import log_normalize  # noqa: E402
from scdiffusion.evaluation import (  # noqa: E402
    TABLE_COLUMNS,
    comparison_data,
    control_splits,
    evaluate,
    judge,
    results_table,
    write_report,
)

GROUPS = ("count_properties", "differential_expression", "pca_distances")


def nb_cells(n_cells: int, seed: int, n_genes: int = 60, depth: float = 1.0, counts_in_layer: bool = True):
    """Three labels with their own over-expressed gene blocks; fixed gene means, draws set by ``seed``.

    Like the NB decoder's output: integer counts in ``layers["counts"]`` and log1p(CP10k) in ``X``
    (``counts_in_layer=False``: the counts in ``X``).
    """
    base = np.random.default_rng(123).gamma(0.8, 3.0, n_genes)
    rng = np.random.default_rng(seed)
    labels = np.array(["a", "b", "c"])[np.arange(n_cells) % 3]
    mu = np.tile(base, (n_cells, 1))
    for i, lab in enumerate("abc"):
        mu[labels == lab, i * 15:(i + 1) * 15] *= 5.0
    lib = rng.lognormal(0.0, 0.25, (n_cells, 1)) * depth
    counts = rng.negative_binomial(4, 4 / (4 + mu * lib)).astype(np.float32)
    obs = pd.DataFrame({"cell_type": labels}, index=[f"s{seed}_{i}" for i in range(n_cells)])
    var = pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)])
    if not counts_in_layer:
        return anndata.AnnData(counts, obs=obs, var=var)
    return anndata.AnnData(log_normalize(counts, 1e4), obs=obs, var=var, layers={"counts": counts})


@pytest.fixture(scope="module")
def real():
    return nb_cells(360, seed=1, counts_in_layer=False)


@pytest.fixture(scope="module")
def same_distribution():
    return nb_cells(360, seed=2)


@pytest.fixture(scope="module")
def same_result(real, same_distribution):
    return evaluate(real, same_distribution, labels_key="cell_type", quick=True, n_control_repeats=3,
                    use_celltypist=False)


# --------------------------------------------------------------------------- control and verdicts
def test_control_splits_partition_the_real_cells():
    labels = np.repeat(["x", "y"], [60, 40])
    gen_labels = np.repeat(["x", "y"], [10, 20])
    for split in control_splits(100, 30, labels, gen_labels, n_repeats=2, seed=0):
        assert split.real.size == 30 and split.reference.size == 70
        assert np.union1d(split.real, split.reference).size == 100
        assert list(np.unique(labels[split.real], return_counts=True)[1]) == [18, 12]  # 30 % of each label
        assert split.generated.size == 30 and np.unique(split.generated).size == 30
        # per-label draw: B's counts where the generated cells allow (only 10 generated "x")
        assert list(np.unique(gen_labels[split.generated_by_label], return_counts=True)[1]) == [10, 12]
    big = control_splits(100, 500, None, None, n_repeats=1)[0]
    assert big.real.size == 50 and big.generated.size == 50 and np.array_equal(big.generated,
                                                                                big.generated_by_label)
    with pytest.raises(ValueError, match="at least 4"):
        control_splits(3, 10, None, None, 1)


def test_judge_hand_cases():
    # threshold = 2 x mean(|0.55 - 0.5|, |0.45 - 0.5|) = 0.1
    assert judge([0.6], [0.55, 0.45], ideal=0.5) == {"matched": 0.6, "control": 0.5, "threshold":
                                                     pytest.approx(0.1), "pass": True}
    assert judge([0.7, 0.65], [0.55, 0.45], ideal=0.5)["pass"] is False
    # a control landing on the ideal: the chance-scatter floor keeps real cells from failing
    assert judge([0.6], [0.5], ideal=0.5)["pass"] is False
    floor = judge([0.6], [0.5], ideal=0.5, null_sd=0.05)
    assert floor["threshold"] == pytest.approx(2.576 * 0.05) and floor["pass"] is True
    assert judge([None], [0.1], ideal=0.0)["pass"] is None
    assert judge([0.1], [None, float("nan")], ideal=0.0) == {"matched": 0.1, "control": None,
                                                             "threshold": None, "pass": None}


# --------------------------------------------------------------------------- evaluate
def test_cells_of_the_same_distribution_pass_every_metric(same_result):
    meta = same_result["meta"]
    assert meta["counts"]["real"].startswith("raw counts from X")
    assert meta["counts"]["generated"].startswith("raw counts from layers['counts']")
    failed = {k: (v["matched"], v["control"], v["threshold"]) for k, v in same_result.items()
              if k != "meta" and v.get("pass") is False}
    assert not failed
    assert meta["n_failed"] == 0 and meta["n_passed"] >= 35
    for group in GROUPS:
        entries = [v for v in same_result.values() if isinstance(v, dict) and v.get("group") == group]
        assert entries and all(v["pass"] is True for v in entries), group


def test_shrunk_cells_fail_the_energy_distance_that_w1_lets_pass(real):
    """Real cells pulled 30 % of the way to their label's mean: less spread, not more realism. The empirical W1
    and W2 score them *closer* than the real-vs-real control; the energy distance charges for the lost spread."""
    shrunk = nb_cells(360, seed=2)
    del shrunk.layers["counts"]  # no longer counts
    x = np.asarray(shrunk.X, dtype=np.float64)
    for label in np.unique(shrunk.obs["cell_type"]):
        rows = (shrunk.obs["cell_type"] == label).to_numpy()
        x[rows] = 0.7 * x[rows] + 0.3 * x[rows].mean(0)
    shrunk.X = x.astype(np.float32)
    res = evaluate(real, shrunk, labels_key="cell_type", quick=True, n_control_repeats=3, use_celltypist=False)
    for name in ("wasserstein1", "wasserstein2"):
        assert res[name]["matched"] < res[name]["control"] and res[name]["pass"] is True, name
    energy = res["energy_distance"]
    assert energy["pass"] is False and energy["matched"] > 1.5 * energy["control"] > 0  # 1.00 vs 0.48
    assert set(energy["per_label"]) == {"a", "b", "c"}


def test_deeper_cells_fail_the_library_size_properties(real):
    deep = nb_cells(360, seed=2, depth=3.0)
    res = evaluate(real, deep, labels_key="cell_type", quick=True, use_celltypist=False)
    for name in ("library_size", "effective_library_size", "cell_zero_fraction", "library_size_vs_zero_fraction"):
        assert res[name]["pass"] is False, name
    assert res["tmm_factor"]["pass"] is True  # composition is unchanged


def test_continuous_cells_skip_count_properties_with_the_reason(real):
    smooth = nb_cells(360, seed=2)
    del smooth.layers["counts"]
    smooth.X = smooth.X + 0.01  # no zeros, not integers: like an MSE decoder's output
    res = evaluate(real, smooth, labels_key="cell_type", quick=True, use_celltypist=False)
    assert "no raw counts" in res["library_size"]["skipped"] and res["library_size"]["value"] is None
    assert "library_size" in res["meta"]["skipped"]
    assert res["zero_fraction_gap"]["pass"] is False  # the log-scale metrics still see the missing zeros
    assert res["de_lfc_correlation"]["value"] is not None


def test_counts_layer_arguments(real, same_distribution):
    with pytest.raises(KeyError, match="available"):
        evaluate(real, same_distribution, quick=True, generated_counts_layer="raw")
    with pytest.raises(ValueError, match="raw counts"):
        evaluate(real, same_distribution, quick=True, generated_counts_layer="X")  # X is log-normalised
    res = evaluate(real, same_distribution, quick=True, real_counts_layer=None, use_celltypist=False)
    assert "counts not used" in res["library_size"]["skipped"]
    assert "needs labels" in res["de_lfc_correlation"]["skipped"]


def test_results_table_one_row_per_metric(same_result):
    table = results_table(same_result)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert "meta" not in table.index and "library_size" in table.index and "de_top50_recall" in table.index
    assert table.loc["library_size", "group"] == "count_properties"
    assert table.loc["memorization", "skipped"].startswith("needs the training cells")
    assert json.loads(json.dumps(same_result, allow_nan=False))["meta"]["n_failed"] == 0


def test_comparison_data_tables(real, same_distribution):
    data = comparison_data(real, same_distribution, "cell_type", max_cells=100)
    assert set(data["cells"]["source"]) == {"real", "generated"} and len(data["cells"]) == 200
    assert data["genes"]["gene"].iloc[0] == "gene0" and len(data["genes"]) == 120
    assert set(data["lfc"]["label"]) == {"a", "b", "c"} and not data["skipped"]
    no_counts = comparison_data(real, same_distribution, generated_counts_layer=None)
    assert no_counts["cells"] is None and "raw counts" in no_counts["skipped"]["cells"]
    assert "labels" in no_counts["skipped"]["lfc"]


def test_report_renders_verdicts_and_comparison_figures(tmp_path, real, same_distribution):
    out = write_report(real, nb_cells(360, seed=2, depth=3.0), tmp_path / "rep", labels_key="cell_type",
                       quick=True, use_celltypist=False)
    files = {p.name for p in out.iterdir()}
    assert {"metrics.json", "report.md", "comparison.png", "fold_changes.png", "qq.png"} <= files
    assert (out / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "report.md").read_text()
    assert "## Verdict" in md and "the generated cells differ from real ones in:" in md
    assert "| library_size |" in md and "✗ **FAIL**" in md and "✓ pass" in md
    assert "Count-level properties (SimBench" in md and "Differential expression per label" in md
    assert "kde (1-D count properties): quick mode" in md  # what quick mode left out, and why
    assert "figure umap.png: quick mode" in md
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["library_size"]["pass"] is False


def test_old_names_still_resolve_with_a_deprecation_warning():
    import scdiffusion.evaluation as E
    import scdiffusion.metrics as M

    with pytest.warns(DeprecationWarning, match="moved to scdiffusion.evaluation.evaluate"):
        assert M.evaluate is E.evaluate
    with pytest.warns(DeprecationWarning):
        assert M.write_report is E.write_report
    with pytest.raises(AttributeError):
        M.not_a_metric  # noqa: B018
