"""Benchmark 13: the README's PBMC interpolation example, CD14+ Monocyte → Dendritic, for both interpolation methods.

The README's example is ``model.interpolate(adata, "bulk_labels", "CD14+ Monocyte", "Dendritic", n_states=5,
n_cells=100)`` (each method's default ``t_start``: 600 for gradient, 50 for two-ended). There is no ground
truth for intermediate cells here (no cell is "half a monocyte, half a dendritic cell"), so the benchmark
measures whether the path behaves as a user expects: it starts among monocytes, ends among dendritic cells, moves
monotonically from one to the other, and its cells look like real cells rather than blends that sit between real
cell types.

Data: scanpy's ``pbmc68k_reduced`` exact counts, 80/20 split stratified by ``bulk_labels`` (a new split per
seed). Per seed the model is trained on the training cells (``labels_keys=["bulk_labels"]``, wall-time budget,
cached) and interpolates from the training cells with ``method="gradient"`` (every state denoised from the same
noised monocytes) and ``method="two-ended"`` (state w starts from a spherical blend of noised monocytes and
dendritic cells paired by OT; the package's default for these cells), 5 states, weight w of the end label 0, 0.25,
0.5, 0.75, 1.

Measures of every state (its ``n_cells`` cells, log-normalised ``X`` of the output):

* ``frac_end`` / ``frac_start``: the share called "Dendritic" / "CD14+ Monocyte" by a logistic-regression
  annotator (``scdiffusion.metrics.fit_annotator``) trained on the real training cells' log values, all labels;
* ``mmd2_start`` / ``mmd2_end``: MMD² (``scdiffusion.metrics.mmd_rbf``, 50 pooled PCs) to the real held-out
  cells of each end label;
* ``mixed_gap``: the share of the state's cells between real cell types (``mixed_neighbourhoods`` with the
  labelled training cells as reference: 15 nearest training cells with no label ≥ 80 %) minus that share for the
  real held-out cells of the two end labels; ``nearest_ratio``: the state's median distance to its nearest real
  training cell over that of the same held-out cells (1: as close to real cells as real cells are).

Baseline: direct interpolation ``(1 − w) x + w y`` in log space of random pairs of real training cells
(x a monocyte, y a dendritic cell), scored the same way. The pairs are distinct, and when there are enough cells
each side's cells are distinct too (drawn without replacement on both sides), so the w = 0 and w = 1 rows are
real training cells of the end labels without repeats (repeated cells inflate MMD²). Those two rows are cells of
the training reference itself, so their nearest real cell is at distance 0 (``nearest_ratio`` 0) and each is one of
its own 15 neighbours: read the baseline's between-types measures at 0 < w < 1 only.

Checks (on the means over seeds, and per seed): the fraction called Dendritic is non-decreasing in w; state 0
looks like monocytes (majority called CD14+ Monocyte, more than called Dendritic, and nearer in MMD² to held-out
monocytes than to held-out dendritic cells); the last state looks like dendritic cells (the same, mirrored).

    OMP_NUM_THREADS=1 python benchmarks/pbmc_interpolation.py [--quick] [--seeds 0 1 2] [--methods gradient,two-ended]
"""

from __future__ import annotations

import _common as C  # noqa: I001  (pins threads before numpy/torch)

import time

import numpy as np

NAME = "pbmc_interpolation"
START, END = "CD14+ Monocyte", "Dendritic"
DIRECT = "direct interpolation"
#: measure -> (label, reference value: ideal where there is one, None where a path has no single ideal)
MEASURES: dict[str, tuple[str, float | None]] = {
    "frac_end": (f"fraction called {END}", None), "frac_start": (f"fraction called {START}", None),
    "mmd2_start": (f"MMD² to held-out {START}", None), "mmd2_end": (f"MMD² to held-out {END}", None),
    "mixed_gap": ("between types (minus held-out)", 0.0), "nearest_ratio": ("nearest real cell (÷ held-out)", 1.0)}


def _dense(x) -> np.ndarray:
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float32)


