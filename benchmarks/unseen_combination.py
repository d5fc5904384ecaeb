"""Benchmark 3: generating a cell-type x cell-cycle-phase combination never seen in training (two classifiers).

Data: PBMC68k-reduced exact counts; the 80/20 split of the other PBMC benchmarks. All cells of one
``bulk_labels`` x ``phase`` combination (default: Dendritic & S, the largest S group, 44 cells) are removed
from training; the model is trained with classifiers on both columns (and its denoiser on both labels) and
asked for the combination with guidance on both columns: classifier guidance (γ each), classifier-free guidance
(w each: the per-column score differences add up) and both.

Scores (log-normalised space over the model's genes):

* annotators (CellTypist if installed, else logistic regression; logistic regression always) trained on the
  real training cells of each column: fraction of generated cells called each type / phase, next to the same
  fractions for the real held-out combination cells (the control: what the annotators say about real cells);
* MMD (50 pooled PCs, equal cell numbers) of the generated cells to the real held-out combination and to
  every other real combination with enough cells; the rank of the target among them.

References generated from the same noise: guidance on the type only, and unguided.

    OMP_NUM_THREADS=1 python benchmarks/unseen_combination.py [--quick] [--output-dir DIR] [--model-kwargs JSON]
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import time

import numpy as np

NAME = "unseen_combination"
PHASE = "phase"


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    C.add_model_kwargs(p)
    p.add_argument("--cell-type", default="Dendritic")
    p.add_argument("--phase", default="S")
    from scdiffusion.options import GENERATE

    p.add_argument("--guidance-scale", type=float, default=GENERATE.defaults.guidance_scale,
                   help="classifier guidance weight γ of each column")
    p.add_argument("--cfg-scale", type=float, default=GENERATE.defaults.cfg_scale,
                   help="classifier-free guidance weight w of each column")
    p.add_argument("--n-cells", type=int, default=100, help="generated cells per variant")
    args = C.finish_args(p.parse_args(argv), NAME)
    C.require_bench(args, "celltypist")
    t_start = time.perf_counter()
    from scdiffusion.metrics import fit_annotator, mmd_rbf

    train, test = C.pbmc_split(args.seed)
    from scdiffusion.datasets import pbmc68k_counts

    pbmc = pbmc68k_counts()
    ytype = pbmc.obs[C.PBMC_LABELS].astype(str).to_numpy()
    yphase = pbmc.obs[PHASE].astype(str).to_numpy()
    is_combo = (ytype == args.cell_type) & (yphase == args.phase)
    if is_combo.sum() < 10:
        raise SystemExit(f"{args.cell_type} & {args.phase} has only {is_combo.sum()} cells; choose another.")
    train_names = set(train.obs_names)
    in_train = np.array([n in train_names for n in pbmc.obs_names]) & ~is_combo
    in_test = ~in_train & ~is_combo
    train = pbmc[in_train].copy()
    model, train_info = C.train_model(train, [C.PBMC_LABELS, PHASE], args,
                                      f"pbmc_type_phase_minus_{args.cell_type}_{args.phase}".replace(" ", "_"))
    real_train = C.log_norm(model, train)
    real_all = C.log_norm(model, pbmc)
    x_combo = real_all.X[is_combo]

    n = 30 if args.quick else args.n_cells
    g, w = args.guidance_scale, args.cfg_scale
    both_columns = {C.PBMC_LABELS: args.cell_type, PHASE: args.phase}
    kinds_of_guidance = {"classifier": {"guidance": "classifier", "guidance_scale": g}}
    if model.module.classifier_free:
        kinds_of_guidance.update({"classifier-free": {"guidance": "classifier-free", "cfg_scale": w},
                                  "both": {"guidance": "both", "guidance_scale": g, "cfg_scale": w}})
    variants = {f"type+phase guided ({kind})": model.generate(n, both_columns, seed=args.seed, progress=False,
                                                              **kw, **C.sampling(args))
                for kind, kw in kinds_of_guidance.items()}
    variants["type-only guided (default)"] = model.generate(n, {C.PBMC_LABELS: args.cell_type}, seed=args.seed,
                                                            progress=False, **C.sampling(args))
    variants["unguided"] = model.generate(n, seed=args.seed, progress=False, **C.sampling(args))
    xs = {k: np.asarray(v.X) for k, v in variants.items()}

    kinds, ct_note = C.annotator_kinds()
    annot = {}
    for kind in kinds:
        annot[kind] = {}
        for col, y in ((C.PBMC_LABELS, train.obs[C.PBMC_LABELS]), (PHASE, train.obs[PHASE])):
            predict = fit_annotator(real_train.X, y.astype(str).to_numpy(), kind, seed=args.seed, max_iter=500)
            target = args.cell_type if col == C.PBMC_LABELS else args.phase
            y_test = pbmc.obs[col].astype(str).to_numpy()[in_test]
            entry = {"heldout_real_accuracy": float(np.mean(predict(real_all.X[in_test]) == y_test)),
                     "note": "accuracy on the held-out real cells of all other combinations"}
            for name, x in [("real held-out combination (control)", x_combo)] + list(xs.items()):
                pred = predict(x)
                labs, cnt = np.unique(pred, return_counts=True)
                entry[name] = {"fraction_target": float(np.mean(pred == target)),
                               "called": {str(a): round(float(c) / len(pred), 3) for a, c in zip(labs, cnt)}}
            annot[kind][col] = entry

    # MMD of each variant to every real combination with >= n_min cells, at equal cell numbers
    n_min = 10 if args.quick else 20
    m = int(is_combo.sum())
    rng = np.random.default_rng(args.seed)
    combos = {}
    for t in np.unique(ytype):
        for ph in np.unique(yphase):
            idx = np.flatnonzero((ytype == t) & (yphase == ph))
            if len(idx) >= n_min:
                combos[f"{t} & {ph}"] = np.sort(rng.choice(idx, size=min(m, len(idx)), replace=False))
    target_name = f"{args.cell_type} & {args.phase}"
    mmd = {}
    for name, x in xs.items():
        xg = x[rng.choice(len(x), size=min(m, len(x)), replace=False)]
        d = {c: mmd_rbf(real_all.X[idx], xg, seed=args.seed) for c, idx in combos.items()}
        order = sorted(d, key=d.get)
        mmd[name] = {"to_target": d[target_name], "rank_of_target": order.index(target_name) + 1,
                     "n_combinations": len(d), "closest": order[0], "all": d}
    # control: how far the real target cells are from the other combinations (half vs half for the floor)
    half = rng.permutation(np.flatnonzero(is_combo))
    a, b = np.sort(half[: m // 2]), np.sort(half[m // 2:])
    d_real = {c: mmd_rbf(real_all.X[idx], real_all.X[a], seed=args.seed) for c, idx in combos.items()
              if c != target_name}
    d_real[target_name + " (other half)"] = mmd_rbf(real_all.X[b], real_all.X[a], seed=args.seed)
    mmd["real held-out combination, half (control)"] = {
        "to_target": d_real[target_name + " (other half)"],
        "rank_of_target": sorted(d_real, key=d_real.get).index(target_name + " (other half)") + 1,
        "n_combinations": len(d_real), "closest": min(d_real, key=d_real.get), "all": d_real,
        "note": f"{len(a)} real target cells vs the other {len(b)} and vs {len(a)}-cell samples of others"}

    main_kind = kinds[0]
    rows = {}
    for name in ["real held-out combination (control)"] + list(xs):
        mm = mmd.get(name) or mmd["real held-out combination, half (control)"]
        rows[name] = {f"{main_kind} type={args.cell_type}": annot[main_kind][C.PBMC_LABELS][name]["fraction_target"],
                      f"{main_kind} phase={args.phase}": annot[main_kind][PHASE][name]["fraction_target"],
                      "LR type": annot["logistic_regression"][C.PBMC_LABELS][name]["fraction_target"],
                      "LR phase": annot["logistic_regression"][PHASE][name]["fraction_target"],
                      "MMD to target": mm["to_target"], "target rank by MMD": mm["rank_of_target"],
                      "n combinations": mm["n_combinations"]}
    cols = list(next(iter(rows.values())))
    table = C.print_table(rows, cols, f"{NAME}: {target_name} ({m} real cells) held out of training")
    for kind in kinds:
        print(f"  {kind} accuracy on held-out real cells (other combinations): "
              f"type {annot[kind][C.PBMC_LABELS]['heldout_real_accuracy']:.3f}, "
              f"phase {annot[kind][PHASE]['heldout_real_accuracy']:.3f}", flush=True)
    for name, v in mmd.items():
        print(f"  {name}: closest combination {v['closest']!r}", flush=True)

    figures = {"mmd": str(_figure(mmd, target_name, args.output_dir / "mmd_to_combinations.png"))}
    out = {"meta": C.meta(args, t_start, data="scanpy pbmc68k_reduced exact counts; training = the 80 % split "
                          f"of the other PBMC benchmarks minus every {target_name} cell", target=target_name,
                          n_target_cells=m, n_generated=n, guidance_scale=g, cfg_scale=w, training=train_info,
                          annotators=kinds, celltypist_note=ct_note,
                          note_phase="phase labels of pbmc68k_reduced are scanpy score_genes_cell_cycle calls; "
                          "the phase annotator's accuracy on real cells bounds what can be measured"),
           "rows": rows, "annotation": annot, "mmd": mmd, "figures": figures, "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


def _figure(mmd: dict, target: str, path):
    from scdiffusion.plotting._common import new_figure, save_png

    names = [k for k in mmd if "control" not in k]
    combos = sorted(mmd[names[0]]["all"])
    fig = new_figure(10, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(combos))
    w = 0.8 / len(names)
    for i, name in enumerate(names):
        ax.bar(x + (i - (len(names) - 1) / 2) * w, [mmd[name]["all"][c] for c in combos], width=w, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels([("★ " if c == target else "") + c for c in combos], rotation=40, ha="right", fontsize=7)
    ax.set_ylabel("MMD² to real combination")
    ax.set_title(f"Generated {target} (unseen in training) vs real combinations", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_png(fig, path)


if __name__ == "__main__":
    main()
