"""Benchmark 6: training overhead (``fit`` vs a bare loop) and time to a fixed validation loss, per stage.

Data: scanpy's pbmc68k_reduced exact counts, the 80 % training split (558 cells × 765 genes), NB decoder.

* **Overhead.** For each stage (autoencoder, diffusion model, classifier) the same freshly initialised network
  is trained for ``--steps`` steps twice, alternating the order: once by the package's ``fit`` (validation every
  ``eval_every`` steps, best-weights copies, progress bookkeeping, EMA where the stage uses it) and once by
  a bare loop of the same model, loss, AdamW and EMA (batch indices, forward, backward, optimiser step, EMA
  update, nothing else). Reported: seconds per step of both and their ratio (goal ≤ 1.5).
* **Time to loss.** A full default training (``preset="cpu"``, no time budget) records the validation loss at
  every evaluation; reported: the wall time and steps until each stage's validation loss first reaches a fixed
  target (``TARGETS``; the loss scales are: NB negative log-likelihood per gene for the autoencoder, ε-MSE for
  the diffusion model, balanced cross-entropy for the classifier).

    OMP_NUM_THREADS=2 python benchmarks/training_speed.py [--quick] [--steps 300]
"""

from __future__ import annotations

import _common as C  # first: pins threads before numpy/torch (its own import section in ruff.toml)

import copy
import time
from dataclasses import replace

import numpy as np

NAME = "training_speed"
#: fixed validation-loss targets of the time-to-loss measurement (PBMC, NB decoder)
TARGETS = {"autoencoder": 0.895, "diffusion": 0.20, "classifier:bulk_labels": 1.05}


def bare_loop(module, loss_fn, tensors, cfg, n_steps: int, seed: int) -> float:
    """Seconds per step of the minimal loop: batch, forward, backward, AdamW step, EMA update."""
    import torch

    from scdiffusion.train.ema import EMA

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = EMA(module, cfg.ema_decay) if cfg.ema_decay else None
    n = tensors[0].shape[0]
    bs = min(cfg.batch_size, n)
    module.train()
    t0 = time.perf_counter()
    for _ in range(n_steps):
        idx = torch.randint(0, n, (bs,), generator=gen)
        loss = loss_fn(*(t[idx] for t in tensors))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update(module)
    return (time.perf_counter() - t0) / n_steps


