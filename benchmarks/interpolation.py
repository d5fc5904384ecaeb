"""Benchmark 4: Gradient Interpolation on the HSMM myoblast time course (0/24/48/72 h), 48 h held out.

Data: Bioconductor's HSMMSingleCell (Debian package r-bioc-hsmmsinglecell): ``HSMM_expr_matrix`` (genes x
cells FPKM, 271 cells) and ``HSMM_sample_sheet`` (``Hours``). The .rda files are read with pyreadr; if
pyreadr is missing or fails, ``Rscript`` exports them as CSV into a temporary folder.

Preparation (documented in the JSON): FPKM → integer pseudo-counts (each cell scaled to 1e4 and rounded,
:func:`scdiffusion.data.pseudo_counts`); the 2000 most variable genes (scanpy ``seurat`` flavour on the
log-normalised pseudo-counts) are chosen **without the 48 h cells**. The model is trained on 0/24/72 h with
``labels_keys=["Hours"]`` (strings) and interpolates 24 h → 72 h in 5 states (t_start 600), starting from
real 24 h training cells, once per kind of guidance: Gradient Interpolation with the classifier (weights
γ(1−w), γw), its classifier-free analogue (the denoiser's conditional predictions mixed with weights
w_cfg(1−w), w_cfg w) and both.

Each state is compared with the held-out real 48 h cells: MMD (50 pooled PCs), iLISI, Pearson correlation
of gene means, and diffusion pseudotime placed on the real trajectory (DPT on all real cells rooted at 0 h;
each generated cell gets the mean pseudotime of its 10 nearest real cells in the real PCA space). Baseline:
direct linear interpolation ``(1 - w) x_24h + w x_72h`` of randomly paired real 24 h and 72 h training
cells' log expression with the same weights w. References: real 24 h and real 72 h cells against 48 h (the
48 h row compares the 48 h cells with themselves: only its pseudotime and 72 h fraction are meaningful).
A logistic regression trained on real 24 h vs 72 h cells gives each state's fraction called 72 h (training
cells of the end points are scored in-sample, so their rows are optimistic).

    OMP_NUM_THREADS=1 python benchmarks/interpolation.py [--quick] [--output-dir DIR]
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import subprocess
import tempfile
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

NAME = "interpolation"
HSMM_DIR = Path("/usr/lib/R/site-library/HSMMSingleCell/data")
KEY = "Hours"


def read_hsmm(data_dir: Path = HSMM_DIR) -> tuple[ad.AnnData, str]:
    """HSMM FPKM as cells x genes AnnData with ``obs['Hours']`` (str); and how it was read."""
    expr_f, sheet_f = data_dir / "HSMM_expr_matrix.rda", data_dir / "HSMM_sample_sheet.rda"
    if not expr_f.exists():
        raise SystemExit(f"{expr_f} not found: install the Debian package r-bioc-hsmmsinglecell "
                         "(or Bioconductor's HSMMSingleCell) to run this benchmark.")
    try:
        import pyreadr

        expr = pyreadr.read_r(str(expr_f))["HSMM_expr_matrix"]
        sheet = pyreadr.read_r(str(sheet_f))["HSMM_sample_sheet"]
        how = f"pyreadr {pyreadr.__version__} read the .rda files of {data_dir}"
    except Exception as err:  # noqa: BLE001
        C.logger.warning("pyreadr failed (%s); exporting with Rscript", err)
        with tempfile.TemporaryDirectory() as tmp:
            script = (f"load('{expr_f}'); load('{sheet_f}'); "
                      f"write.csv(as.matrix(HSMM_expr_matrix), gzfile('{tmp}/expr.csv.gz')); "
                      f"write.csv(HSMM_sample_sheet, '{tmp}/sheet.csv')")
            subprocess.run(["Rscript", "-e", script], check=True)
            expr = pd.read_csv(f"{tmp}/expr.csv.gz", index_col=0)
            sheet = pd.read_csv(f"{tmp}/sheet.csv", index_col=0)
        how = f"Rscript exported the .rda files of {data_dir} to CSV (pyreadr failed: {err})"
    expr = expr.loc[:, sheet.index]
    obs = pd.DataFrame({KEY: sheet[KEY].astype(int).astype(str).to_numpy()}, index=sheet.index.astype(str))
    a = ad.AnnData(X=expr.to_numpy(dtype=np.float64).T, obs=obs, var=pd.DataFrame(index=expr.index.astype(str)))
    return a, how


def prepare(fpkm: ad.AnnData, n_genes: int, held_out: str = "48") -> ad.AnnData:
    """Pseudo-counts over the most variable genes computed without the held-out time point's cells."""
    import scanpy as sc

    from scdiffusion.data import pseudo_counts

    counts = ad.AnnData(X=pseudo_counts(fpkm.X), obs=fpkm.obs.copy(), var=fpkm.var.copy())
    ref = counts[counts.obs[KEY] != held_out].copy()
    ref = ref[:, np.asarray((ref.X > 0).sum(0)).ravel() >= 3].copy()
    sc.pp.normalize_total(ref, target_sum=1e4)
    sc.pp.log1p(ref)
    sc.pp.highly_variable_genes(ref, n_top_genes=n_genes, flavor="seurat")
    genes = ref.var_names[ref.var["highly_variable"].to_numpy()]
    return counts[:, genes].copy()


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0], full_time=360.0)
    p.add_argument("--n-states", type=int, default=5)
    p.add_argument("--n-cells", type=int, default=100, help="cells per interpolation state")
    p.add_argument("--n-genes", type=int, default=2000)
    p.add_argument("--t-start", type=int, default=600)
    from scdiffusion.options import INTERPOLATE

    p.add_argument("--guidance-scale", type=float, default=INTERPOLATE.defaults.guidance_scale)
    p.add_argument("--cfg-scale", type=float, default=INTERPOLATE.defaults.cfg_scale)
    args = C.finish_args(p.parse_args(argv), NAME)
    t_start = time.perf_counter()
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    from scdiffusion.metrics import diffusion_pseudotime, fit_annotator, ilisi, mmd_rbf
    from scdiffusion.plotting import plot_interpolation_pseudotime

    fpkm, how = read_hsmm()
    counts = prepare(fpkm, 300 if args.quick else args.n_genes)
    hours = counts.obs[KEY].to_numpy()
    train = counts[hours != "48"].copy()
    model, train_info = C.train_model(train, [KEY], args, f"hsmm_{counts.n_vars}genes")
    real = C.log_norm(model, counts)
    x48 = real.X[hours == "48"]
    n_cells = 20 if args.quick else args.n_cells
    kinds_of_guidance = {"classifier": {"guidance": "classifier"}}
    if model.module.classifier_free:
        kinds_of_guidance.update({"classifier-free": {"guidance": "classifier-free"}, "both": {"guidance": "both"}})
    states, t_interp = {}, {}
    for kind, kw in kinds_of_guidance.items():
        t0 = time.perf_counter()
        interp = model.interpolate(train, KEY, "24", "72", n_states=args.n_states, n_cells=n_cells,
                                   t_start=args.t_start, guidance_scale=args.guidance_scale,
                                   cfg_scale=args.cfg_scale, seed=args.seed, progress=False, **kw, **C.sampling(args))
        t_interp[kind] = round(time.perf_counter() - t0, 1)
        states[f"scDiffusion ({kind})"] = [np.asarray(interp.X[interp.obs["interpolation_state"].to_numpy() == i])
                                           for i in range(args.n_states)]
    w = np.linspace(0, 1, args.n_states)

    rng = np.random.default_rng(args.seed)
    x24, x72 = real.X[hours == "24"], real.X[hours == "72"]
    states["linear"] = []
    for wi in w:
        a, b = x24[rng.integers(0, len(x24), n_cells)], x72[rng.integers(0, len(x72), n_cells)]
        states["linear"].append(((1 - wi) * a + wi * b).astype(np.float32))

    # real trajectory: DPT on all real cells (48 h included: it is the reference, not a training input)
    pt_real = diffusion_pseudotime(real.X, hours == "0", seed=args.seed)
    pca = PCA(n_components=min(50, real.n_obs - 1), random_state=args.seed).fit(real.X)
    nn = NearestNeighbors(n_neighbors=10).fit(pca.transform(real.X))
    finite = np.isfinite(pt_real)

    def place(x: np.ndarray) -> np.ndarray:
        idx = nn.kneighbors(pca.transform(x), return_distance=False)
        return np.array([np.mean(pt_real[i][finite[i]]) if finite[i].any() else np.nan for i in idx])

    real_pt = {h: float(np.median(pt_real[(hours == h) & finite])) for h in ["0", "24", "48", "72"]}
    mean48 = x48.mean(0)
    # does a state look more like 24 h or 72 h? logistic regression trained on the real 24 h vs 72 h cells
    is_end = (hours == "24") | (hours == "72")
    predict = fit_annotator(real.X[is_end], hours[is_end], "logistic_regression", seed=args.seed,
                            max_iter=500)

    def score(x: np.ndarray) -> dict:
        return {"mmd_to_48h": mmd_rbf(x48, x, seed=args.seed),
                "frac_called_72h": float(np.mean(predict(x) == "72")),
                "ilisi_vs_48h": ilisi(x48, x, n_neighbors=10, seed=args.seed),
                "mean_corr_48h": float(np.corrcoef(mean48, x.mean(0))[0, 1]),
                "median_pseudotime": float(np.nanmedian(place(x)))}

    per_state = {m: [{"state": i, "weight_72h": float(w[i]), **score(x)} for i, x in enumerate(xs)]
                 for m, xs in states.items()}
    reference = {"real 24 h": score(x24), "real 72 h": score(x72), "real 48 h (held out)": score(x48)}
    half = rng.permutation(len(x48))
    reference["real 48 h half vs other half"] = {
        "mmd_to_48h": mmd_rbf(x48[half[len(half) // 2:]], x48[half[: len(half) // 2]], seed=args.seed),
        "ilisi_vs_48h": ilisi(x48[half[len(half) // 2:]], x48[half[: len(half) // 2]], n_neighbors=10,
                              seed=args.seed)}
    closest = {m: {"by_mmd": int(np.argmin([s["mmd_to_48h"] for s in v])),
                   "best_mmd_to_48h": float(np.min([s["mmd_to_48h"] for s in v])),
                   "by_pseudotime": int(np.argmin([abs(s["median_pseudotime"] - real_pt["48"]) for s in v]))}
               for m, v in per_state.items()}

    rows = {}
    for m, v in per_state.items():
        for s in v:
            rows[f"{m} state {s['state']} (w={s['weight_72h']:.2f})"] = {k: s[k] for k in s
                                                                         if k not in ("state", "weight_72h")}
    rows.update(reference)
    cols = ["mmd_to_48h", "ilisi_vs_48h", "mean_corr_48h", "median_pseudotime", "frac_called_72h"]
    table = C.print_table(rows, cols, f"{NAME}: HSMM 24 h → 72 h states vs held-out 48 h "
                                      f"({len(x48)} cells); real median pseudotime {real_pt}")
    print("closest state to 48 h:", closest, flush=True)

    figures = {}
    for m, xs in states.items():
        pts = np.concatenate([place(x) for x in xs])
        figures[f"pseudotime_{m}"] = str(plot_interpolation_pseudotime(
            np.repeat(w, [len(x) for x in xs]), pts, args.output_dir / f"pseudotime_{m}.png",
            title=f"{m}: pseudotime on the real trajectory (real 48 h median {real_pt['48']:.2f})",
            xlabel="weight of 72 h", seed=args.seed))
    figures["per_state"] = str(_figure(per_state, reference, real_pt, args.output_dir / "per_state.png"))
    out = {"meta": C.meta(args, t_start, data="HSMMSingleCell myoblasts (Trapnell 2014), FPKM", read=how,
                          preprocessing=f"FPKM -> pseudo_counts (cell scaled to 1e4, rounded); "
                          f"{counts.n_vars} most variable genes (scanpy seurat flavour, genes in >= 3 cells) "
                          "computed without the 48 h cells", n_cells={h: int((hours == h).sum()) for h in
                                                                      ["0", "24", "48", "72"]},
                          training=train_info, n_states=args.n_states, n_cells_per_state=n_cells,
                          interpolation_t_start=args.t_start, guidance_scale=args.guidance_scale,
                          cfg_scale=args.cfg_scale, interpolate_seconds=t_interp,
                          interpolation_sampling_steps=int(interp.uns["scdiffusion"]["n_steps"]),
                          pseudotime="DPT (scanpy) on all real cells rooted at the 0 h medoid; generated cells "
                          "placed by the mean pseudotime of their 10 nearest real cells (50 real PCs)"),
           "real_median_pseudotime": real_pt, "per_state": per_state, "reference": reference,
           "closest_state_to_48h": closest, "figures": figures, "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


def _figure(per_state: dict, reference: dict, real_pt: dict, path):
    from scdiffusion.plotting._common import new_figure, save_png

    fig = new_figure(15, 3.3)
    r48 = reference.get("real 48 h (held out)", {})
    for j, (key, title) in enumerate([("mmd_to_48h", "MMD² to real 48 h (0 best)"),
                                      ("ilisi_vs_48h", "iLISI vs real 48 h (1 best)"),
                                      ("mean_corr_48h", "corr. of gene means with 48 h"),
                                      ("median_pseudotime", "median pseudotime"),
                                      ("frac_called_72h", "fraction called 72 h")]):
        ax = fig.add_subplot(1, 5, j + 1)
        for m, v in per_state.items():
            ax.plot([s["weight_72h"] for s in v], [s[key] for s in v], marker="o", label=m)
        if key in ("median_pseudotime", "frac_called_72h"):
            ax.axhline(r48.get(key, real_pt["48"]) if key == "frac_called_72h" else real_pt["48"], color="k",
                       ls="--", lw=0.8, label="real 48 h")
        refs = [(n, r) for n, r in reference.items() if not n.startswith("real 48 h (held out)")]
        for (name, ref), ls in zip(refs, [":", "-.", "--"]):
            if key in ref:
                ax.axhline(ref[key], color="grey", ls=ls, lw=0.8, label=name)
        ax.set_xlabel("weight of 72 h", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        if j in (0, 4):
            ax.legend(fontsize=6)
    fig.tight_layout()
    return save_png(fig, path)


if __name__ == "__main__":
    main()
