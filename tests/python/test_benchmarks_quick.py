"""Every benchmark runs end to end in its --quick mode (tiny budgets; the numbers are not the point)."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
HSMM = Path("/usr/lib/R/site-library/HSMMSingleCell/data")


def _png(path) -> bool:
    """A real PNG image, not an empty file."""
    data = Path(path).read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


def _unit(v) -> bool:
    return v is None or 0.0 <= v <= 1.0


def _check_unconditional(res, out):
    meta = res["meta"]
    assert meta["quick"] and meta["n_generated"] == 40 and meta["n_heldout"] > 0
    assert meta["generation"]["n_steps"] >= 1 and meta["default_row"] in res["rows"]
    assert "real train (control)" in res["rows"]
    for name, row in res["rows"].items():  # every set scored on every column, AUCs and accuracies in [0, 1]
        assert set(res["columns"]) <= set(row), name
        finite = [row[c] for c in res["columns"] if row[c] is not None]
        assert len(finite) >= len(res["columns"]) // 2 and all(np.isfinite(finite)), (name, row)
        assert all(_unit(row[c]) for c in ("rf_auc_pca", "rf_auc_genes", "one_nn_accuracy")), (name, row)
    assert _png(res["figures"]["metrics"]) and Path(res["figures"]["metrics"]).resolve().parent == out.resolve()


def _check_conditional(res, out):
    assert res["per_type"], "no cell type was scored"
    for t, row in res["per_type"].items():
        assert row["n_generated"] > 0 and row["n_heldout"] > 0 and row["n_train"] > 0, (t, row)
        assert all(_unit(v) for k, v in row.items() if "auc" in k or "_acc_" in k), (t, row)
    assert res["meta"]["n_generated"] == sum(r["n_generated"] for r in res["per_type"].values())
    assert _png(res["figures"]["accuracy"])
    assert res["meta"]["training"]["model_kwargs"] == {"hidden": [64, 64]}  # --model-kwargs reached the model


def test_model_kwargs_must_be_a_json_object(tmp_path):
    for bad, says in (("{hidden: 64}", "not JSON"), ("[64, 64]", "give a JSON object")):
        res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "unseen_combination.py"), "--quick",
                              "--output-dir", str(tmp_path), "--model-kwargs", bad], capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 2 and says in res.stderr, res.stderr[-2000:]
        assert not (tmp_path / "results.json").exists()


def _check_unseen_combination(res, out):
    rows = res["rows"]
    assert "real held-out combination (control)" in rows and len(rows) >= 2
    for name, row in rows.items():
        fractions = [v for k, v in row.items() if k not in ("MMD to target", "target rank by MMD", "n combinations")]
        assert fractions and all(_unit(v) for v in fractions), (name, row)
        assert 1 <= row["target rank by MMD"] <= row["n combinations"] and np.isfinite(row["MMD to target"]), row
    assert res["meta"]["n_generated"] == 30 and _png(res["figures"]["mmd"])


def _check_interpolation(res, out):
    n_states = res["meta"]["n_states"]
    assert res["per_state"]
    for method, states in res["per_state"].items():  # states from 24 h (w = 0) to 72 h (w = 1), in order
        assert len(states) == n_states, method
        np.testing.assert_allclose([s["weight_72h"] for s in states], np.linspace(0, 1, n_states))
        assert all(s["mmd_to_48h"] is not None and np.isfinite(s["mmd_to_48h"]) for s in states)
        assert 0 <= res["closest_state_to_48h"][method]["by_mmd"] < n_states
    assert {"real 24 h", "real 72 h", "real 48 h (held out)"} <= set(res["reference"])
    assert all(_png(f) for f in res["figures"].values())


def _check_trajectory(res, out):
    meta, rows = res["meta"], res["summary"]
    assert meta["quick"] and meta["held_out"] == "24" and meta["neighbours"] == ["12", "36"]
    assert "gradient" in meta["methods_run"] and res["states"]
    # every method requested was either run or recorded as skipped (with a reason)
    assert set(meta["methods_requested"]) == set(meta["methods_run"]) | set(meta["methods_skipped"])
    assert all(meta["methods_skipped"].values())
    for name, row in rows.items():  # every row scored on every measure, finite, in range
        for c in res["columns"]:
            assert np.isfinite(row[c]["mean"]), (name, c)
        assert row["mmd2"]["mean"] >= 0 and row["w1"]["mean"] >= 0 and row["w2"]["mean"] >= row["w1"]["mean"] - 1e-9
        assert all(_unit(row[c]["mean"]) for c in ("rf_auc", "one_nn", "ilisi")), (name, row)
    w_rule, n_states = meta["w_rule"], meta["n_states"]
    assert w_rule == pytest.approx(0.5)
    chosen = int(np.argmin(np.abs(np.linspace(0, 1, n_states) - w_rule)))
    for method, states in res["states"].items():  # states in order, w from 0 to 1
        assert [s["state"] for s in states] == list(range(n_states))
        np.testing.assert_allclose([s["w"] for s in states], np.linspace(0, 1, n_states))
        assert rows[f"{method}: chosen state (w = {states[chosen]['w']:.2f})"]["state_per_seed"] == [chosen]
        best = rows[f"{method}: best state (chosen by looking)"]
        assert best["mmd2"]["mean"] == pytest.approx(min(s["mmd2"]["mean"] for s in states))
    assert {"gradient", "two-ended"} <= set(meta["methods_run"])  # both methods of interpolate are benchmarked
    assert res["default_method"] == "two-ended"  # the package's default (method="auto" with end cells)
    for prefix in ("direct interpolation", "OT displacement", "real 12 h", "real 36 h",
                   "real held-out half (control)", "fresh draw (control)",
                   "held-out half reconstructed by the autoencoder (ceiling)", "continuous time: generated at 24 h",
                   "continuous time: two-ended at 24 h",
                   "real held-out half, 30 % toward its mean (W1 check)"):
        assert any(k.startswith(prefix) for k in rows), prefix
    # the W1 check row: the control's own cells, less spread; energy distance (in every row) charges for it
    assert rows["real held-out half, 30 % toward its mean (W1 check)"]["energy"]["mean"] > \
        rows["real held-out half (control)"]["energy"]["mean"]
    for control in ("real held-out half (control)", "fresh draw (control)"):  # near chance (80 cells a side)
        assert abs(rows[control]["rf_auc"]["mean"] - 0.5) <= 0.35, (control, rows[control])
    assert rows["real held-out half (control)"]["mmd2"]["mean"] < rows["real 12 h (previous)"]["mmd2"]["mean"]
    assert _png(res["figures"]["mmd_per_state"])
    assert meta["training"]["model_kwargs"] == {"hidden": [64, 64]}  # --model-kwargs reached the model
    assert meta["training"]["continuous_model"]["model_kwargs"]["hidden"] == [64, 64]
    assert meta["training"]["continuous_model"]["model_kwargs"]["continuous_pseudotime"] is True
    assert "continuous_pseudotime" not in meta["training"]["model_kwargs"]  # the label model: not given it
    assert "continuous time: two-ended at 24 h (t_start 150)" in rows


def _check_hsmm_noise_scale(res, out):
    rows = res["held_out"]["24"]["summary"]
    for name, row in rows.items():
        for c in res["columns"]:
            assert np.isfinite(row[c]["mean"]), (name, c)
    names = ["ceiling, counts at θ × 1", "ceiling, counts at θ × 2", "ceiling, counts at θ × 4",
             "ceiling, counts at θ × 16", "ceiling, Poisson counts (θ → ∞)", "real held-out half (control)",
             "real held-out half, 10% toward its mean", "real held-out half, 30% toward its mean",
             "direct interpolation (w = 0.50)"]
    assert set(rows) == set(names)
    variance = res["held_out"]["24"]["summed_gene_variance"]
    assert set(variance) == {"real held-out half"} | {n for n in names if n.startswith("ceiling")}
    assert all(v["mean"] > 0 for v in variance.values())
    # the shrunk control: less spread, so a lower W1 than the control's own cells and a higher energy distance
    shrunk, control = rows["real held-out half, 30% toward its mean"], rows["real held-out half (control)"]
    assert shrunk["w1"]["mean"] < control["w1"]["mean"] and shrunk["energy"]["mean"] > control["energy"]["mean"]


def _check_hsmm_trajectory(res, out):
    meta = res["meta"]
    assert meta["quick"] and meta["held_out"] == ["24"] and meta["methods"] == ["two-ended", "gradient"]
    held = res["held_out"]["24"]
    assert held["neighbours"] == ["0", "48"] and held["w_rule"] == pytest.approx(0.5)
    rows = held["summary"]
    for name, row in rows.items():
        for c in res["columns"]:
            assert np.isfinite(row[c]["mean"]), (name, c)
        assert all(_unit(row[c]["mean"]) for c in ("rf_auc", "one_nn", "ilisi")), (name, row)
    for prefix in ("gradient: chosen state", "two-ended: best state", "direct interpolation", "OT displacement",
                   "real 0 h (previous)", "real 48 h (next)", "continuous time: generated at 24 h",
                   "continuous time: two-ended at 24 h",
                   "real held-out half (control)", "held-out half reconstructed by the autoencoder (ceiling)",
                   "real held-out half, 30 % toward its mean (W1 check)"):
        assert any(k.startswith(prefix) for k in rows), prefix
    # the targets compare the default method with direct interpolation, on the same means as the table
    direct = next(v for k, v in rows.items() if k.startswith("direct interpolation"))
    for method in ("two-ended", "gradient"):
        assert held["targets"][method]["best_mmd2_below_direct"]["threshold"] == pytest.approx(direct["mmd2"]["mean"])
    # no scored cell is in the PCA's fit: the PCA half is disjoint from the held-out time point's cells
    assert 0 < held["n_pca_cells"] < held["n_train_cells"]
    assert _png(held["figure"])
    training = held["seeds"]["0"]["training"]  # --model-kwargs reached both models
    assert training["model_kwargs"] == {"hidden": [64, 64]}
    assert training["continuous_model"]["model_kwargs"]["hidden"] == [64, 64]


def _check_pbmc_interpolation(res, out):
    meta, measures = res["meta"], res["measures"]
    assert meta["quick"] and meta["seeds"] == [0] and meta["methods"] == ["gradient", "two-ended"]
    assert meta["start"] == "CD14+ Monocyte" and meta["end"] == "Dendritic" and meta["n_states"] == 5
    assert set(measures) == {"frac_end", "frac_start", "mmd2_start", "mmd2_end", "mixed_gap", "nearest_ratio"}
    assert set(res["states"]) == {"gradient", "two-ended"}  # both methods of interpolate, the baseline apart
    paths = {**res["states"], "direct interpolation": res["baseline"]}
    for name, states in paths.items():  # 5 states, w of the end label from 0 to 1, every measure finite, in range
        assert [s["state"] for s in states] == list(range(5)), name
        np.testing.assert_allclose([s["w"] for s in states], np.linspace(0, 1, 5), atol=1e-6)
        for s in states:
            for c in measures:
                assert np.isfinite(s[c]["mean"]) and np.isfinite(s[c]["sd"]) and s[c]["sd"] >= 0, (name, s)
                assert len(s[c]["per_seed"]) == 1, (name, c)
            assert _unit(s["frac_end"]["mean"]) and _unit(s["frac_start"]["mean"]), (name, s)
            assert s["frac_end"]["mean"] + s["frac_start"]["mean"] <= 1 + 1e-9, (name, s)
            assert s["mmd2_start"]["mean"] >= 0 and s["mmd2_end"]["mean"] >= 0, (name, s)
            assert -1 <= s["mixed_gap"]["mean"] <= 1 and s["nearest_ratio"]["mean"] >= 0, (name, s)
            assert _unit(s["fraction_mixed"]["mean"]), (name, s)
    for seed_run in res["seeds"].values():  # every state of every method has the cells asked for
        assert all(s["n_cells"] == meta["n_cells_per_state"] for m in seed_run["states"].values() for s in m)
    # the baseline's end points are real training cells of the end labels: the annotator calls them by their label
    base = res["baseline"]
    assert base[0]["frac_start"]["mean"] > 0.5 and base[-1]["frac_end"]["mean"] > 0.5
    ref = res["reference"]
    assert _unit(ref["held_out_fraction_mixed"]["mean"]) and ref["held_out_median_nearest_distance"]["mean"] > 0
    assert ref["held_out_Dendritic"]["frac_end"]["mean"] > 0.5
    for name, c in res["checks"].items():  # each check on the means, and how many seeds pass it
        assert set(c["seeds_passing"]) == {"dendritic_fraction_monotone", "state0_looks_like_monocytes",
                                           "last_state_looks_like_dendritic"}, name
        assert all(isinstance(c["on_means"][k], bool) and 0 <= v <= 1 for k, v in c["seeds_passing"].items())
        frac = [s["frac_end"]["mean"] for s in paths[name]]
        assert c["on_means"]["dendritic_fraction_monotone"] == bool(np.all(np.diff(frac) >= -1e-12)), name
    assert set(res["checks"]) == {"gradient", "two-ended", "direct interpolation"}
    assert _png(res["figures"]["per_state"]) and Path(res["figures"]["per_state"]).resolve().parent == out.resolve()


@pytest.mark.parametrize("name", ["unconditional", "conditional", "unseen_combination", "interpolation",
                                  "trajectory", "hsmm_trajectory", "pbmc_interpolation", "hsmm_noise_scale"])
def test_benchmark_quick_mode(name, tmp_path):
    """Each benchmark's --quick run writes results with the content its tables and figures are made from (rows
    for every set, values in range, real images), not just files."""
    if name in ("interpolation", "hsmm_trajectory", "hsmm_noise_scale") and not HSMM.exists():
        pytest.skip("HSMMSingleCell data is not installed (Debian r-bioc-hsmmsinglecell; scripts/install-r.sh)")
    no_reader = importlib.util.find_spec("pyreadr") is None and shutil.which("Rscript") is None
    if name in ("interpolation", "hsmm_trajectory", "hsmm_noise_scale") and no_reader:
        pytest.skip("the HSMM .rda files need pyreadr (bash scripts/install.sh bench) or Rscript")
    # these also check --model-kwargs (the architecture experiments run the guarded benchmarks with it)
    extra = ["--model-kwargs", '{"hidden": [64, 64]}'] if name in ("conditional", "trajectory",
                                                                   "hsmm_trajectory") else []
    if name == "trajectory":  # the continuous-time model's own arguments, and more t_start values along its column
        extra += ["--continuous-kwargs", '{"continuous_pseudotime": true}', "--continuous-t-starts", "150"]
    res = _run_quick(name, tmp_path, *extra)
    globals()[f"_check_{name}"](res, tmp_path)


def _run_quick(name: str, out: Path, *extra: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--quick", "--output-dir",
                          str(out), *extra], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def test_shrinkage_check_quick_mode(tmp_path):
    """Real training cells pulled to their label's mean: 1-NN accuracy near 0.5 as hubs (side gap near +1) while
    MMD² and the energy distance grow with the pull; the control is near chance on every measure."""
    res = _run_quick("shrinkage_check", tmp_path)
    rows = res["summary"]
    control = rows["real training cells (control)"]
    assert abs(control["one_nn_accuracy"]["mean"] - 0.5) < 0.1 and control["mmd_rbf"]["mean"] < 0.05
    near, far = (rows[f"the same cells, {f}% toward their label's mean"] for f in (10, 30))
    for r in (near, far):
        assert abs(r["one_nn_accuracy"]["mean"] - 0.5) < 0.1 and r["one_nn_side_gap"]["mean"] > 0.5
    assert control["mmd_rbf"]["mean"] < near["mmd_rbf"]["mean"] < far["mmd_rbf"]["mean"]
    assert control["energy"]["mean"] < near["energy"]["mean"] < far["energy"]["mean"]


def test_draw_noise_quick_mode(tmp_path):
    """Two count draws of the same fixed cells, scored with fixed forest and subsampling seeds, give different
    values: the scatter a single run's row carries; every row of every seed is kept."""
    res = _run_quick("draw_noise", tmp_path, "--seeds", "0", "1")
    assert set(res["seeds"]) == {"0", "1"}
    rows = res["summary"]
    assert set(rows) == {"new cells (control)", "fixed cells, true μ", "fixed cells, μ off by 20%"}
    for row in rows.values():
        assert set(row) == {"rf_auc_genes", "rf_auc_pca", "mmd_rbf", "one_nn_accuracy"}
        assert all(0.3 < row[c]["mean"] < 1 for c in ("rf_auc_genes", "rf_auc_pca", "one_nn_accuracy"))
        assert len(row["rf_auc_pca"]["per_seed"]) == 2
    fixed = rows["fixed cells, true μ"]
    assert fixed["rf_auc_pca"]["sd"] > 0 and fixed["mmd_rbf"]["sd"] > 0  # only the counts changed


