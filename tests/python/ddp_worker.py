"""Worker of test_distributed.py; runs alone or under ``torchrun`` and writes its results for the test.

Usage::

    python ddp_worker.py fit OUT.json                  # fit() on a small LayerNorm MLP with a draw_fn
    python ddp_worker.py model DATA.h5ad MODEL_DIR     # full ScDiffusion training, saved to MODEL_DIR
    python ddp_worker.py exit OUT_PREFIX               # whether the process group is gone when the process exits
    python ddp_worker.py threads OUT_PREFIX            # threads before and with the group, and after fit() + shutdown()
"""

import json
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

from scdiffusion.train import TrainConfig, distributed, fit  # noqa: E402


def run_fit(out: str) -> None:
    distributed.init_from_env()
    torch.manual_seed(0)
    x = torch.randn(300, 6, generator=torch.Generator().manual_seed(1))
    y = x @ torch.randn(6, 2, generator=torch.Generator().manual_seed(2))
    net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.LayerNorm(32), torch.nn.SiLU(), torch.nn.Linear(32, 2))

    def draw_fn(n, g):
        return (torch.randn(n, 2, generator=g),)

    def loss_fn(xb, yb, noise):
        return ((net(torch.cat([xb, noise], 1)) - yb) ** 2).mean()

    cfg = TrainConfig(max_steps=60, batch_size=63, lr=1e-2, eval_every=10, patience=0, ema_decay=0.9)
    model, hist = fit(net, loss_fn, (x, y), cfg, generator=torch.Generator().manual_seed(3), progress=False,
                      draw_fn=draw_fn)
    if distributed.is_main():
        weights = {k: v.flatten().tolist() for k, v in model.state_dict().items()}
        with open(out, "w") as fh:
            json.dump({"train_loss": hist["train_loss"], "weights": weights,
                       "world_size": distributed.world_size()}, fh)


def run_model(data: str, model_dir: str) -> None:
    from scdiffusion import ScDiffusion

    model = ScDiffusion(data, labels_keys=["cell_type"], n_latent=8, hidden=(32, 32), dropout=0.0,
                        input_dropout=0.0, seed=0, device="cpu")
    steps = {"max_steps": 40, "eval_every": 10, "patience": 0}
    model.train(progress=False, autoencoder=steps, diffusion={**steps, "batch_size": 64}, classifier=steps)
    model.save(model_dir)
    if distributed.is_main():
        with open(os.path.join(model_dir, "world_size.txt"), "w") as fh:
            fh.write(str(distributed.world_size()))


def run_exit(prefix: str) -> None:
    import atexit

    import torch.distributed as dist

    def record() -> None:  # registered first, so it runs after the handlers registered later
        with open(f"{prefix}.{os.environ['RANK']}", "w") as fh:
            fh.write(str(dist.is_initialized()))

    atexit.register(record)
    distributed.init_from_env()
    t = torch.ones(3)
    dist.all_reduce(t)
    assert t.tolist() == [2.0, 2.0, 2.0]


def run_threads(prefix: str) -> None:
    def n_threads() -> int:
        return len(os.listdir("/proc/self/task"))

    before = n_threads()
    distributed.init_from_env()
    with_group = n_threads()  # gloo's worker and I/O threads
    run_fit(f"{prefix}.fit.json")
    distributed.shutdown()
    with open(f"{prefix}.{os.environ['RANK']}", "w") as fh:
        json.dump({"before": before, "with_group": with_group, "after": n_threads()}, fh)


if __name__ == "__main__":
    if sys.argv[1] == "exit":
        run_exit(sys.argv[2])
    elif sys.argv[1] == "threads":
        run_threads(sys.argv[2])
    else:
        if sys.argv[1] == "fit":
            run_fit(sys.argv[2])
        else:
            run_model(sys.argv[2], sys.argv[3])
        # The exit path is the library's (its atexit shutdown): no os._exit here. Before the fix in
        # distributed.init_from_env, gloo's threads outlived destroy_process_group after fit() and could abort
        # a finished rank at interpreter finalisation (SIGABRT, 3 of 85 runs with two CPU hogs).
