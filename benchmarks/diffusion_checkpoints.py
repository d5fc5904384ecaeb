"""Experiment E11: which diffusion checkpoint? Realism on validation cells against the denoising loss.

The diffusion stage stops early on its denoising loss on ~56 validation cells (PBMC) and restores the weights of
the best loss; E9/E10 (``results/decoder/experiments.md``) showed that this loss is a poor proxy for how real the
generated cells look. Here the diffusion stage of a default PBMC model is trained for its whole step budget (no
early stopping) and the EMA weights are kept at every evaluation (every ``eval_every`` steps). For every snapshot:

* the **criteria** a training run could compute without held-out cells: the denoising loss (the default's), and the
  MMD² of unconditional generated cells to the model's own validation cells (decoded, log-normalised genes; and
  in the latent space);
* the **truth**, against the held-out test cells (never seen by training or by any criterion): MMD², RF AUC on
  PCs and on genes, 1-NN accuracy.

Rows: the default's choice (early stopping with patience 5 replayed on the recorded losses, best loss restored),
E10's (the weights at that stop), each criterion's choice (its minimum over the snapshots up to the whole budget),
the last snapshot, and the oracle (best held-out MMD²). Mean ± sd over seeds; per seed the Spearman correlation of
each criterion with the held-out MMD² over the snapshots.

    OMP_NUM_THREADS=1 python benchmarks/diffusion_checkpoints.py [--quick] [--seeds 0 1 2]
"""

from __future__ import annotations

import _common as C  # noqa: I001  (pins threads before numpy/torch)

import copy
import time

import numpy as np

import _decoder_eval as E

NAME = "diffusion_checkpoints"
CRITERIA = ("val_loss", "val_mmd_genes", "val_mmd_latent")
TRUTH = ("test_mmd", "test_rf_auc_pca", "test_rf_auc_genes", "test_one_nn")


def replay_early_stopping(losses: list[float], patience: int) -> tuple[int, int]:
    """``(index of the best loss, index where training stops)`` of the default rule (improvement > 1e-6)."""
    best, best_i, bad = np.inf, 0, 0
    for i, v in enumerate(losses):
        if v < best - 1e-6:
            best, best_i, bad = v, i, 0
        else:
            bad += 1
            if bad >= patience:
                return best_i, i
    return best_i, len(losses) - 1