def test_sampling_steps_quick_mode(tmp_path):
    res = _run_quick("sampling_steps", tmp_path)
    assert set(res["summary"]) == {"unconditional", "guided", "interpolation"}
    for kind, table in res["summary"].items():
        assert table["ddpm-all"]["n_steps"] == (601 if kind == "interpolation" else 1000)
        few = table["dpmpp-sde-10"]
        assert few["n_steps"] == 10 and few["speedup_vs_reference"] > 1
        assert "matches_reference" in few
    assert all(r["cells_per_second"] > 0 for r in res["runs"] if "cells_per_second" in r)


def test_training_speed_quick_mode(tmp_path):
    res = _run_quick("training_speed", tmp_path)
    assert set(res["overhead"]) == {"autoencoder", "diffusion", "classifier:bulk_labels"}
    for stage in res["overhead"].values():
        assert stage["fit_seconds_per_step"] > 0 and stage["bare_seconds_per_step"] > 0
        assert stage["ratio"] == pytest.approx(stage["fit_seconds_per_step"] / stage["bare_seconds_per_step"])
    assert set(res["time_to_loss"]) == {"autoencoder", "diffusion", "classifier:bulk_labels"}


def test_evaluate_speed_quick_mode(tmp_path):
    res = _run_quick("evaluate_speed", tmp_path)
    assert res["n_cells"] == 200 and res["cli_seconds"] > 0 and res["evaluate_seconds"] > 0
    assert res["report_lists_skipped"] and "kde (1-D count properties)" in res["skipped"]
    assert "comparison.png" in res["figures"] and "umap.png" not in res["figures"]
    assert res["seconds_per_group"]["count_properties"] > 0


