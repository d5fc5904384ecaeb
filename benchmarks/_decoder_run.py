"""One seed of a decoder benchmark: train, build the rows of cells, score them against held-out real cells.

Rows (each compared with the same held-out real cells):

* ``real train (control)``: real training cells — what real data of the same distribution scores;
* ``decoder ceiling``: the same training cells reconstructed — each cell's own latent and own library size,
  counts drawn from the decoder: the best any generated cell decoded by this model can look;
* ``recon. held-out``: the held-out cells reconstructed the same way (paired with the real cells);
* ``generated``: unconditional samples (default sampler) decoded to counts;
* ``per-label Gaussian (PCA)``: the simplest baseline -- a Gaussian per label in the 50-PC space of the training
  cells' log values, sampled with the label proportions, mapped back to genes and clipped at 0 (not counts);
* ``scVI`` (optional): scVI posterior predictive samples of training cells.

Besides the gene-space columns every row gets the between-types measures (``mixed_neighbourhoods`` against the
labelled training cells, relative to the held-out cells' own level), and rows with latents (training cells,
generated cells) the latent-space two-sample measures against the held-out cells' encoded latents.
"""

from __future__ import annotations

import _common as C

import argparse
import json
import time
from dataclasses import dataclass

import anndata as ad
import numpy as np

import _decoder_eval as E

CONTROL, CEILING, RECON_TEST, GENERATED, SCVI = ("real train (control)", "decoder ceiling", "recon. held-out",
                                                 "generated", "scVI")
GAUSSIAN = "per-label Gaussian (PCA)"
#: Training cells beyond this many are subsampled (seeded) for the reference rows are scored against -- the
#: annotator, the per-label Gaussian's fit and the between-types reference -- so that scoring 50,000 × 10,000 cells
#: does not hold several dense copies of the whole training set (every benchmark below this size is unchanged).
MAX_REFERENCE_CELLS = 10_000


