"""Experiment T2: two-ended interpolation with distinct optimal-transport pairs instead of pairs drawn with
replacement — ``trajectory.py`` (or ``hsmm_trajectory.py``) re-run with the package's pairing swapped.

The package draws its ``n_cells`` (start, end) pairs from the exact OT coupling *with replacement*: with equal
cloud sizes the coupling is a permutation, and drawing half as many pairs as cells repeats about a fifth of them
(each repeat gets its own noise, so the cells differ, but they share both end points). The candidate draws
distinct pairs while the coupling has enough (``n_cells`` ≤ its support), then the rest with replacement.
Everything else — models (the benchmark's cache: same data, code and budgets), cells, PCA, scoring — is the
benchmark's, so the rows compare with the benchmark's own run at the same settings.

    OMP_NUM_THREADS=1 python benchmarks/two_ended_pairing.py trajectory --default-budgets --no-continuous \
        --methods two-ended --output-dir benchmarks/results/two_ended_pairing/trajectory
"""

from __future__ import annotations

import _common as C  # noqa: F401  (pins threads before numpy/torch)

import sys

import numpy as np
import torch


def distinct_ot_pairs(za: torch.Tensor, zb: torch.Tensor, n_pairs: int, generator: torch.Generator,
                      max_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The package's ``ot_pairs`` with distinct pairs: ``min(n_pairs, support)`` pairs drawn without replacement
    with the coupling's masses (Efraimidis–Spirakis keys from ``generator``), the rest with replacement."""
    import ot

    from scdiffusion.diffusion import pairing

    ia, ib = (pairing._subsample(len(z), max_points or pairing.MAX_OT_POINTS, generator) for z in (za, zb))
    xa, xb = za[ia].double().numpy(), zb[ib].double().numpy()
    coupling = ot.emd(np.full(len(xa), 1.0 / len(xa)), np.full(len(xb), 1.0 / len(xb)),
                      ot.dist(xa, xb, metric="sqeuclidean"), numItermax=10_000_000)
    support = np.flatnonzero(coupling > 0)
    mass = torch.from_numpy(coupling.ravel()[support])
    n_distinct = min(n_pairs, len(support))
    keys = torch.rand(len(support), generator=generator, dtype=torch.float64) ** (1.0 / mass)
    first = support[torch.topk(keys, n_distinct).indices.numpy()]
    rest = support[torch.multinomial(mass, n_pairs - n_distinct, replacement=True, generator=generator).numpy()] \
        if n_pairs > n_distinct else np.empty(0, dtype=np.int64)
    draws = np.concatenate([first, rest])
    return ia[draws // len(xb)], ib[draws % len(xb)]


def main() -> None:
    bench, argv = sys.argv[1], sys.argv[2:]
    import scdiffusion.model.two_ended as two_ended

    two_ended.ot_pairs = distinct_ot_pairs
    module = __import__(bench)
    sys.argv = [f"benchmarks/{bench}.py (two_ended_pairing: distinct OT pairs)", *argv]
    module.main(argv)


if __name__ == "__main__":
    main()
