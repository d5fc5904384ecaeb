"""Benchmark 2: cell-type-conditional generation of PBMC68k-reduced cells: classifier, classifier-free and both.

Same data and 80/20 split as ``unconditional.py`` (and the same cached model when both run with the same
seed and budget). For every ``bulk_labels`` type (including the rare CD34+) as many cells are generated as
there are held-out real cells of that type (at least 20), once per kind of guidance: the model's classifier
(``--guidance-scale``, γ), the label-conditioned denoiser (classifier-free, ``--cfg-scale``, w), and both;
the per-type table is for the package default (``guidance="auto"``).

Scores, generated vs held-out real cells:

* annotation accuracy: CellTypist (if installed) and logistic-regression annotators trained on the real
  *training* cells; the intended type is the truth for generated cells; the annotators' accuracy on the
  held-out real cells is the control;
* kNN AUC per type (5-NN real-vs-generated, 0.5 = indistinguishable) against the held-out cells of the type
  (types with < 10 held-out cells are also scored against the training cells of the type, flagged);
* MMD² (50 pooled PCs) per type with >= 10 held-out cells, control: as many real training cells of the type;
* reference: *unguided* cells from the same initial noise (no condition) labelled with the same intended
  types - the accuracy guidance has to beat.

    OMP_NUM_THREADS=1 python benchmarks/conditional.py [--quick] [--output-dir DIR] [--model-kwargs JSON]
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import time

import numpy as np

NAME = "conditional"


def main(argv=None) -> dict:
    from scdiffusion.options import GENERATE

    p = C.parser(__doc__.splitlines()[0])
    C.add_model_kwargs(p)
    p.add_argument("--guidance-scale", type=float, default=GENERATE.defaults.guidance_scale,
                   help="classifier guidance weight γ")
    p.add_argument("--cfg-scale", type=float, default=GENERATE.defaults.cfg_scale,
                   help="classifier-free guidance weight w")
    args = C.finish_args(p.parse_args(argv), NAME)
    C.require_bench(args, "celltypist")
    t_start = time.perf_counter()
    from scdiffusion.metrics import fit_annotator, knn_auc_per_label

    train, test = C.pbmc_split(args.seed)
    model, train_info = C.train_model(train, [C.PBMC_LABELS], args, "pbmc_bulk_labels")
    real_test = C.log_norm(model, test)
    real_train = C.log_norm(model, train)
    y_test = test.obs[C.PBMC_LABELS].astype(str).to_numpy()
    y_train = train.obs[C.PBMC_LABELS].astype(str).to_numpy()
    types = list(model.registries[C.PBMC_LABELS].categories)
    min_n = 5 if args.quick else 20
    n_per = {t: max(min_n, int((y_test == t).sum())) for t in types}
    wanted = np.concatenate([[t] * n_per[t] for t in types])

    kinds_of_guidance = {"classifier": {"guidance": "classifier", "guidance_scale": args.guidance_scale}}
    if model.module.classifier_free:
        kinds_of_guidance.update({
            "classifier-free": {"guidance": "classifier-free", "cfg_scale": args.cfg_scale},
            "both": {"guidance": "both", "guidance_scale": args.guidance_scale, "cfg_scale": args.cfg_scale}})
    from scdiffusion.model.guidance import resolve_guidance

    default_kind = resolve_guidance(model.module, GENERATE.defaults.guidance)  # what generate() does by default
    generated, seconds = {}, {}
    for kind, kw in kinds_of_guidance.items():
        t0 = time.perf_counter()
        generated[kind] = model.generate(len(wanted), {C.PBMC_LABELS: list(wanted)}, seed=args.seed, progress=False,
                                         **kw, **C.sampling(args))
        seconds[kind] = round(time.perf_counter() - t0, 1)
    guided = generated[default_kind]
    t_guided = seconds[default_kind]
    unguided = model.generate(len(wanted), seed=args.seed, progress=False, **C.sampling(args))
    import torch

    z = torch.from_numpy(model.get_latent_representation(test, scaled=True))
    recon = model.module.decode_mean(z).numpy().astype(np.float32)
    sets = {"guided": np.asarray(guided.X), "unguided (same noise)": np.asarray(unguided.X),
            **{f"guided: {k}": np.asarray(g.X) for k, g in generated.items() if k != default_kind}}

    kinds, ct_note = C.annotator_kinds()
    if ct_note:
        print(ct_note, flush=True)
    annot: dict[str, dict] = {}
    for kind in kinds:
        predict = fit_annotator(real_train.X, y_train, kind, seed=args.seed, max_iter=500)
        pred_real = predict(real_test.X)
        entry = {"heldout_real": {"overall": float(np.mean(pred_real == y_test)),
                                  "per_type": {t: float(np.mean(pred_real[y_test == t] == t)) for t in types}}}
        for name, x in sets.items():
            pred = predict(x)
            entry[name] = {"overall": float(np.mean(pred == wanted)),
                           "per_type": {t: float(np.mean(pred[wanted == t] == t)) for t in types},
                           "called": {t: {c: int(n) for c, n in zip(*np.unique(pred[wanted == t],
                                                                                 return_counts=True))}
                                      for t in types}}
        pred = predict(recon)
        entry["AE reconstruction of held-out (reference)"] = {
            "overall": float(np.mean(pred == y_test)),
            "per_type": {t: float(np.mean(pred[y_test == t] == t)) for t in types},
            "note": "the autoencoder's reconstruction of the held-out real cells: the accuracy ceiling of "
                    "anything decoded by it"}
        annot[kind] = entry

    knn = {}
    for name, x in sets.items():
        knn[name] = {"vs_heldout": knn_auc_per_label(real_test.X, x, y_test, wanted, k=5, seed=args.seed),
                     "vs_train": knn_auc_per_label(real_train.X, x, y_train, wanted, k=5, seed=args.seed)}

    # hubness check: a kNN AUC of 0.5 can mean that generated cells are everybody's neighbours
    one_nn = {}
    for t in types:
        if (y_test == t).sum() >= 10:
            one_nn[t] = C.one_nn_sides(real_test.X[y_test == t], sets["guided"][wanted == t], seed=args.seed)

    # per-type MMD (50 pooled PCs): generated vs held-out, and the control real training vs held-out cells
    from scdiffusion.metrics import mmd_rbf

    mmd = {}
    rng = np.random.default_rng(args.seed)
    for t in types:
        if (y_test == t).sum() >= 10:
            tr_idx = np.flatnonzero(y_train == t)
            tr_idx = np.sort(rng.choice(tr_idx, size=min(len(tr_idx), n_per[t]), replace=False))
            mmd[t] = {name: mmd_rbf(real_test.X[y_test == t], x[wanted == t], seed=args.seed)
                      for name, x in sets.items() if name.startswith("guided")}
            mmd[t]["control_train"] = mmd_rbf(real_test.X[y_test == t], real_train.X[tr_idx], seed=args.seed)
    kind_rows = {}  # one summary row per kind of guidance
    for kind in kinds_of_guidance:
        name = "guided" if kind == default_kind else f"guided: {kind}"
        ratios = [mmd[t][name] / mmd[t]["control_train"] for t in mmd if mmd[t]["control_train"] > 0]
        kind_rows[kind] = {**{f"{k}_accuracy": annot[k][name]["overall"] for k in kinds},
                           "min_type_accuracy_ge10_train": min(annot[kinds[0]][name]["per_type"][t] for t in types
                                                                if (y_train == t).sum() >= 10),
                           "mmd_mean": float(np.mean([mmd[t][name] for t in mmd])),
                           "mmd_ratio_to_control_max": float(np.max(ratios)) if ratios else None,
                           "generate_seconds": seconds[kind], **kinds_of_guidance[kind]}

    # one row per type: the main table
    main_kind = kinds[0]
    per_type = {}
    for t in types:
        h = knn["guided"]["vs_heldout"][t]
        per_type[t] = {
            "n_heldout": int((y_test == t).sum()), "n_train": int((y_train == t).sum()), "n_generated": n_per[t],
            f"{main_kind}_acc_guided": annot[main_kind]["guided"]["per_type"][t],
            f"{main_kind}_acc_unguided": annot[main_kind]["unguided (same noise)"]["per_type"][t],
            f"{main_kind}_acc_heldout_real": annot[main_kind]["heldout_real"]["per_type"][t],
            "knn_auc_vs_heldout": h["auc"],
            "knn_auc_vs_train": knn["guided"]["vs_train"][t]["auc"],
            "knn_auc_unguided_vs_heldout": knn["unguided (same noise)"]["vs_heldout"][t]["auc"],
            "1nn_acc_real_side": one_nn[t]["real_side"] if t in one_nn else None,
            "mmd_vs_heldout": mmd[t]["guided"] if t in mmd else None,
            "mmd_control_train_vs_heldout": mmd[t]["control_train"] if t in mmd else None,
        }
    overall = {kind: {k: v["overall"] for k, v in annot[kind].items()} for kind in kinds}
    for name in sets:
        vals = [v["auc"] for v in knn[name]["vs_heldout"].values() if v["auc"] is not None]
        overall.setdefault("knn_auc_mean_vs_heldout", {})[name] = float(np.mean(vals)) if vals else None

    cols = list(next(iter(per_type.values())))
    table = C.print_table(per_type, cols, f"{NAME}: per type ({main_kind} annotator; default guidance: "
                                          f"{default_kind})")
    print("overall:", overall, flush=True)
    C.print_table(kind_rows, list(next(iter(kind_rows.values()))), f"{NAME}: per kind of guidance")

    figures = {"accuracy": str(_figure(per_type, types, main_kind, args.output_dir / "accuracy_per_type.png"))}
    out = {"meta": C.meta(args, t_start, data="scanpy pbmc68k_reduced exact counts, 80/20 split stratified by "
                          "bulk_labels", training=train_info, guidance_scale=args.guidance_scale,
                          cfg_scale=args.cfg_scale, default_guidance=default_kind,
                          generate_seconds_guided=t_guided, annotators=kinds, celltypist_note=ct_note,
                          n_generated=int(len(wanted))),
           "overall": overall, "per_kind_of_guidance": kind_rows, "per_type": per_type, "one_nn_by_side": one_nn,
           "mmd_per_type": mmd,
           "note_knn": "1nn_acc_real_side near 0 = held-out real cells' nearest neighbour is a generated cell "
                       "(generated cells are hubs, e.g. over-smooth); kNN AUC is then ~0.5 without the sets "
                       "being alike", "annotation": annot, "knn_auc_per_label": knn,
           "figures": figures, "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


def _figure(per_type: dict, types: list[str], kind: str, path):
    from scdiffusion.plotting._common import new_figure, save_png

    fig = new_figure(11, 3.8)
    x = np.arange(len(types))
    ax = fig.add_subplot(1, 2, 1)
    for i, (col, lab) in enumerate([(f"{kind}_acc_guided", "guided"), (f"{kind}_acc_unguided", "unguided"),
                                    (f"{kind}_acc_heldout_real", "held-out real")]):
        ax.bar(x + (i - 1) * 0.27, [per_type[t][col] for t in types], width=0.27, label=lab)
    ax.set_title(f"{kind} accuracy per type", fontsize=9)
    ax.legend(fontsize=7)
    ax2 = fig.add_subplot(1, 2, 2)
    for i, (col, lab) in enumerate([("mmd_vs_heldout", "guided vs held-out"),
                                    ("mmd_control_train_vs_heldout", "real train vs held-out (control)")]):
        v = [per_type[t][col] for t in types]
        ax2.bar(x + (i - 0.5) * 0.4, [np.nan if a is None else a for a in v], width=0.4, label=lab)
    ax2.set_title("MMD² to held-out cells per type (types with >= 10 held-out cells; 0 best)", fontsize=9)
    ax2.legend(fontsize=7)
    for a in (ax, ax2):
        a.set_xticks(x)
        a.set_xticklabels(types, rotation=40, ha="right", fontsize=7)
    ax.set_ylim(0, 1.05)
    fig.tight_layout()
    return save_png(fig, path)


if __name__ == "__main__":
    main()