def test_gpu_speed_quick_mode_on_the_cpu(tmp_path):
    """The GPU figures' script (run on a GPU for benchmarks/README) measures training, throughput and realism."""
    res = _run_quick("gpu_speed", tmp_path, "--device", "cpu", "--precisions", "fp32")
    assert res["meta"]["machine"]["device"] == "cpu" and res["meta"]["n_cells"] == 600
    row = res["precisions"]["fp32"]
    assert row["train_seconds"] > 0 and {"autoencoder", "diffusion", "classifier:group"} == set(row["stages"])
    assert all(s["steps"] > 0 for s in row["stages"].values())
    kinds = [t["what"] for t in row["generation"]]
    assert len(kinds) == 4 and all(t["cells_per_second"] > 0 for t in row["generation"])
    assert row["generation"][2]["batch_size"] == 400  # the large-batch run, capped at the cells generated
    assert 0.0 <= row["generated_vs_fresh"]["rf_auc_genes"] <= 1.0 and row["generated_vs_fresh"]["mmd_rbf"] >= 0


@pytest.mark.parametrize("name", ["decoder", "simulated"])
def test_decoder_benchmarks_quick_mode(name, tmp_path):
    res = _run_quick(name, tmp_path)
    rows = res["summary"]
    assert {"real train (control)", "decoder ceiling", "recon. held-out", "generated",
            "per-label Gaussian (PCA)"} <= set(rows)
    for row in rows.values():
        assert set(res["columns"]) <= set(row)
        assert 0.0 <= row["rf_auc_genes"]["mean"] <= 1.0 and row["mmd_rbf"]["mean"] >= 0.0
    # latent-space measures for the rows that have latents (training cells, generated cells), none for the others
    for name in ("real train (control)", "generated"):
        assert 0.0 <= rows[name]["latent_rf_auc"]["mean"] <= 1.0 and rows[name]["latent_mmd"]["mean"] >= 0.0
    assert rows["per-label Gaussian (PCA)"]["latent_mmd"]["mean"] is None
    # the per-label Gaussian's samples lack the real cells' noise outside its 50 PCs: every cell's nearest neighbour
    # (hubs) -- what an overall 1-NN accuracy near 0.5 averages away and the side gap shows
    assert rows["per-label Gaussian (PCA)"]["one_nn_side_gap"]["mean"] > 0.5
    assert all(-1.0 <= row["one_nn_side_gap"]["mean"] <= 1.0 for row in rows.values())
    # between-types measures relative to the held-out cells; the training cells are the reference: none
    assert rows["real train (control)"]["mixed_share_gap"]["mean"] is None
    for name in ("decoder ceiling", "generated", "per-label Gaussian (PCA)"):
        assert -1.0 <= rows[name]["mixed_share_gap"]["mean"] <= 1.0 and rows[name]["nearest_distance_ratio"]["mean"] > 0
    seed = next(iter(res["seeds"].values()))
    assert 0.0 <= seed["mixed_held_out"]["fraction_mixed"] <= 1.0
    top = seed["diagnostics"]["decoder ceiling"]["rf_top_genes"]
    assert len(top) == 10 and top[0]["importance"] >= top[-1]["importance"]
    assert {"metrics", "genes", "depth_zeros"} <= set(res["figures"])
    assert all((tmp_path / Path(f).name).exists() for f in res["figures"].values())
    if name == "decoder":
        assert _png(res["figures"]["umap"])
    if name == "simulated":
        assert {"true μ, learned θ", "decoded μ, true θ"} <= set(rows)
        assert res["truth"]["theta_true_median"] > 0 and -1 <= res["truth"]["mean_error_vs_counting_noise_r"] <= 1
        # guided cells against the fresh draw; real training cells of the same groups are the control
        g = seed["guided"]
        assert g["guided"]["knn_auc"].keys() == g["control"]["knn_auc"].keys() and len(g["guided"]["knn_auc"]) >= 2
        assert g["heldout_real_accuracy"] > 0.8 and g["control"]["accuracy"] > 0.8  # the groups are separable
        assert 0.0 <= res["guided"]["guided_accuracy"] <= 1.0 and 0.0 <= res["guided"]["guided_knn_auc_mean"] <= 1.0


