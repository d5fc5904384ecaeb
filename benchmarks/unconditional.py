"""Benchmark 1: unconditional generation of PBMC68k-reduced cells, against baselines and a real-data control.

Data: scanpy's pbmc68k_reduced with exact counts (700 cells x 765 genes), 80 % train / 20 % held out,
stratified by ``bulk_labels``. Rows (all compared with the held-out real cells, same number of cells):

* ``scDiffusion``   unconditional samples of the model trained on the training cells (default MSE decoder);
* ``scDiffusion (NB decoder)`` the same with ``likelihood="nb"`` (``--extra-likelihoods``; not in --quick);
* ``PCA Gaussian``  per-label Gaussian in the 50-PC space of the training log data, sampled with the label
  proportions, mapped back to genes and clipped at 0;
* ``scVI``          scVI (scvi-tools) posterior predictive samples of the training cells (skipped with a
  message if scvi-tools is not installed);
* ``real train (control)`` random training cells: what real data from the same distribution scores.

Metrics: :func:`scdiffusion.metrics.evaluate` (with ``train=`` for the memorisation check).

    OMP_NUM_THREADS=1 python benchmarks/unconditional.py [--quick] [--output-dir DIR]
"""

from __future__ import annotations

import _common as C  # noqa: I001  (pins threads before numpy/torch)

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


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--extra-likelihoods", default="nb",
                   help="comma-separated decoder likelihoods trained as extra scDiffusion rows ('' for none; "
                        "skipped with --quick)")
    args = C.finish_args(p.parse_args(argv), NAME)
    t_start = time.perf_counter()
    from scdiffusion.metrics import evaluate

    train, test = C.pbmc_split(args.seed)
    model, train_info = C.train_model(train, [C.PBMC_LABELS], args, "pbmc_bulk_labels")
    genes = model.genes
    real_test = C.log_norm(model, test)
    real_train = C.log_norm(model, train)
    n_gen = 40 if args.quick else 2 * test.n_obs
    rng = np.random.default_rng(args.seed)

    sets: dict[str, ad.AnnData] = {}
    notes: dict[str, str] = {}
    t0 = time.perf_counter()
    g = model.generate(n_gen, seed=args.seed, progress=False, **C.sampling(args))
    g.obs[C.PBMC_LABELS] = pd.Categorical(model.predict_labels(g, C.PBMC_LABELS, log_normalized=True))
    sets["scDiffusion"] = g
    gen_seconds = round(time.perf_counter() - t0, 1)
    notes["scDiffusion"] = (f"unconditional, {args.sampler} {args.n_steps} sampling steps, {n_gen} cells, "
                            f"generated in {gen_seconds} s")

    extra_info = {}
    for lik in [] if args.quick else [x.strip() for x in args.extra_likelihoods.split(",") if x.strip()]:
        name = f"scDiffusion ({lik.upper()} decoder)"
        try:
            m2, extra_info[name] = C.train_model(train, [C.PBMC_LABELS], args, f"pbmc_bulk_labels_{lik}",
                                                 likelihood=lik)
            g2 = m2.generate(n_gen, seed=args.seed, progress=False, **C.sampling(args))
            sets[name] = C.ad.AnnData(X=np.asarray(g2[:, genes].X, dtype=np.float32), obs=g2.obs.copy(),
                                      var=real_test.var.copy())
        except Exception as err:  # noqa: BLE001
            C.logger.exception("%s failed", name)
            notes[name] = f"skipped: {type(err).__name__}: {err}"
            print(f"Skipping {name}: {err}", flush=True)
            continue
        notes[name] = (f"likelihood={lik!r} (decoder samples integer counts; X = their log-normalisation), "
                       f"otherwise as scDiffusion")

    labels = train.obs[C.PBMC_LABELS].astype(str).to_numpy()
    x_pca, lab_pca = C.pca_gaussian(real_train.X, labels, n_gen, args.seed)
    sets["PCA Gaussian"] = ad.AnnData(X=x_pca, obs=pd.DataFrame({C.PBMC_LABELS: lab_pca},
                                                                index=[f"pca_{i}" for i in range(n_gen)]),
                                      var=real_test.var.copy())
    notes["PCA Gaussian"] = "per-label Gaussian (Ledoit-Wolf covariance) in 50 training PCs, clipped at 0"

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
        var=real_test.var.copy())
    notes["AE reconstruction (reference)"] = ("scDiffusion's autoencoder decoding the held-out cells' own "
                                              "latents: the best the latent diffusion can reach (not a "
                                              "generator; it is compared with the cells it reconstructs; "
                                              f"{test.n_obs} cells, one per held-out cell)")

    pick = rng.choice(real_train.n_obs, size=min(n_gen, real_train.n_obs), replace=False)
    sets["real train (control)"] = real_train[np.sort(pick)].copy()
    notes["real train (control)"] = (f"{len(pick)} random real training cells; memorization is ~0 by "
                                     "construction (they are training cells)")

    results, rows = {}, {}
    for name, gen in sets.items():
        print(f"Evaluating {name} ({gen.n_obs} cells) ...", flush=True)
        res = evaluate(real_test, gen[:, genes].copy(), train=real_train, seed=args.seed, quick=args.quick,
                       use_celltypist=False)
        res["one_nn_accuracy_by_side"] = C.one_nn_sides(real_test.X, gen[:, genes].X, seed=args.seed)
        results[name] = res
        rows[name] = C.values(res)

    figures = {}
    figures["metrics"] = str(C.bar_figure(rows, COLUMNS, args.output_dir / "metrics.png",
                                          "Unconditional PBMC generation vs held-out real cells", IDEALS))
    if not args.quick:
        from scdiffusion.plotting import plot_umap

        figures["umap_scdiffusion"] = str(plot_umap(real_test, sets["scDiffusion"], args.output_dir /
                                                    "umap_scdiffusion.png", labels_key=C.PBMC_LABELS,
                                                    seed=args.seed))
    table = C.print_table(rows, COLUMNS, f"{NAME}: generated vs {test.n_obs} held-out real PBMCs")
    out = {"meta": C.meta(args, t_start, data="scanpy pbmc68k_reduced exact counts, 80/20 split stratified by "
                          "bulk_labels", n_heldout=int(test.n_obs), n_generated=n_gen, training=train_info, training_extra=extra_info,
                          scvi=scvi_info, generate_seconds=gen_seconds,
                          note_generated_labels="scDiffusion cells are labelled by the model's own classifier "
                          "(only used by plots)"),
           "columns": COLUMNS, "ideal": IDEALS, "rows": rows, "notes": notes, "details": results,
           "figures": figures, "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
