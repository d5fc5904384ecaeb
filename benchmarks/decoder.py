"""Benchmark 9: the decoder's ceiling — reconstructed, generated and real cells against held-out real cells.

Data: PBMC68k-reduced exact counts, 80/20 split stratified by ``bulk_labels`` (``--data pbmc``, default), or
HSMM myoblast pseudo-counts over 2,000 variable genes, 80/20 split stratified by ``Hours`` (``--data hsmm``).
For every seed (default 0, 1, 2: the split, the model and every draw) a default model (or one changed by
``--model-kwargs`` / ``--train-kwargs``) is trained on the training cells and these rows are scored against
the held-out cells (see ``_decoder_run.py``): real training cells (control), the decoder ceiling
(reconstruction of training cells: own latent, own library size, counts drawn from the decoder),
reconstruction of held-out cells, generated cells (default sampler), and optionally scVI (``--scvi``).

Per row: RF AUC on genes and on 50 PCs, MMD², 1-NN accuracy, iLISI, zero-fraction gap (mean ± sd over seeds),
the latent-space RF AUC and MMD² (generated latents vs the held-out cells' encoded latents) and the between-types
measures (share of cells between real cell types, distance to the nearest real cell; relative to held-out cells);
per label: MMD² and zero-fraction gap; diagnostics: per-gene variance ratio, gene means and zero fractions,
zero fraction against library size, gene–gene correlation error and the random forest's most used genes.

    OMP_NUM_THREADS=1 python benchmarks/decoder.py [--quick] [--data hsmm] [--seeds 0,1,2] [--scvi]
        [--ae-only] [--model-kwargs '{"dropout": 0.1}'] [--train-kwargs '{"autoencoder": {"max_steps": 4000}}']
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import time

import numpy as np

import _decoder_eval as E
import _decoder_plots as P
import _decoder_run as R

NAME = "decoder"


def load_data(kind: str, seed: int, quick: bool):
    """``(train, test, labels_key)`` of one split."""
    if kind == "pbmc":
        train, test = C.pbmc_split(seed)
        return train, test, C.PBMC_LABELS
    from scdiffusion.data.split import stratified_split

    import interpolation as H

    fpkm, _ = H.read_hsmm()
    counts = H.prepare(fpkm, 300 if quick else 2000)
    tr, te = stratified_split(counts.obs[H.KEY].astype(str).to_numpy(), 0.2, seed)
    return counts[tr].copy(), counts[te].copy(), H.KEY


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--data", choices=["pbmc", "hsmm"], default="pbmc")
    R.add_arguments(p)
    args = R.finish(p.parse_args(argv), NAME)
    t_start = time.perf_counter()
    per_seed, seeds_out, first = [], {}, None
    for seed in args.seeds:
        train, test, key = load_data(args.data, seed, args.quick)
        model, info = R.train_model(train, key, args, seed)
        real, rows, extra = R.build_rows(model, train, test, key, args, seed)
        scored = R.score(real, rows, model.genes, args, seed, extra["latents"], extra["reference"])
        scored.update(training=info, n_heldout=int(test.n_obs), n_per_row={k: len(v.x) for k, v in rows.items()},
                      theta_median=float(np.median(extra["train_recon_theta"])), seconds=extra["seconds"],
                      scvi=extra.get("scvi"))
        per_seed.append(scored["rows"])
        seeds_out[str(seed)] = scored
        if first is None:
            first = (real, rows, scored)
    summary = E.summarize(per_seed)
    real, rows, scored = first
    tag = f"{args.data.upper()}, seed {args.seeds[0]}"
    figures = {
        "metrics": str(C.bar_figure(E.means(summary), E.COLUMNS, args.output_dir / "metrics.png",
                                    f"Decoder benchmark ({args.data}), mean of seeds {args.seeds}", E.IDEALS)),
        "genes": str(P.gene_panels(real, {k: v for k, v in rows.items() if k != R.CONTROL},
                                   args.output_dir / "gene_stats.png", f"Per-gene statistics vs held-out ({tag})")),
        "depth_zeros": str(P.depth_zeros(real, rows, args.output_dir / "depth_zeros.png",
                                         f"Zero fraction vs library size ({tag})")),
        "per_label_mmd": str(P.per_label_mmd(scored["per_label"], args.output_dir / "per_label_mmd.png",
                                             f"Per-label MMD² ({tag})")),
    }
    if R.GENERATED in rows:  # real training cells and generated cells on one UMAP: smearing between types, seen
        figures["umap"] = str(P.umap(rows[R.CONTROL], rows[R.GENERATED], args.output_dir / "umap.png", args.seeds[0]))
    table = C.print_table(E.means(summary), E.COLUMNS, f"{NAME} ({args.data}): mean over seeds {args.seeds}")
    md = R.markdown_rows(summary, args.data)
    (args.output_dir / "table.md").write_text(md + "\n")
    print(md, flush=True)
    out = {"meta": C.meta(args, t_start, data=args.data, seeds=args.seeds, model_kwargs=args.model_kwargs,
                          train_kwargs=args.train_kwargs, ae_only=args.ae_only,
                          rows_note=R.__doc__),
           "columns": E.COLUMNS, "ideal": E.IDEALS, "summary": summary, "seeds": seeds_out, "figures": figures,
           "table": table}
    print(f"Wrote {C.write_json(args, out)}", flush=True)
    return out


if __name__ == "__main__":
    main()
