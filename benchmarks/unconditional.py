"""Benchmark 1: unconditional generation of PBMC68k-reduced cells, against baselines and a real-data control.

Data: scanpy's pbmc68k_reduced with exact counts (700 cells x 765 genes), 80 % train / 20 % held out,
stratified by ``bulk_labels``. Rows (all compared with the held-out real cells' counts):

* ``scDiffusion (NB decoder, <sampler>)``: the package defaults (negative-binomial decoder, stochastic
  DPM-Solver++ with its default 25 steps), unconditional; cells labelled by the model's own classifier;
* ``scDiffusion (MSE decoder, <sampler>)``: the paper's decoder (``--extra-likelihoods``; not in --quick);
  continuous output, so its count-level properties are skipped;
* ``PCA Gaussian``: per-label Gaussian in the 50-PC space of the training log data, sampled with the label
  proportions, mapped back to genes, clipped at 0 and turned into counts with real library sizes;
* ``scVI``: scVI (scvi-tools) posterior predictive samples of the training cells (skipped with a message if
  scvi-tools is not installed);
* ``AE reconstruction (reference)``: the autoencoder decoding the held-out cells' own latents;
* ``real train (control)``: random training cells: what real data from the same distribution scores.

Metrics: :func:`scdiffusion.evaluation.evaluate` with labels (``bulk_labels``) and ``train=`` (memorisation);
every metric is also judged against the suite's real-vs-real control (pass/fail).

    OMP_NUM_THREADS=1 python benchmarks/unconditional.py [--quick] [--output-dir DIR]
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import time

import anndata as ad
import numpy as np
import pandas as pd

NAME = "unconditional"
COLUMNS = ["scc_gene_means", "mmd_rbf", "ilisi", "rf_auc_pca", "rf_auc_genes", "one_nn_accuracy",
           "zero_fraction_gap", "mean_variance_agreement", "gene_correlation_error", "memorization"]
IDEALS = {"scc_gene_means": 1, "mmd_rbf": 0, "ilisi": 1, "rf_auc_pca": 0.5, "rf_auc_genes": 0.5,
          "one_nn_accuracy": 0.5, "zero_fraction_gap": 0, "mean_variance_agreement": 1,
          "gene_correlation_error": 0, "memorization": 1}
#: Entries of the second table (count properties, DE fidelity, distances on the real PCs), with verdicts.
PROPERTY_GROUPS = ("count_properties", "differential_expression", "pca_distances")


def _labelled(model, g: ad.AnnData) -> ad.AnnData:
    g.obs[C.PBMC_LABELS] = pd.Categorical(model.predict_labels(g, C.PBMC_LABELS, log_normalized=True))
    return g


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--extra-likelihoods", default="mse",
                   help="comma-separated decoder likelihoods trained as extra scDiffusion rows ('' for none; "
                        "skipped with --quick)")
    args = C.finish_args(p.parse_args(argv), NAME)
    C.require_bench(args, "scvi")
    t_start = time.perf_counter()
    from scdiffusion.evaluation import comparison_data, evaluate
    from scdiffusion.metrics.inputs import cell_set

    train, test = C.pbmc_split(args.seed)
    model, train_info = C.train_model(train, [C.PBMC_LABELS], args, "pbmc_bulk_labels")
    genes = model.genes
    real_test = test[:, genes].copy()  # exact counts in X
    train_counts = train[:, genes].copy()
    real_train = C.log_norm(model, train)
    n_gen = 40 if args.quick else 2 * test.n_obs
    rng = np.random.default_rng(args.seed)

    sets: dict[str, ad.AnnData] = {}
    notes: dict[str, str] = {}
    t0 = time.perf_counter()
    g = _labelled(model, model.generate(n_gen, seed=args.seed, progress=False, **C.sampling(args)))
    gen_seconds = round(time.perf_counter() - t0, 1)
    sampler = C.sampler_name(args, g)
    default_row = f"scDiffusion (NB decoder, {sampler})"
    sets[default_row] = g
    notes[default_row] = (f"package defaults, unconditional, {n_gen} cells generated in {gen_seconds} s; the decoder "
                          "samples integer counts (layers['counts']), X = their log-normalisation")

    extra_info = {}
    for lik in [] if args.quick else [x.strip() for x in args.extra_likelihoods.split(",") if x.strip()]:
        name = f"scDiffusion ({lik.upper()} decoder, {sampler})"
        try:
            m2, extra_info[name] = C.train_model(train, [C.PBMC_LABELS], args, "pbmc_bulk_labels", likelihood=lik)
            sets[name] = _labelled(m2, m2.generate(n_gen, seed=args.seed, progress=False, **C.sampling(args)))
        except Exception as err:  # noqa: BLE001
            C.logger.exception("%s failed", name)
            notes[name] = f"skipped: {type(err).__name__}: {err}"
            print(f"Skipping {name}: {err}", flush=True)
            continue
        notes[name] = (f"likelihood={lik!r}" + (" (the paper's decoder: continuous log-normalised output, no counts)"
                                                if lik == "mse" else "") + ", otherwise as the default row")

    labels = train.obs[C.PBMC_LABELS].astype(str).to_numpy()
    x_pca, lab_pca = C.pca_gaussian(real_train.X, labels, n_gen, args.seed)
    sets["PCA Gaussian"] = ad.AnnData(
        X=C.log_to_counts(x_pca, lab_pca, train_counts, C.PBMC_LABELS, args.seed),
        obs=pd.DataFrame({C.PBMC_LABELS: lab_pca}, index=[f"pca_{i}" for i in range(n_gen)]),
        var=pd.DataFrame(index=pd.Index(genes)))
    notes["PCA Gaussian"] = ("per-label Gaussian (Ledoit-Wolf covariance) in 50 training PCs, clipped at 0, turned "
                             "into counts as round(expm1(x) x L / 1e4) with L the library size of a training cell of "
                             "the same label")

    scvi_ad, scvi_info = C.scvi_samples(train, genes, C.PBMC_LABELS, n_gen, args.seed,
                                        max_epochs=20 if args.quick else 400,
                                        max_time=8 if args.quick else args.max_time)
    if scvi_ad is None:
        print(f"Skipping the scVI row: {scvi_info['skipped']}", flush=True)
        notes["scVI"] = "skipped: " + scvi_info["skipped"]
    else:
        sets["scVI"] = scvi_ad
        notes["scVI"] = (f"posterior predictive samples (counts) of training cells; scvi-tools "
                         f"{scvi_info['scvi_tools_version']}, {scvi_info['epochs']} epochs")

    # ceiling of the latent-diffusion design: the autoencoder's reconstruction of the held-out cells
    import torch

    z = torch.from_numpy(model.get_latent_representation(test, scaled=True))
    sets["AE reconstruction (reference)"] = ad.AnnData(
        X=model.module.decode_mean(z).numpy().astype(np.float32), obs=test.obs[[C.PBMC_LABELS]].copy(),
        var=pd.DataFrame(index=pd.Index(genes)))
    notes["AE reconstruction (reference)"] = ("the autoencoder's decoded mean expression (no count sampling) for the "
                                              "held-out cells' own latents: the best the latent diffusion can reach "
                                              f"(not a generator; {test.n_obs} cells, one per held-out cell)")

    pick = rng.choice(train_counts.n_obs, size=min(n_gen, train_counts.n_obs), replace=False)
    sets["real train (control)"] = train_counts[np.sort(pick)].copy()
    notes["real train (control)"] = (f"{len(pick)} random real training cells (counts); memorization is ~0 by "
                                     "construction (they are training cells)")

    real_log = cell_set(real_test)[0].log
    results, rows, properties = {}, {}, {}
    for name, gen in sets.items():
        print(f"Evaluating {name} ({gen.n_obs} cells) ...", flush=True)
        gen = gen[:, genes].copy()
        res = evaluate(real_test, gen, labels_key=C.PBMC_LABELS, train=real_train, seed=args.seed, quick=args.quick,
                       use_celltypist=False)
        res["one_nn_accuracy_by_side"] = C.one_nn_sides(real_log, cell_set(gen)[0].log, seed=args.seed)
        results[name] = res
        rows[name] = C.values(res)
        properties[name] = {k: {f: v.get(f) for f in ("value", "matched", "control", "pass", "skipped", "error")}
                            for k, v in res.items() if isinstance(v, dict) and v.get("group") in PROPERTY_GROUPS}
    property_columns = list(next(iter(properties.values())))

    figures = {}
    figures["metrics"] = str(C.bar_figure(rows, COLUMNS, args.output_dir / "metrics.png",
                                          "Unconditional PBMC generation vs held-out real cells", IDEALS))
    if not args.quick:
        from scdiffusion.plotting import plot_count_comparison, plot_fold_changes, plot_umap

        figures["umap_scdiffusion"] = str(plot_umap(C.log_norm(model, test), sets[default_row], args.output_dir /
                                                    "umap_scdiffusion.png", labels_key=C.PBMC_LABELS,
                                                    seed=args.seed))
        panels = comparison_data(real_test, sets[default_row][:, genes].copy(), C.PBMC_LABELS, seed=args.seed)
        figures["counts_scdiffusion"] = str(plot_count_comparison(
            panels["cells"], panels["genes"], args.output_dir / "counts_scdiffusion.png", seed=args.seed))
        figures["fold_changes_scdiffusion"] = str(plot_fold_changes(
            panels["lfc"], args.output_dir / "fold_changes_scdiffusion.png"))
    table = C.print_table(rows, COLUMNS, f"{NAME}: generated vs {test.n_obs} held-out real PBMCs")
    control = results[default_row]["meta"]["control"]
    out = {"meta": C.meta(args, t_start, data="scanpy pbmc68k_reduced exact counts, 80/20 split stratified by "
                          "bulk_labels", n_heldout=int(test.n_obs), n_generated=n_gen, training=train_info,
                          training_extra=extra_info, scvi=scvi_info, generate_seconds=gen_seconds,
                          generation={"sampler": args.sampler, "n_steps": int(g.uns["scdiffusion"]["n_steps"])},
                          control=control, default_row=default_row,
                          note_generated_labels="scDiffusion cells are labelled by the model's own classifier"),
           "columns": COLUMNS, "ideal": IDEALS, "rows": rows, "property_columns": property_columns,
           "properties": properties, "notes": notes, "details": results, "figures": figures, "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
