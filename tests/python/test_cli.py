"""The CLI contract end to end, and one-line errors that leave no partial output."""

import anndata as ad
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import make_counts
from scdiffusion.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    a = make_counts(n_cells=150, n_genes=40)
    a.layers["counts"] = a.X.copy()
    a.X = np.log1p(a.X)
    a.write_h5ad(d / "in.h5ad")
    res = CliRunner().invoke(main, [
        "train", str(d / "in.h5ad"), "--model-dir", str(d / "model"), "--layer", "counts",
        "--labels-key", "cell_type", "--labels-key", "tissue", "--device", "cpu", "--seed", "1",
        "--max-steps", "40", "--quiet"])
    assert res.exit_code == 0, res.output
    return d


def test_train_writes_a_model_directory(trained):
    """The model folder holds what was asked: the genes kept (in the input's order), both label columns with their
    labels, the seed, the layer; it loads, and the same seed gives the same cells."""
    import json

    from scdiffusion import ScDiffusion

    model_dir = trained / "model"
    a = ad.read_h5ad(trained / "in.h5ad")
    detected = np.asarray((a.layers["counts"] > 0).sum(0)).ravel() >= 3  # min_cells: genes in >= 3 cells
    genes = (model_dir / "genes.txt").read_text().split()
    assert genes == list(a.var_names[detected]) and len(genes) > 30
    config = json.loads((model_dir / "config.json").read_text())
    assert config["seed"] == 1
    labels = {d["key"]: sorted(map(str, d.get("categories", d.get("labels", [])))) for d in config["labels"]}
    assert labels == {"cell_type": ["type0", "type1", "type2"], "tissue": ["liver", "lung"]}, config["labels"]
    model = ScDiffusion.load(model_dir, device="cpu")
    assert model.genes == genes and model.is_trained
    one, two = (model.generate(4, {"tissue": "lung"}, n_steps=5, seed=3, progress=False) for _ in range(2))
    np.testing.assert_array_equal(one.X, two.X)
    assert list(one.var_names) == genes and (one.obs["tissue"] == "lung").all()