def test_simulated_scale_quick_mode(tmp_path):
    """Each size is its own simulated.py run (its cells, its process's time and memory), collected by size."""
    res = _run_quick("simulated_scale", tmp_path)
    assert list(res["sizes"]) == ["300", "600"]
    for n, entry in res["sizes"].items():
        assert entry["simulation"]["n_cells"] == int(n) and entry["simulation"]["n_genes"] == 300
        assert entry["process"]["wall_seconds"] > 0 and 0.1 < entry["process"]["peak_rss_gb"] < 8
        rows = {"real train (control)", "decoder ceiling", "generated", "per-label Gaussian (PCA)"}
        assert rows == set(entry["rows"])
        assert 0.0 <= entry["rows"]["generated"]["rf_auc_genes"]["mean"] <= 1.0
        assert (tmp_path / f"n{n}" / "results.json").exists()
    assert "| 600 | generated |" in (tmp_path / "table.md").read_text()


@pytest.mark.parametrize("quick", [False, True])
def test_missing_bench_package_stops_a_full_run_and_is_skipped_in_quick_mode(quick):
    code = ("import argparse, sys; sys.path.insert(0, 'benchmarks'); import _common as C; "
            "C.BENCH_PACKAGES['no_such_module'] = 'no-such-package (a baseline)'; "
            f"print(C.require_bench(argparse.Namespace(quick={quick}, name='unconditional'), 'no_such_module'))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if quick:
        assert res.returncode == 0 and "['no_such_module']" in res.stdout, res.stderr[-2000:]
    else:
        assert res.returncode == 1
        assert "not installed: no-such-package (a baseline)" in res.stderr
        assert "bash scripts/install.sh bench" in res.stderr


def test_trajectory_runs_every_method_the_installed_interpolate_accepts(monkeypatch):
    """Without a ``method`` parameter only Gradient Interpolation runs and the other methods are recorded as
    skipped; with one, every requested method is tried (a method it then refuses is skipped at run time)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import trajectory

    class Old:
        def interpolate(self, start_cells, labels_key, start, end, *, n_states=5):
            pass

    class New:
        def interpolate(self, start_cells, labels_key, start, end, *, n_states=5, method="gradient"):
            pass

    run, skipped, has_method = trajectory.accepted_methods(Old, ["gradient", "two-ended"])
    assert run == ["gradient"] and list(skipped) == ["two-ended"] and not has_method
    assert "no `method` parameter" in skipped["two-ended"]
    assert trajectory.accepted_methods(New, ["gradient", "two-ended"]) == (["gradient", "two-ended"], {}, True)


def test_checkpoint_experiment_replays_the_default_early_stopping(monkeypatch):
    """E11 compares its criteria with the default's choice, replayed on the recorded validation losses: the same
    rule as the training loop (patience evaluations without an improvement of more than 1e-6)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import diffusion_checkpoints as dc

    assert dc.replay_early_stopping([3.0, 2.0, 2.5, 2.4, 1.9, 2.0, 2.1], patience=3) == (4, 6)
    assert dc.replay_early_stopping([3.0, 2.0, 2.5, 2.6, 1.0], patience=2) == (1, 3)  # stops before the 1.0
    assert dc.replay_early_stopping([1.0, 1.0 - 1e-7, 0.5], patience=5) == (2, 2)  # tiny gains do not count


def test_ot_pairs_are_distinct_pairs_of_the_coupling(monkeypatch):
    """The OT displacement baseline draws distinct pairs from the exact coupling: repeated pairs would repeat
    interpolated cells, and the kernel of MMD² counts every copy (a duplicated set looks farther than it is)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import ot
    import trajectory

    rng = np.random.default_rng(0)
    za, zb = rng.normal(size=(40, 3)), rng.normal(size=(30, 3)) + 1.0
    i, j = trajectory.ot_pairs(za, zb, 35, np.random.default_rng(1))
    assert len(set(zip(i.tolist(), j.tolist()))) == 35  # no pair twice
    plan = ot.emd(np.full(40, 1 / 40), np.full(30, 1 / 30), ((za[:, None] - zb[None]) ** 2).sum(-1))
    assert np.all(plan[i, j] > 0)  # every pair is coupled by the plan
    with pytest.raises(ValueError, match="distinct OT pairs"):
        trajectory.ot_pairs(za, zb, 40 * 30, np.random.default_rng(1))


def test_trajectory_oracle_quick_mode(tmp_path):
    """The oracle rows bound interpolation on the simulated trajectory: a perfect blend of the neighbours' states is
    closer to the held-out cells than direct interpolation of their counts, and knowing every gene's response curve
    (blended pseudotime) is closer still; the baselines are trajectory.py's own."""
    res = _run_quick("trajectory_oracle", tmp_path)
    mmd = {k: v["mmd2"]["mean"] for k, v in res["summary"].items()}
    direct = next(v for k, v in mmd.items() if k.startswith("direct interpolation"))
    assert mmd["oracle pseudotime, OT pairs"] < mmd["oracle blend, OT pairs"] < direct
    assert mmd["real held-out half (control)"] < mmd["oracle pseudotime, OT pairs"]
    assert res["mmd2_over_direct"]["oracle blend, OT pairs"] == pytest.approx(mmd["oracle blend, OT pairs"] / direct)
    assert 0 < res["meta"]["n_known_genes"] < res["meta"]["n_genes"]
    known = {k: v["mmd2"]["mean"] for k, v in res["summary_known_genes"].items()}
    assert known["oracle pseudotime, OT pairs"] < known["oracle blend, OT pairs"]


def test_trajectory_simulation_draws_through_its_count_model():
    """The simulator's draw is its logits and count model applied to the cells' states, in one random stream:
    the oracle rows rebuild cells from those states."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from _trajectory_sim import TrajectoryModel
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    sim = TrajectoryModel.make(80, seed=3)
    d = sim.draw({"0": 30, "24": 30}, seed=5)
    rng = np.random.default_rng(5)  # the draw's stream: τ per time point, activity, library, then counts
    for t in ("0", "24"):
        sim.sample_tau(t, 30, rng)
    rng.normal(0.0, sim.activity_sd, (60, sim.loadings.shape[0]))
    rng.normal(0.0, sim.library_sd, 60)
    again = sim.sample_counts(sim.logits(d.tau.astype(np.float64), d.activity), d.library, rng)
    assert d.activity.shape == (60, sim.loadings.shape[0])
    np.testing.assert_allclose(again, d.counts, atol=0.0)


def test_trajectory_pseudotime_quick_mode(tmp_path):
    """T4/T8: a continuous-time model on the ridge pseudotime column makes cells at the held-out value, from noise
    and two-ended from every t_start asked for, beside direct/OT interpolation and the control half; every row
    scored on every measure; the column is used as given (the package's default does not spread it again)."""
    res = _run_quick("trajectory_pseudotime", tmp_path, "--t-starts", "50", "300", "--concentration", "20")
    rows = res["summary"]
    assert set(rows) == {"ridge: generated at 24", "ridge: two-ended at 24, t_start 50",
                         "ridge: two-ended at 24, t_start 300", "real held-out half (control)",
                         "direct interpolation", "OT displacement"}
    for name, row in rows.items():
        assert all(np.isfinite(row[c]["mean"]) for c in ("mmd2", "w1", "rf_auc")), name
    assert rows["real held-out half (control)"]["mmd2"]["mean"] < rows["direct interpolation"]["mmd2"]["mean"]
    seed = res["seeds"]["0"]
    assert seed["medians"] == {"12": pytest.approx(12.0, abs=0.5), "36": pytest.approx(36.0, abs=0.5)}
    assert seed["training"]["model_kwargs"] == {"continuous_keys": ["pseudotime"], "continuous_pseudotime": False}
    assert seed["pseudotime"]["applied"] and 0.0 < seed["pseudotime"]["r2_cv"] < 1.0
    assert res["meta"]["concentration"] == 20.0


def test_value_embedding_quick_mode(tmp_path):
    """T5: one continuous-time model per value scale on the same cells, each recording its scale; every arm scored
    at the held-out value (from noise, two-ended, other guidance weights) and at the trained neighbours."""
    res = _run_quick("value_embedding", tmp_path, "--scales", "1000", "10", "--cfg-scales", "2")
    rows = res["summary"]
    for scale in ("1000", "10"):
        for row in ("generated at 24 h", "generated at 24 h, cfg_scale 2", "two-ended by value at 24 h",
                    "generated at 12 h (trained; vs held-out 24 h)", "generated at 36 h (trained; vs held-out 24 h)"):
            assert all(np.isfinite(rows[f"scale {scale}: {row}"][c]["mean"]) for c in ("mmd2", "w1", "rf_auc"))
    training = res["seeds"]["0"]["training"]
    assert set(training) == {"1000", "10"}
    assert all(t["model_kwargs"] == {"continuous_keys": ["time"]} for t in training.values())
    # the controls are scored once, on the same reference as every arm
    assert rows["real held-out half (control)"]["mmd2"]["mean"] < rows["scale 10: generated at 24 h"]["mmd2"]["mean"]