@dataclass
class Cells:
    """A row of cells: log-normalised values over the model's genes, count totals and labels."""

    x: np.ndarray
    library: np.ndarray
    labels: np.ndarray


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by decoder.py and simulated.py."""
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default 0,1,2; 0 with --quick)")
    p.add_argument("--model-kwargs", default="{}", help="JSON of extra ScDiffusion(...) arguments")
    p.add_argument("--train-kwargs", default="{}", help="JSON of extra model.train(...) arguments")
    p.add_argument("--ae-only", action="store_true",
                   help="train only the autoencoder (diffusion/classifier 1 step): control and reconstruction rows")
    p.add_argument("--scvi", action="store_true", help="add the scVI posterior-predictive row")
    p.add_argument("--drawn-cfg-scale", default=None,
                   help="classifier-free weight of the unconditional cells (default: the package's drawn_cfg_scale); "
                        "a comma-separated list adds a row per further weight, same model: 'generated (weight W)'")
    p.add_argument("--save-models", action="store_true",
                   help="save each seed's trained model under OUTPUT_DIR/model_s<seed> (to re-score it later)")
    p.set_defaults(sampler="dpmpp-sde", n_steps=25)


def finish(args: argparse.Namespace, name: str) -> argparse.Namespace:
    """``C.finish_args`` plus the decoder options (no wall-time cap unless --max-time is given)."""
    given = args.max_time is not None
    args = C.finish_args(args, name)
    if args.scvi:
        C.require_bench(args, "scvi")
    if not given and not args.quick:
        args.max_time = None
    args.seeds = [int(s) for s in (args.seeds or ("0" if args.quick else "0,1,2")).split(",")]
    args.model_kwargs = json.loads(args.model_kwargs)
    args.train_kwargs = json.loads(args.train_kwargs)
    args.drawn_cfg_scale = (None if args.drawn_cfg_scale is None
                            else [float(w) for w in str(args.drawn_cfg_scale).split(",")])
    return args


def generated_row(weight: float | None, first: bool) -> str:
    """Name of the generated row made with drawn-label weight ``weight`` (the first weight is ``generated``)."""
    return GENERATED if first or weight is None else f"{GENERATED} (weight {weight:g})"


def train_model(train: ad.AnnData, labels_key: str, args, seed: int):
    """``ScDiffusion(train, labels_keys=[labels_key], seed=seed, **model_kwargs).train(**train_kwargs)``."""
    from scdiffusion import ScDiffusion

    kw = dict(args.train_kwargs)
    if args.quick:
        kw = {"autoencoder": {"max_steps": 150}, "diffusion": {"max_steps": 150},
              "classifier": {"max_steps": 20}, **kw}
    if args.ae_only:
        kw.update(diffusion={"max_steps": 1}, classifier={"max_steps": 1})
    t0 = time.perf_counter()
    model = ScDiffusion(train, labels_keys=[labels_key], seed=seed, device="cpu", **args.model_kwargs)
    model.train(progress=False, max_time=args.max_time, **kw)
    info = {"train_seconds": round(time.perf_counter() - t0, 1), "model_kwargs": args.model_kwargs,
            "train_kwargs": kw, "n_genes": len(model.genes),
            "stages": {k: {"steps": v.get("n_steps"), "stopped": v.get("stopped"), "best_step": v.get("best_step"),
                           "best_val_loss": v.get("best_loss")} for k, v in model.history.items()},
            "drawn_weight": model.history.get("diffusion", {}).get("drawn_weight")}
    C.logger.info("seed %d: trained in %.0f s: %s", seed, info["train_seconds"], info["stages"])
    if args.save_models:
        info["saved_to"] = str(model.save(args.output_dir / f"model_s{seed}", overwrite=True))
    return model, info


def _cells(adata: ad.AnnData, genes: list[str], labels: np.ndarray, counts: np.ndarray | None = None) -> Cells:
    x = E.as_log(adata, genes)
    if counts is None:
        c = adata[:, genes].X
        counts = np.asarray(c.toarray() if hasattr(c, "toarray") else c)
    return Cells(x, np.asarray(counts.sum(1), dtype=np.float64).ravel(), np.asarray(labels).astype(str))


def build_rows(model, train: ad.AnnData, test: ad.AnnData, labels_key: str, args, seed: int,
               n_rows: int | None = None) -> tuple[Cells, dict[str, Cells], dict]:
    """Held-out real cells and every row of cells (``n_rows`` cells each, default twice the held-out cells);
    ``extra`` holds the reconstruction of the training cells (``pick``: their rows in ``train``)."""
    genes = model.genes
    rng = np.random.default_rng(seed)
    n = min(n_rows or 2 * test.n_obs, train.n_obs)
    pick = np.sort(rng.choice(train.n_obs, size=n, replace=False))
    sub = train[pick].copy()
    real = _cells(test, genes, test.obs[labels_key])
    rows = {CONTROL: _cells(sub, genes, sub.obs[labels_key])}
    recon, mean_train, theta_train = E.reconstruct(model, sub, seed)
    rows[CEILING] = _cells(recon, genes, sub.obs[labels_key])
    recon_test, _, _ = E.reconstruct(model, test, seed + 1)
    rows[RECON_TEST] = _cells(recon_test, genes, test.obs[labels_key])
    extra = {"pick": pick, "train_recon": recon, "train_recon_mean": mean_train, "train_recon_theta": theta_train,
             "seconds": {}, "latents": {"held-out": model.get_latent_representation(test),
                                        CONTROL: model.get_latent_representation(sub)}}
    ref = train
    if train.n_obs > MAX_REFERENCE_CELLS:  # the annotator, the Gaussian and the between-types reference
        ref = train[np.sort(np.random.default_rng(seed + 11).choice(train.n_obs, MAX_REFERENCE_CELLS, replace=False))]
    x_train = E.as_log(ref, genes)
    train_labels = ref.obs[labels_key].astype(str).to_numpy()
    extra["reference"] = (x_train, train_labels)
    from scdiffusion.metrics import fit_annotator

    annotate = fit_annotator(x_train, train_labels, "logistic_regression", seed=seed)
    extra["annotate"] = annotate
    x_gauss, lab_gauss = C.pca_gaussian(x_train, train_labels, n, seed)
    rows[GAUSSIAN] = Cells(x_gauss.astype(np.float32), np.expm1(x_gauss).sum(1), np.asarray(lab_gauss).astype(str))
    if not args.ae_only:
        for i, weight in enumerate(args.drawn_cfg_scale or [None]):
            t0 = time.perf_counter()
            drawn = {} if weight is None else {"drawn_cfg_scale": weight}
            g = model.generate(n, seed=seed, progress=False, **drawn, **C.sampling(args))
            name = generated_row(weight, i == 0)
            extra["seconds"]["generate" if i == 0 else f"generate (weight {weight:g})"] = round(
                time.perf_counter() - t0, 2)
            rows[name] = _cells(g, genes, annotate(E.as_log(g, genes)), counts=np.asarray(g.layers["counts"]))
            extra["latents"][name] = np.asarray(g.obsm["X_scdiffusion"])
    if args.scvi:
        s, info = C.scvi_samples(train, genes, labels_key, n, seed, max_epochs=20 if args.quick else 400,
                                 max_time=8 if args.quick else 600)
        extra["scvi"] = info
        if s is not None:
            rows[SCVI] = _cells(s, genes, annotate(E.as_log(s, genes)), counts=np.asarray(s.X))
    return real, rows, extra


def score(real: Cells, rows: dict[str, Cells], genes: list[str], args, seed: int,
          latents: dict[str, np.ndarray] | None = None,
          reference: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Two-sample rows, per-label rows and diagnostics of one seed.

    With ``latents`` (``"held-out"`` and rows): RF AUC and MMD² of every row's unit-norm latents against the
    held-out cells' (the diffusion stage's own share of the gap). With ``reference`` (labelled real training
    cells, log values and labels): every row's share of cells between types and median distance to the nearest
    real cell, relative to the held-out cells'.
    """
    from scdiffusion.metrics import mixed_neighbourhoods, mmd_rbf, rf_auc

    out = {"rows": {}, "per_label": {}}
    lat: dict[str, dict[str, float]] = {}
    if latents:
        ref = latents["held-out"]
        trees = 100 if args.quick else 1000
        lat = {k: {"latent_mmd": mmd_rbf(ref, v, seed=seed),
                   "latent_rf_auc": rf_auc(ref, v, space="genes", n_estimators=trees, seed=seed)}
               for k, v in latents.items() if k != "held-out"}
        out["latent_mmd"] = {k: v["latent_mmd"] for k, v in lat.items()}
    mixed = {}
    if reference is not None:
        x_ref, lab_ref = reference
        level = mixed_neighbourhoods(x_ref, lab_ref, real.x, seed=seed)
        out["mixed_held_out"] = {"fraction_mixed": level.fraction_mixed,
                                 "median_nearest_distance": level.median_nearest_distance}
        for name, cells in rows.items():
            if name == CONTROL:  # training cells are the reference itself (each at distance 0 from itself)
                continue
            m = mixed_neighbourhoods(x_ref, lab_ref, cells.x, seed=seed)
            mixed[name] = {"mixed_share_gap": m.fraction_mixed - level.fraction_mixed,
                           "nearest_distance_ratio": m.median_nearest_distance / level.median_nearest_distance,
                           "fraction_mixed": m.fraction_mixed}
        out["mixed"] = mixed
    out["one_nn_by_side"] = {k: C.one_nn_sides(real.x, v.x, seed=seed) for k, v in rows.items()}
    for name, cells in rows.items():
        t0 = time.perf_counter()
        sides = out["one_nn_by_side"][name]
        out["rows"][name] = {**E.two_sample(real.x, cells.x, seed, quick=args.quick),
                             "one_nn_side_gap": sides["generated_side"] - sides["real_side"],
                             **dict.fromkeys(("latent_rf_auc", "latent_mmd", "mixed_share_gap",
                                              "nearest_distance_ratio")),
                             **lat.get(name, {}),
                             **{k: v for k, v in mixed.get(name, {}).items() if k != "fraction_mixed"}}
        out["per_label"][name] = E.per_label(real.x, real.labels, cells.x, cells.labels, seed)
        C.logger.info("seed %d %-22s %s (%.0f s)", seed, name,
                      {k: round(v, 3) for k, v in out["rows"][name].items() if v is not None}, time.perf_counter() - t0)
    out["diagnostics"] = E.diagnostics(real.x, real.library, {k: (v.x, v.library) for k, v in rows.items()},
                                       genes, seed, trees=50 if args.quick else 300)
    return out


def markdown_rows(summary: dict[str, dict[str, dict]], label: str = "") -> str:
    """Mean ± sd rows (markdown, with a header) of :func:`_decoder_eval.summarize`."""
    lines = ["| data | row | " + " | ".join(E.COLUMNS) + " |", "|---|---|" + "---|" * len(E.COLUMNS)]
    for row, cols in summary.items():
        cells = []
        for c in E.COLUMNS:
            v = cols.get(c, {})
            m, s = v.get("mean"), v.get("sd")
            cells.append("–" if m is None else (f"{m:.3f}" if s is None else f"{m:.3f} ± {s:.3f}"))
        lines.append(f"| {label} | {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