def test_generate_one_condition_and_a_combination(trained):
    r = CliRunner()
    out = trained / "gen.h5ad"
    res = r.invoke(main, ["generate", "--model-dir", str(trained / "model"), "--n-cells", "7", "--condition",
                          "cell_type=type1", "--n-steps", "20", "--seed", "2", "--output", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    g = ad.read_h5ad(out)
    assert g.n_obs == 7 and (g.obs["cell_type"] == "type1").all()
    out2 = trained / "combo.h5ad"
    res = r.invoke(main, ["generate", "--model-dir", str(trained / "model"), "--n-cells", "5",
                          "--condition", "cell_type=type0", "--condition", "tissue=liver",
                          "--guidance-scale", "cell_type=3", "--sampler", "ddim", "--n-steps", "10",
                          "--output", str(out2), "--quiet"])
    assert res.exit_code == 0, res.output
    g2 = ad.read_h5ad(out2)
    assert (g2.obs["tissue"] == "liver").all() and g2.uns["scdiffusion"]["guidance_scale"]["cell_type"] == 3.0
    # same seed through the CLI: identical cells
    out3 = trained / "gen_again.h5ad"
    r.invoke(main, ["generate", "--model-dir", str(trained / "model"), "--n-cells", "7", "--condition",
                    "cell_type=type1", "--n-steps", "20", "--seed", "2", "--output", str(out3), "--quiet"])
    np.testing.assert_array_equal(ad.read_h5ad(out3).X, g.X)


def test_interpolate(trained):
    out = trained / "interp.h5ad"
    res = CliRunner().invoke(main, [
        "interpolate", "--model-dir", str(trained / "model"), "--labels-key", "cell_type", "--start", "type0",
        "--end", "type1", "--start-cells", str(trained / "in.h5ad"), "--layer", "counts", "--n-states", "3",
        "--n-cells", "4", "--t-start", "300", "--n-steps", "30", "--output", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    g = ad.read_h5ad(out)
    genes = (trained / "model" / "genes.txt").read_text().split()
    assert g.shape == (12, len(genes)) and list(g.var_names) == genes
    assert g.obs["interpolation_state"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    # the guidance moves from the start label to the end label: (2, 0), (1, 1), (0, 2)
    np.testing.assert_allclose(g.obs.groupby("interpolation_state")["weight_end"].first(), [0.0, 1.0, 2.0])
    np.testing.assert_allclose(g.obs["weight_start"] + g.obs["weight_end"], 2.0)
    real = ad.read_h5ad(trained / "in.h5ad")
    starts = set(real.obs_names[real.obs["cell_type"] == "type0"])
    assert set(g.obs["source_cell"]) <= starts  # every state starts from real cells of the start label
    x = np.asarray(g.X.todense() if hasattr(g.X, "todense") else g.X)
    assert np.isfinite(x).all() and x.min() >= 0
    p = g.uns["scdiffusion"]
    assert (p["start"], p["end"], p["n_states"], p["n_cells"], p["t_start"]) == ("type0", "type1", 3, 4, 300)
    g = ad.read_h5ad(out)
    assert g.n_obs == 12 and sorted(g.obs["interpolation_state"].unique()) == [0, 1, 2]
    assert g.uns["scdiffusion"]["t_start"] == 300
    # same seed → identical cells; another seed → other cells
    args = ["interpolate", "--model-dir", str(trained / "model"), "--labels-key", "cell_type", "--start", "type0",
            "--end", "type1", "--start-cells", str(trained / "in.h5ad"), "--layer", "counts", "--n-states", "3",
            "--n-cells", "4", "--t-start", "300", "--n-steps", "30", "--quiet"]
    for name, seed in (("again", "0"), ("other", "5")):
        res = CliRunner().invoke(main, [*args, "--seed", seed, "--output", str(trained / f"interp_{name}.h5ad")])
        assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(ad.read_h5ad(trained / "interp_again.h5ad").X, g.X)
    assert not np.array_equal(ad.read_h5ad(trained / "interp_other.h5ad").X, g.X)


def test_interpolate_two_ended(trained):
    """--method two-ended: both real ends named per cell, the method recorded; an unknown method is a usage error
    (exit 2) listing the choices, and writes nothing."""
    args = ["interpolate", "--model-dir", str(trained / "model"), "--labels-key", "cell_type", "--start", "type0",
            "--end", "type1", "--start-cells", str(trained / "in.h5ad"), "--layer", "counts", "--n-states", "3",
            "--n-cells", "4", "--t-start", "300", "--n-steps", "20", "--quiet"]
    out = trained / "two_ended.h5ad"
    res = CliRunner().invoke(main, [*args, "--method", "two-ended", "--output", str(out)])
    assert res.exit_code == 0, res.output
    g = ad.read_h5ad(out)
    assert g.n_obs == 12 and g.uns["scdiffusion"]["interpolation_method"] == "two-ended"
    real = ad.read_h5ad(trained / "in.h5ad")
    assert set(g.obs["source_cell"]) <= set(real.obs_names[real.obs["cell_type"] == "type0"])
    assert set(g.obs["source_cell_end"]) <= set(real.obs_names[real.obs["cell_type"] == "type1"])
    bad = trained / "nope.h5ad"
    res = CliRunner().invoke(main, [*args, "--method", "nope", "--output", str(bad)])
    assert res.exit_code == 2
    assert "'nope' is not one of 'auto', 'gradient', 'two-ended'" in res.output, res.output
    assert not bad.exists()


@pytest.mark.parametrize("args, needle", [
    (["--n-cells", "0"], "positive integer"),
    (["--n-cells", "5", "--condition", "cell_type"], "COL=LABEL"),
    (["--n-cells", "5", "--condition", "cell_type=nope"], "Unknown label 'nope'"),
    (["--n-cells", "5", "--condition", "organ=lung"], "No classifier for column 'organ'"),
    (["--n-cells", "5", "--guidance-scale", "abc"], "not a number"),
])
def test_bad_generate_arguments_fail_in_one_line_without_output(trained, args, needle):
    out = trained / "bad.h5ad"
    res = CliRunner().invoke(main, ["generate", "--model-dir", str(trained / "model"), "--output", str(out),
                                    "--quiet", *args])
    assert res.exit_code != 0
    assert needle in res.output
    assert len([line for line in res.output.strip().splitlines() if line.startswith("Error")]) == 1
    assert not out.exists()
    assert not [p for p in trained.iterdir() if p.name.startswith(".bad.h5ad")]


def test_existing_output_is_not_overwritten(trained):
    out = trained / "exists.h5ad"
    out.write_bytes(b"precious")
    res = CliRunner().invoke(main, ["generate", "--model-dir", str(trained / "model"), "--n-cells", "2",
                                    "--output", str(out), "--quiet"])
    assert res.exit_code != 0 and "--overwrite" in res.output
    assert out.read_bytes() == b"precious"


def test_train_on_bad_input_fails_cleanly(tmp_path):
    a = make_counts(n_cells=40)
    a.X = a.X + 0.5
    a.write_h5ad(tmp_path / "frac.h5ad")
    res = CliRunner().invoke(main, ["train", str(tmp_path / "frac.h5ad"), "--model-dir", str(tmp_path / "m"),
                                    "--quiet"])
    assert res.exit_code != 0 and "non-integer" in res.output
    assert not (tmp_path / "m").exists()
    res = CliRunner().invoke(main, ["train", str(tmp_path / "missing.h5ad"), "--model-dir", str(tmp_path / "m")])
    assert res.exit_code != 0 and "does not exist" in res.output


def test_missing_model_dir(tmp_path):
    res = CliRunner().invoke(main, ["generate", "--model-dir", str(tmp_path / "none"), "--n-cells", "3",
                                    "--output", str(tmp_path / "o.h5ad")])
    assert res.exit_code != 0 and "does not exist" in res.output


def test_evaluate_writes_metrics_report_and_figures(trained, tmp_path):
    real = ad.read_h5ad(trained / "in.h5ad")
    real.X = real.layers["counts"]
    real.write_h5ad(tmp_path / "real.h5ad")
    gen = trained / "gen_eval.h5ad"
    CliRunner().invoke(main, ["generate", "--model-dir", str(trained / "model"), "--n-cells", "60", "--condition",
                              "cell_type=type0", "--n-steps", "20", "--output", str(gen), "--quiet"])
    g = ad.read_h5ad(gen)
    g.obs["cell_type"] = g.obs["cell_type"].astype(str)
    g.write_h5ad(gen, compression=None)
    out = tmp_path / "report"
    res = CliRunner().invoke(main, ["evaluate", "--real", str(tmp_path / "real.h5ad"), "--generated", str(gen),
                                    "--labels-key", "cell_type", "--model-dir", str(trained / "model"),
                                    "--output-dir", str(out), "--quick"])
    assert res.exit_code == 0, res.output
    metrics = __import__("json").loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["rf_auc_genes"]["value"] <= 1.0 and "space" in metrics["mmd_rbf"]
    report = (out / "report.md").read_text()
    assert "rf_auc_genes" in report and "mmd_rbf" in report  # the report states the metrics it computed
    assert metrics["meta"]["n_passed"] + metrics["meta"]["n_failed"] > 0
    pngs = list(out.glob("*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000 for p in pngs)
    # mismatched genes: a clear one-line error, no report folder
    real[:, :10].copy().write_h5ad(tmp_path / "few.h5ad")
    res = CliRunner().invoke(main, ["evaluate", "--real", str(tmp_path / "few.h5ad"), "--generated", str(gen),
                                    "--output-dir", str(tmp_path / "r2"), "--quick"])
    assert res.exit_code == 1 and "gene" in res.output.lower()
    assert not (tmp_path / "r2").exists()


def test_deprecated_stage_step_flags_still_train_with_a_warning(tmp_path):
    a = make_counts(n_cells=60, n_genes=30)
    a.write_h5ad(tmp_path / "in.h5ad")
    res = CliRunner().invoke(main, ["train", str(tmp_path / "in.h5ad"), "--model-dir", str(tmp_path / "m"),
                                    "--device", "cpu", "--autoencoder-steps", "5", "--max-steps", "diffusion=4",
                                    "--classifier-steps", "3", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "deprecated" in res.output and "--max-steps STAGE=N" in res.output
    history = __import__("json").loads((tmp_path / "m" / "history.json").read_text())
    assert [history[s]["n_steps"] for s in ("autoencoder", "diffusion")] == [5, 4]


def test_generate_guidance_window_and_sampler_options(trained, tmp_path):
    out = tmp_path / "g.h5ad"
    base = ["generate", "--model-dir", str(trained / "model"), "--n-cells", "4", "--condition", "cell_type=type1",
            "--quiet"]
    res = CliRunner().invoke(main, [*base, "--guidance-t-max", "300", "--n-steps", "10", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert ad.read_h5ad(out).uns["scdiffusion"]["guidance_t_max"] == 300
    # eta belongs to DDIM: refused with the default sampler instead of silently dropped
    res = CliRunner().invoke(main, [*base, "--eta", "0.5", "--output", str(tmp_path / "e.h5ad")])
    assert res.exit_code == 1 and "no option eta" in res.output and "'ddim'" in res.output
    res = CliRunner().invoke(main, [*base, "--sampler", "ddim", "--eta", "0.5", "--n-steps", "10",
                                    "--output", str(tmp_path / "e.h5ad")])
    assert res.exit_code == 0, res.output
    assert ad.read_h5ad(tmp_path / "e.h5ad").uns["scdiffusion"]["eta"] == 0.5


def test_generate_with_classifier_free_guidance_and_fixed_threads(trained, tmp_path):
    out = tmp_path / "cfg.h5ad"
    res = CliRunner().invoke(main, ["--threads", "1", "generate", "--model-dir", str(trained / "model"),
                                    "--n-cells", "4", "--condition", "cell_type=type1", "--guidance", "classifier-free",
                                    "--cfg-scale", "3", "--n-steps", "10", "--output", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    p = ad.read_h5ad(out).uns["scdiffusion"]
    assert p["guidance"] == "classifier-free" and p["cfg_scale"] == 3.0


def test_options_on_by_default_can_be_turned_off_and_noise_fit_is_chosen(tmp_path):
    import json

    a = make_counts(n_cells=60, n_genes=30)
    a.write_h5ad(tmp_path / "in.h5ad")
    res = CliRunner().invoke(main, ["train", str(tmp_path / "in.h5ad"), "--model-dir", str(tmp_path / "m"),
                                    "--labels-key", "cell_type", "--device", "cpu", "--max-steps", "3",
                                    "--no-classifier-free", "--noise-fit", "joint", "--quiet"])
    assert res.exit_code == 0, res.output
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["denoiser"]["conditioned_on"] == [] and config["autoencoder"]["noise_fit"] == "joint"
    res = CliRunner().invoke(main, ["generate", "--model-dir", str(tmp_path / "m"), "--n-cells", "3",
                                    "--condition", "cell_type=type1", "--guidance", "classifier-free",
                                    "--output", str(tmp_path / "g.h5ad"), "--quiet"])
    assert res.exit_code != 0 and "classifier_free=False" in res.output
    assert not (tmp_path / "g.h5ad").exists()


def test_stage_options_reach_training_and_bad_ones_fail_before_it(tmp_path):
    """``--autoencoder / --diffusion / --classifier OPTION=VALUE`` are the Python API's stage dictionaries: typed by
    their declarations, winning over --max-steps for their stage; a wrong name, value or stage fails in one line,
    before training and without a model folder."""
    import json

    a = make_counts(n_cells=60, n_genes=30)
    a.write_h5ad(tmp_path / "in.h5ad")
    base = ["train", str(tmp_path / "in.h5ad"), "--labels-key", "cell_type", "--device", "cpu", "--max-steps", "3",
            "--quiet"]
    res = CliRunner().invoke(main, [*base, "--model-dir", str(tmp_path / "m"), "--autoencoder", "select_by=split",
                                    "--autoencoder", "eval_every=2", "--diffusion", "max_steps=4",
                                    "--classifier", "restore_best=false"])
    assert res.exit_code == 0, res.output
    history = json.loads((tmp_path / "m" / "history.json").read_text())
    assert history["autoencoder"]["config"]["select_by"] == "split"
    assert history["autoencoder"]["config"]["eval_every"] == 2 and history["autoencoder"]["n_steps"] == 3
    assert history["diffusion"]["n_steps"] == 4
    assert history["classifier:cell_type"]["config"]["restore_best"] is False
    for args, code, needle in (
            (["--autoencoder", "select_by=realism"], 1, "not an option of the autoencoder stage"),
            (["--diffusion", "max_steps=many"], 2, "max_steps must be a positive integer"),
            (["--diffusion", "max_steps=0"], 2, "max_steps must be a positive integer"),
            (["--classifier", "restore_best=maybe"], 2, "restore_best must be true or false"),
            (["--diffusion", "lr_schedule=cosine"], 2, "choose one of ['constant', 'linear']"),
            (["--autoencoder", "speed=9"], 2, "Unknown training option(s) ['speed'] of the autoencoder stage"),
            (["--autoencoder", "select_by"], 2, "is not OPTION=VALUE")):
        res = CliRunner().invoke(main, [*base, "--model-dir", str(tmp_path / "bad"), *args])
        assert res.exit_code == code and needle in res.output, (args, res.output)
        assert not (tmp_path / "bad").exists()