def overhead(model, n_steps: int, seed: int) -> dict:
    """fit() vs bare loop for the three stages of ``model`` (trains it stage by stage as a side effect)."""
    import torch
    import torch.nn.functional as F

    from scdiffusion.runtime import seeded_generator
    from scdiffusion.train.autoencoder import train_autoencoder
    from scdiffusion.train.classifier import train_classifier
    from scdiffusion.train.diffusion import train_denoiser
    from scdiffusion.train.presets import PRESETS
    from scdiffusion.train.stages import fit_latent_scale

    cfgs = PRESETS["cpu"]
    out = {}
    key = model.labels_keys[0]

    def measure(name, cfg, run_fit, module, set_module, loss_factory, tensors):
        init = copy.deepcopy(module)
        cfg_n = replace(cfg, max_steps=n_steps, patience=0, max_time=None)
        per_fit, per_bare = [], []
        for rep in range(2):
            order = ["fit", "bare"] if rep == 0 else ["bare", "fit"]
            for which in order:
                if which == "fit":
                    set_module(copy.deepcopy(init).train())
                    t0 = time.perf_counter()
                    run_fit(cfg_n)
                    per_fit.append((time.perf_counter() - t0) / n_steps)
                else:
                    m2 = copy.deepcopy(init)
                    per_bare.append(bare_loop(m2, loss_factory(m2), tensors, cfg_n, n_steps, seed))
        out[name] = {"steps": n_steps, "batch_size": cfg.batch_size, "eval_every": cfg.eval_every,
                     "ema": cfg.ema_decay, "fit_seconds_per_step": float(np.min(per_fit)),
                     "bare_seconds_per_step": float(np.min(per_bare)),
                     "ratio": float(np.min(per_fit) / np.min(per_bare)),
                     "all_fit": per_fit, "all_bare": per_bare}
        print(name, {k: v for k, v in out[name].items() if not k.startswith("all_")}, flush=True)

    data, module = model.data, model.module
    gen = lambda: seeded_generator(seed)  # noqa: E731
    vgen = lambda k: seeded_generator(seed + k)  # noqa: E731

    def set_net(name):
        return lambda m: setattr(module, name, m)

    # autoencoder
    tr, val = data.autoencoder_batches(), data.validation_tensors()
    measure("autoencoder", cfgs["autoencoder"],
            lambda cfg: set_net("autoencoder")(train_autoencoder(module.autoencoder, tr, val, cfg, generator=gen(),
                                                                 progress=False)[0]),
            module.autoencoder, set_net("autoencoder"), lambda m: m.loss, tr)
    z_tr, z_val = data.split(fit_latent_scale(module, data, progress=False))
    # diffusion
    T = module.diffusion.n_timesteps
    g = torch.Generator().manual_seed(seed)

    def diff_loss(m):
        def loss_fn(z0):
            t = torch.randint(0, T, (len(z0),), generator=g)
            return module.diffusion.training_loss(m, z0, t, torch.randn(z0.shape, generator=g))
        return loss_fn

    measure("diffusion", cfgs["diffusion"],
            lambda cfg: set_net("denoiser")(train_denoiser(module.denoiser, module.diffusion, z_tr, z_val, cfg,
                                                           generator=gen(), validation_generator=vgen(1),
                                                           progress=False)[0]),
            module.denoiser, set_net("denoiser"), diff_loss, (z_tr,))
    # classifier
    y_tr, y_val = data.split(data.labels[key])
    n_classes = model.registries[key].n_classes

    def clf_loss(m):
        def loss_fn(z0, y0):
            t = torch.randint(0, T // 2, (len(z0),), generator=g)
            x_t = module.diffusion.q_sample(z0, t, torch.randn(z0.shape, generator=g))
            return F.cross_entropy(m(x_t, t), y0)
        return loss_fn

    def set_clf(m):
        module.classifiers[key] = m

    measure(f"classifier:{key}", cfgs["classifier"],
            lambda cfg: set_clf(train_classifier(module.classifiers[key], module.diffusion, z_tr, y_tr, z_val, y_val,
                                                 n_classes, cfg, generator=gen(), validation_generator=vgen(2),
                                                 progress=False)[0]),
            module.classifiers[key], set_clf, clf_loss, (z_tr, y_tr))
    return out


def time_to_loss(history: dict) -> dict:
    out = {}
    for stage, target in TARGETS.items():
        h = history.get(stage)
        if h is None:
            continue
        hit = [(s, t, v) for s, t, v in zip(h["step"], h["time"], h["val_loss"]) if v is not None and v <= target]
        out[stage] = {"target_val_loss": target, "best_val_loss": h.get("best_loss"),
                      "steps_run": h.get("n_steps"), "seconds_run": h.get("seconds"),
                      "reached": bool(hit), "step": hit[0][0] if hit else None,
                      "seconds": round(hit[0][1], 1) if hit else None,
                      "curve": [[s, round(t, 1), round(v, 4)] for s, t, v in zip(h["step"], h["time"], h["val_loss"])
                                if v is not None]}
        print(stage, {k: v for k, v in out[stage].items() if k != "curve"}, flush=True)
    return out


def main(argv=None) -> dict:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="steps per overhead measurement (default 300; 30 quick)")
    args = C.finish_args(p.parse_args(argv), NAME)
    t_begin = time.perf_counter()
    import torch

    from scdiffusion import ScDiffusion

    n_steps = args.steps or (30 if args.quick else 300)
    train, _ = C.pbmc_split(args.seed)
    kw = {"likelihood": "nb", "seed": args.seed, "device": "cpu"}
    if args.quick:
        kw.update(hidden=(128, 128), n_latent=16)
    model = ScDiffusion(train, labels_keys=[C.PBMC_LABELS], **kw)
    over = overhead(model, n_steps, args.seed)

    model = ScDiffusion(train, labels_keys=[C.PBMC_LABELS], **kw)
    t0 = time.perf_counter()
    if args.quick:
        model.train(progress=False, autoencoder={"max_steps": 100}, diffusion={"max_steps": 200},
                    classifier={"max_steps": 100})
    else:
        model.train(progress=False)
    ttl = time_to_loss(model.history)
    out = {"meta": C.meta(args, t_begin, data="scanpy pbmc68k_reduced exact counts, 80 % training split "
                          "stratified by bulk_labels", n_cells=int(train.n_obs), n_genes=len(model.genes),
                          model_kwargs={k: v for k, v in kw.items() if k != "device"},
                          torch_threads=torch.get_num_threads(),
                          full_training_seconds=round(time.perf_counter() - t0, 1)),
           "overhead": over, "time_to_loss": ttl}
    path = C.write_json(args, out)
    print(f"Wrote {path}", flush=True)
    return out


if __name__ == "__main__":
    main()