def run_seed(seed: int, args) -> dict:
    import torch

    import scdiffusion.train.diffusion as D
    from scdiffusion import ScDiffusion
    from scdiffusion.data.training_data import validation_split
    from scdiffusion.metrics import mmd_rbf, one_nn_accuracy, rf_auc
    from scdiffusion.train.presets import DEFAULT_DIFFUSION

    train, test = C.pbmc_split(seed)
    snaps: list[dict] = []
    fit = D.fit

    def recording_fit(module, loss_fn, tensors, config, *, val_fn=None, **kw):
        def val(model):  # the EMA model in eval mode, at every evaluation
            snaps.append(copy.deepcopy(model.state_dict()))
            return val_fn(model)
        return fit(module, loss_fn, tensors, config, val_fn=val, **kw)

    D.fit = recording_fit
    try:
        model = ScDiffusion(train, labels_keys=[C.PBMC_LABELS], seed=seed, device="cpu")
        steps = 600 if args.quick else DEFAULT_DIFFUSION.max_steps
        t0 = time.perf_counter()
        model.train(progress=False, diffusion={"patience": 10_000, "max_steps": steps},
                    **({"max_steps": {"autoencoder": 150, "classifier": 20}} if args.quick else {}))
        train_seconds = time.perf_counter() - t0
    finally:
        D.fit = fit
    hist = model.history["diffusion"]
    losses = [float(v) for v in hist["val_loss"]]
    assert len(losses) == len(snaps), (len(losses), len(snaps))
    genes = model.genes
    _, val_idx = validation_split(train.n_obs, 0.1, seed)
    val = train[val_idx]
    x_val, x_test = E.as_log(val, genes), E.as_log(test, genes)
    z_val = model.get_latent_representation(val)
    n = 2 * test.n_obs
    trees = 100 if args.quick else 300
    per_snap = []
    for i, state in enumerate(snaps):
        model.module.denoiser.load_state_dict(state)
        model.module.denoiser.eval()
        with torch.no_grad():
            g = model.generate(n, seed=seed, progress=False)
        xg, zg = E.as_log(g, genes), np.asarray(g.obsm["X_scdiffusion"])
        row = {"step": int(hist["step"][i]), "val_loss": losses[i],
               "val_mmd_genes": mmd_rbf(x_val, xg, seed=seed), "val_mmd_latent": mmd_rbf(z_val, zg, seed=seed),
               "test_mmd": mmd_rbf(x_test, xg, seed=seed),
               "test_rf_auc_pca": rf_auc(x_test, xg, space="pca", n_estimators=trees, seed=seed),
               "test_rf_auc_genes": rf_auc(x_test, xg, space="genes", n_estimators=trees, seed=seed),
               "test_one_nn": one_nn_accuracy(x_test, xg, seed=seed)}
        per_snap.append(row)
        C.logger.info("seed %d step %d: %s", seed, row["step"],
                      {k: round(v, 4) for k, v in row.items() if k != "step"})
    best_i, stop_i = replay_early_stopping(losses, DEFAULT_DIFFUSION.patience)
    chosen = {"default (best val. loss up to the early stop)": best_i, "E10 (weights at the early stop)": stop_i,
              "min val. MMD² genes (whole budget)": int(np.argmin([r["val_mmd_genes"] for r in per_snap])),
              "min val. MMD² latent (whole budget)": int(np.argmin([r["val_mmd_latent"] for r in per_snap])),
              "min val. MMD² genes (up to the early stop)":
                  int(np.argmin([r["val_mmd_genes"] for r in per_snap[:stop_i + 1]])),
              "last snapshot": len(per_snap) - 1,
              "oracle (min held-out MMD²)": int(np.argmin([r["test_mmd"] for r in per_snap]))}
    from scipy.stats import spearmanr

    corr = {c: float(spearmanr([r[c] for r in per_snap], [r["test_mmd"] for r in per_snap])[0]) for c in CRITERIA}
    return {"snapshots": per_snap, "chosen": chosen, "rows": {k: {**per_snap[i], "index": i} for k, i in
                                                               chosen.items()},
            "spearman_with_test_mmd": corr, "n_val_cells": len(val_idx), "n_test_cells": int(test.n_obs),
            "n_generated": n, "train_seconds": round(train_seconds, 1),
            "stages": {k: {"steps": v.get("n_steps"), "stopped": v.get("stopped")} for k, v in model.history.items()}}


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (0 with --quick)")
    args = C.finish_args(p.parse_args(argv), NAME)
    args.seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    t_start = time.perf_counter()
    per_seed = {str(s): run_seed(s, args) for s in args.seeds}
    names = list(next(iter(per_seed.values()))["rows"])
    cols = ["step", *CRITERIA, *TRUTH]
    summary = {r: {c: C.seed_stats([s["rows"][r][c] for s in per_seed.values()]) for c in cols} for r in names}
    table = C.print_table({r: {c: v[c]["mean"] for c in cols} for r, v in summary.items()}, cols,
                          f"{NAME}: diffusion snapshots of PBMC models, mean over seeds {args.seeds}")
    corr = {c: [s["spearman_with_test_mmd"][c] for s in per_seed.values()] for c in CRITERIA}
    C.logger.info("Spearman correlation of each criterion with the held-out MMD² over snapshots: %s", corr)
    out = {"meta": C.meta(args, t_start, data="PBMC68k-reduced exact counts, 80/20 split by bulk_labels",
                          seeds=args.seeds, rows_note=__doc__),
           "summary": summary, "spearman_with_test_mmd": corr, "seeds": per_seed, "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