# ---------------------------------------------------------------------------------------------- baseline
def distinct_pairs(n_a: int, n_b: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct index pairs ``(i, j)``, ``i < n_a``, ``j < n_b``.

    With ``n <= min(n_a, n_b)`` each side is drawn without replacement, so not only the pairs but also the cells of
    either side are distinct (the blends at w = 0 and w = 1 are then ``n`` different real cells); otherwise the
    pairs are drawn without replacement from the ``n_a × n_b`` grid.
    """
    if n <= min(n_a, n_b):
        return rng.choice(n_a, n, replace=False), rng.choice(n_b, n, replace=False)
    if n > n_a * n_b:
        raise ValueError(f"{n} distinct pairs asked for, there are {n_a} x {n_b}")
    i, j = np.unravel_index(rng.choice(n_a * n_b, size=n, replace=False), (n_a, n_b))
    return np.asarray(i), np.asarray(j)


def direct_interpolation(xa: np.ndarray, xb: np.ndarray, pairs: tuple[np.ndarray, np.ndarray], w: float) -> np.ndarray:
    """``(1 − w) x_i + w y_j`` of paired real cells (log-normalised)."""
    i, j = pairs
    return ((1.0 - w) * xa[i] + w * xb[j]).astype(np.float32)


# ---------------------------------------------------------------------------------------------- measures
class Scorer:
    """Scores a set of log-normalised cells on every measure of :data:`MEASURES`.

    Parameters
    ----------
    predict
        The annotator (cells → labels), trained on real training cells.
    held
        Real held-out cells of each end label, ``{label: cells}``.
    reference, reference_labels
        Labelled real training cells (the neighbourhoods of ``mixed_neighbourhoods``).
    seed
        Seed of the PCAs.
    """

    def __init__(self, predict, held: dict[str, np.ndarray], reference: np.ndarray, reference_labels: np.ndarray,
                 seed: int) -> None:
        from scdiffusion.metrics import mixed_neighbourhoods

        self.predict, self.held, self.seed = predict, held, seed
        self.reference, self.reference_labels = reference, reference_labels
        self.level = mixed_neighbourhoods(reference, reference_labels, np.vstack([held[START], held[END]]), seed=seed)

    def __call__(self, x: np.ndarray) -> dict[str, float]:
        from scdiffusion.metrics import mixed_neighbourhoods, mmd_rbf

        called = self.predict(x)
        m = mixed_neighbourhoods(self.reference, self.reference_labels, x, seed=self.seed)
        return {"frac_end": float(np.mean(called == END)), "frac_start": float(np.mean(called == START)),
                "mmd2_start": float(mmd_rbf(self.held[START], x, seed=self.seed)),
                "mmd2_end": float(mmd_rbf(self.held[END], x, seed=self.seed)),
                "mixed_gap": m.fraction_mixed - self.level.fraction_mixed,
                "nearest_ratio": m.median_nearest_distance / self.level.median_nearest_distance,
                "fraction_mixed": m.fraction_mixed, "median_nearest_distance": m.median_nearest_distance}


# ---------------------------------------------------------------------------------------------- one seed
def run_seed(seed: int, args) -> dict:
    """Split, train, interpolate with every method and score every state and the baseline, for one seed."""
    from scdiffusion.metrics import fit_annotator, mmd_rbf

    train, test = C.pbmc_split(seed)
    args.seed = seed
    model, info = C.train_model(train, [C.PBMC_LABELS], args, "pbmc_interp")
    x_train, x_test = _dense(C.log_norm(model, train).X), _dense(C.log_norm(model, test).X)
    y_train = train.obs[C.PBMC_LABELS].astype(str).to_numpy()
    y_test = test.obs[C.PBMC_LABELS].astype(str).to_numpy()
    predict = fit_annotator(x_train, y_train, "logistic_regression", seed=seed, max_iter=500)
    held = {START: x_test[y_test == START], END: x_test[y_test == END]}
    score = Scorer(predict, held, x_train, y_train, seed)

    states, seconds, weights = {}, {}, {}
    for method in args.methods:
        t0 = time.perf_counter()
        out = model.interpolate(train, C.PBMC_LABELS, START, END, n_states=args.n_states, n_cells=args.n_cells,
                                t_start=args.t_start, method=method, seed=seed, progress=False, **C.sampling(args))
        seconds[method] = round(time.perf_counter() - t0, 1)
        state = out.obs["interpolation_state"].to_numpy()
        x = _dense(out[:, model.genes].X)
        # w of each state as the output records it: the end label's share of the guidance weights
        w_end = (out.obs["weight_end"] / (out.obs["weight_start"] + out.obs["weight_end"])).to_numpy()
        weights[method] = [float(w_end[state == i][0]) for i in range(args.n_states)]
        states[method] = [{"state": i, "w": weights[method][i], "n_cells": int((state == i).sum()),
                           **score(x[state == i])} for i in range(args.n_states)]
        C.logger.info("seed %d %s (%.0f s): called %s per state %s", seed, method, seconds[method], END,
                      [round(s["frac_end"], 2) for s in states[method]])

    rng = np.random.default_rng(seed)
    xa, xb = x_train[y_train == START], x_train[y_train == END]
    pairs = distinct_pairs(len(xa), len(xb), args.n_cells, rng)
    w_states = np.linspace(0.0, 1.0, args.n_states)
    baseline = [{"state": i, "w": float(w), "n_cells": args.n_cells,
                 **score(direct_interpolation(xa, xb, pairs, float(w)))} for i, w in enumerate(w_states)]
    called = {lab: predict(x) for lab, x in held.items()}
    reference = {
        "held_out_fraction_mixed": score.level.fraction_mixed,
        "held_out_median_nearest_distance": score.level.median_nearest_distance,
        "mmd2_between_held_out_end_labels": float(mmd_rbf(held[START], held[END], seed=seed)),
        **{f"held_out_{lab}": {"n_cells": int(len(held[lab])), "frac_end": float(np.mean(called[lab] == END)),
                               "frac_start": float(np.mean(called[lab] == START))} for lab in held},
        "annotator_accuracy_held_out_all_labels": float(np.mean(predict(x_test) == y_test))}
    return {"states": states, "baseline": baseline, "reference": reference, "weights": weights,
            "interpolate_seconds": seconds, "training": info, "n_train": int(train.n_obs), "n_test": int(test.n_obs),
            "n_train_end_labels": {START: int(len(xa)), END: int(len(xb))}, "n_genes_model": len(model.genes),
            "sampler": C.sampler_name(args, out)}


# ---------------------------------------------------------------------------------------------- summary
def _stats(values: list[float]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "sd": float(v.std()), "per_seed": [float(x) for x in v]}


def _summarize_states(runs: list[list[dict]]) -> list[dict]:
    """Mean, sd and per-seed values of every measure of every state (``runs``: one state list per seed)."""
    keys = list(MEASURES) + ["fraction_mixed", "median_nearest_distance"]
    return [{"state": i, "w": st["w"], **{k: _stats([r[i][k] for r in runs]) for k in keys}}
            for i, st in enumerate(runs[0])]


def _path_checks(frac_end: list[float], frac_start: list[float], mmd_start: list[float],
                 mmd_end: list[float]) -> dict[str, bool | float]:
    """The checks of one path (per-state values from w = 0 to w = 1)."""
    steps = np.diff(np.asarray(frac_end, dtype=np.float64))
    return {"dendritic_fraction_monotone": bool(np.all(steps >= -1e-12)),
            "largest_drop_of_dendritic_fraction": float(max(0.0, -steps.min())) if steps.size else 0.0,
            "state0_looks_like_monocytes": bool(frac_start[0] >= 0.5 and frac_start[0] > frac_end[0]
                                                and mmd_start[0] < mmd_end[0]),
            "last_state_looks_like_dendritic": bool(frac_end[-1] >= 0.5 and frac_end[-1] > frac_start[-1]
                                                    and mmd_end[-1] < mmd_start[-1])}


def checks(summary_states: list[dict], per_seed: list[list[dict]]) -> dict:
    """The user's checks on the means over seeds, and how many seeds pass each one alone."""
    def col(st, k, mean=True):
        return [s[k]["mean"] if mean else s[k] for s in st]

    on_means = _path_checks(*(col(summary_states, k) for k in ("frac_end", "frac_start", "mmd2_start", "mmd2_end")))
    seeds = [_path_checks(*(col(st, k, False) for k in ("frac_end", "frac_start", "mmd2_start", "mmd2_end")))
             for st in per_seed]
    return {"on_means": on_means,
            "seeds_passing": {k: int(sum(s[k] for s in seeds)) for k, v in on_means.items() if isinstance(v, bool)},
            "n_seeds": len(seeds), "per_seed": seeds}


def _pm(d: dict, digits: int = 3) -> str:
    return f"{d['mean']:.{digits}f} ± {d['sd']:.{digits}f}"


def table(paths: dict[str, list[dict]], title: str) -> str:
    """Mean ± sd of every measure per path and state, as text."""
    cols = list(MEASURES)
    width = max(len(p) for p in paths) + 12
    lines = [title, " " * width + "".join(f"{c:>17}" for c in cols)]
    for name, st in paths.items():
        for s in st:
            row = f"{name} w={s['w']:.2f}"
            lines.append(f"{row:<{width}}" + "".join(f"{_pm(s[c]):>17}" for c in cols))
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def figure(paths: dict[str, list[dict]], reference: dict, path, title: str):
    """One panel per measure, x = w, a line per method and the baseline (mean ± sd over seeds)."""
    from scdiffusion.plotting._common import grid_shape, new_figure, save_png

    nr, nc = grid_shape(len(MEASURES), max_cols=3)
    fig = new_figure(3.6 * nc, 2.9 * nr)
    for k, (col, (label, ideal)) in enumerate(MEASURES.items()):
        ax = fig.add_subplot(nr, nc, k + 1)
        for m, (name, st) in enumerate(paths.items()):
            base = name == DIRECT
            ax.errorbar([s["w"] for s in st], [s[col]["mean"] for s in st], yerr=[s[col]["sd"] for s in st],
                        marker="s" if base else "o", ms=4, capsize=3, ls="--" if base else "-",
                        color="grey" if base else f"C{m}", label=f"{name} (real pairs)" if base else
                        f"scDiffusion {name}")
        if ideal is not None:
            ax.axhline(ideal, color="k", lw=0.8, ls=":")
        if col in ("frac_end", "frac_start"):  # what the annotator calls the real held-out cells of each end
            for lab, ls in ((START, (0, (1, 3))), (END, (0, (5, 2)))):
                ax.axhline(reference[f"held_out_{lab}"][col]["mean"], color="tab:red", lw=0.7, ls=ls,
                           label=f"real held-out {lab}")
            ax.set_ylim(-0.03, 1.03)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(f"weight w of {END}", fontsize=8)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)


# ---------------------------------------------------------------------------------------------- main
def _t_start_text(args) -> str:
    used = C.t_start_used(args.t_start, args.methods)
    return str(used) if isinstance(used, int) else ", ".join(f"{m} {t}" for m, t in used.items())


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (0 with --quick)")
    p.add_argument("--methods", default="gradient,two-ended", help="comma-separated interpolation methods")
    p.add_argument("--n-states", type=int, default=5)
    p.add_argument("--n-cells", type=int, default=None, help="cells per state (default 100, the README's; 30 with "
                   "--quick)")
    p.add_argument("--t-start", type=int, default=None,
                   help="noise level the start cells are diffused to (default: each method's own, as in the README)")
    args = C.finish_args(p.parse_args(argv), NAME)
    if args.seeds is None:
        args.seeds = [0] if args.quick else [0, 1, 2]
    if args.n_cells is None:
        args.n_cells = 30 if args.quick else 100
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    t_begin = time.perf_counter()
    per_seed: dict[str, dict] = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        per_seed[str(seed)] = run_seed(seed, args)
        per_seed[str(seed)]["seconds"] = round(time.perf_counter() - t0, 1)
    runs = list(per_seed.values())
    runs_per_path = {**{m: [r["states"][m] for r in runs] for m in args.methods}, DIRECT: [r["baseline"] for r in runs]}
    paths = {name: _summarize_states(st) for name, st in runs_per_path.items()}
    states, baseline = {m: paths[m] for m in args.methods}, paths[DIRECT]
    check = {name: checks(st, runs_per_path[name]) for name, st in paths.items()}
    ref0 = runs[0]["reference"]
    reference = {k: _stats([r["reference"][k] for r in runs]) for k, v in ref0.items() if isinstance(v, float)}
    for k, v in ref0.items():
        if isinstance(v, dict):
            reference[k] = {"n_cells": [r["reference"][k]["n_cells"] for r in runs],
                            **{c: _stats([r["reference"][k][c] for r in runs]) for c in ("frac_end", "frac_start")}}
    text = table(paths, f"{NAME}: {START} -> {END}, {args.n_cells} cells per state, t_start {_t_start_text(args)}, "
                        f"{runs[0]['sampler']}, mean ± sd over seeds {args.seeds}")
    ref_text = (f"real held-out cells: {START} called {START} {_pm(reference[f'held_out_{START}']['frac_start'])}, "
                f"{END} called {END} {_pm(reference[f'held_out_{END}']['frac_end'])}; MMD² between the two "
                f"{_pm(reference['mmd2_between_held_out_end_labels'])}; between types "
                f"{_pm(reference['held_out_fraction_mixed'])}")
    print(ref_text, flush=True)
    for name, c in check.items():
        C.logger.info("%s: %s (seeds passing: %s of %d)", name,
                      {k: v for k, v in c["on_means"].items() if isinstance(v, bool)}, c["seeds_passing"],
                      c["n_seeds"])
    figures = {"per_state": str(figure(paths, reference, args.output_dir / "per_state.png",
                                       f"PBMC interpolation {START} → {END} (mean ± sd, seeds {args.seeds})"))}
    first = runs[0]
    out = {"meta": C.meta(
        args, t_begin, data="scanpy pbmc68k_reduced exact counts, 80/20 split stratified by bulk_labels (split seed "
                            "= seed)", start=START, end=END, seeds=args.seeds, methods=args.methods,
        default_method=args.methods[0], n_states=args.n_states, n_cells_per_state=args.n_cells,
        interpolation_t_start=C.t_start_used(args.t_start, args.methods), max_time=args.max_time,
        n_train_cells=first["n_train"],
        n_test_cells=first["n_test"], n_genes_model=first["n_genes_model"],
        n_train_end_labels={s: r["n_train_end_labels"] for s, r in per_seed.items()},
        held_out_end_labels={lab: reference[f"held_out_{lab}"]["n_cells"] for lab in (START, END)},
        training={s: r["training"] for s, r in per_seed.items()},
        interpolate_seconds={s: r["interpolate_seconds"] for s, r in per_seed.items()},
        seconds_per_seed={s: r["seconds"] for s, r in per_seed.items()},
        annotator="logistic regression (scdiffusion.metrics.fit_annotator, max_iter 500) on the real training "
                  "cells' log values, every bulk_labels label",
        mixed_reference="mixed_neighbourhoods: PCA and 15 neighbours among the labelled training cells; the "
                        "level subtracted / divided by is that of the real held-out cells of the two end labels",
        baseline="(1 - w) x + w y of distinct random pairs of real training cells (x CD14+ Monocyte, y Dendritic), "
                 "log space; each side without replacement when there are enough cells; at w = 0 and 1 its cells "
                 "are training cells, i.e. in the mixed_neighbourhoods reference (nearest distance 0)"),
        "measures": {k: {"label": lab, "ideal": ideal} for k, (lab, ideal) in MEASURES.items()},
        "states": states, "baseline": baseline, "reference": reference, "checks": check,
        "seeds": per_seed, "figures": figures, "table": text + "\n" + ref_text}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
