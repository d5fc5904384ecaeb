"""Shared helpers of the scDiffusion benchmarks (argument parsing, data, training, baselines, output).

Every benchmark script imports this module first: it pins the BLAS/OpenMP/torch thread counts (default 1,
override with ``OMP_NUM_THREADS``) before numpy or torch are imported, because oversubscribed threads on a
small shared CPU make torch many times slower.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("OMP_NUM_THREADS", "1"))

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import anndata as ad  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
#: Trained models are cached here (git-ignored) so that benchmarks sharing a configuration train once.
MODEL_CACHE = RESULTS / "tmp" / "models"
MACHINE = os.environ.get("SCDIFFUSION_BENCH_MACHINE", "2-core CPU, shared")
PBMC_LABELS = "bulk_labels"

logger = logging.getLogger("benchmarks")
warnings.filterwarnings("ignore", category=FutureWarning)

#: The optional packages of the benchmarks (the ``bench`` extra of pyproject.toml) and what each one is for.
BENCH_PACKAGES = {"scvi": "scvi-tools (the scVI baseline)", "celltypist": "celltypist (the CellTypist annotator)",
                  "pyreadr": "pyreadr (reads the HSMM .rda files without R)"}
BENCH_INSTALL = "bash scripts/install.sh bench   (or: pip install -e '.[bench]')"


# ---------------------------------------------------------------------------------------------- arguments
def parser(description: str, *, full_time: float = 480.0, full_steps: int = 100) -> argparse.ArgumentParser:
    """Arguments shared by all benchmarks."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="tiny budgets (training ~20 s, few cells, few sampling steps): a < 60 s smoke test")
    p.add_argument("--output-dir", default=None,
                   help="where to write results (default benchmarks/results/<name>/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-time", type=float, default=None,
                   help=f"training wall-time budget in seconds (default {full_time:g}; 20 with --quick)")
    from scdiffusion.diffusion.samplers import SAMPLERS, describe_samplers
    from scdiffusion.options import GENERATE

    p.add_argument("--sampler", choices=list(SAMPLERS), default=GENERATE.defaults.sampler, help=describe_samplers())
    p.add_argument("--n-steps", type=int, default=None,
                   help="sampling steps (default: the sampler's own: 25 for dpmpp-sde/dpmpp, 1000 for ddpm, "
                        f"{full_steps} for ddim)")
    p.add_argument("--default-budgets", action="store_true",
                   help="train with the package's default step budgets and early stopping instead of --max-time: "
                        "the rows repeat exactly on the same machine and thread count")
    p.add_argument("--no-cache", action="store_true",
                   help=f"always train a fresh model (default: reuse one cached in {MODEL_CACHE.relative_to(REPO)})")
    p.set_defaults(_full_time=full_time, _full_steps=full_steps)
    return p


def add_model_kwargs(p: argparse.ArgumentParser) -> None:
    """``--model-kwargs``: extra ``ScDiffusion(...)`` arguments for :func:`train_model` (part of the cache key)."""
    p.add_argument("--model-kwargs", dest="extra_model_kwargs", type=_json_object, default={},
                   help='JSON of extra ScDiffusion(...) arguments, e.g. \'{"hidden": [256, 256, 256]}\'')


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON ({e}); give an object such as "
                                         "'{\"hidden\": [256, 256]}'") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("give a JSON object such as '{\"hidden\": [256, 256]}'")
    return value


def finish_args(args: argparse.Namespace, name: str) -> argparse.Namespace:
    """Fill defaults that depend on ``--quick`` and create the output folder."""
    if args.max_time is None:
        args.max_time = 20.0 if args.quick else args._full_time
    if args.n_steps is None and args.sampler == "ddim":
        args.n_steps = args._full_steps
    args.name = name
    args.output_dir = Path(args.output_dir) if args.output_dir else RESULTS / name
    args.output_dir.mkdir(parents=True, exist_ok=True)
    args.command = " ".join(["python", shlex.quote(os.path.relpath(sys.argv[0], REPO))] +
                            [shlex.quote(a) for a in sys.argv[1:]])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("scdiffusion", "lightning", "pytorch_lightning", "scvi", "celltypist", "numba", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    return args


def require_bench(args: argparse.Namespace, *modules: str) -> list[str]:
    """Check that the optional packages this benchmark uses (keys of ``BENCH_PACKAGES``) are installed.

    A full run stops with how to install them, since its results would silently lack their rows; a ``--quick``
    run (a smoke test, as in ``scripts/test.sh``) goes on without them. Returns the missing modules.
    """
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return []
    what = ", ".join(BENCH_PACKAGES[m] for m in missing)
    if not args.quick:
        raise SystemExit(f"{args.name}: not installed: {what}. These come with the benchmark extra: {BENCH_INSTALL}. "
                         "(--quick runs without them.)")
    logger.warning("--quick without %s; their rows are skipped (install: %s)", what, BENCH_INSTALL)
    return missing


def t_start_used(t_start: int | None, methods: list[str]) -> int | dict[str, int]:
    """The interpolation's ``t_start``: the one given, or each method's default (``{method: t_start}``)."""
    if t_start is not None:
        return t_start
    from scdiffusion.model.interpolation import T_START

    return {m: T_START[m] for m in methods if m in T_START}


def sampling(args) -> dict[str, Any]:
    """Keyword arguments for ``generate`` / ``interpolate`` (``n_steps=None``: the sampler's default)."""
    return {"sampler": args.sampler, "n_steps": args.n_steps}


def sampler_name(args, adata: ad.AnnData | None = None) -> str:
    """E.g. ``"dpmpp-sde 25"``: the sampler and the steps it ran (read from generated cells when given)."""
    steps = args.n_steps
    if adata is not None and "scdiffusion" in adata.uns:
        steps = int(adata.uns["scdiffusion"]["n_steps"])
    return f"{args.sampler} {steps if steps is not None else '(default steps)'}"


# ---------------------------------------------------------------------------------------------- data
def pbmc_split(seed: int, test_fraction: float = 0.2) -> tuple[ad.AnnData, ad.AnnData]:
    """PBMC68k-reduced exact counts, split 80/20 stratified by ``bulk_labels``."""
    from scdiffusion.data.split import stratified_split
    from scdiffusion.datasets import pbmc68k_counts

    pbmc = pbmc68k_counts()
    tr, te = stratified_split(pbmc.obs[PBMC_LABELS].astype(str).to_numpy(), test_fraction, seed)
    return pbmc[tr].copy(), pbmc[te].copy()


def log_norm(model, adata: ad.AnnData) -> ad.AnnData:
    """Real counts → log-normalised AnnData over the model's genes (obs kept)."""
    x = model.preprocessor.transform(adata)
    return ad.AnnData(X=np.asarray(x, dtype=np.float32), obs=adata.obs.copy(),
                      var=pd.DataFrame(index=pd.Index(model.genes)))


# ---------------------------------------------------------------------------------------------- model
def source_digest(package_dir: str | os.PathLike) -> str:
    """SHA-256 of every file of a package folder (relative paths and contents; byte-code caches left out).

    Content, not git: it covers uncommitted edits and works in an unpacked copy without ``.git``.
    """
    import hashlib

    root = Path(package_dir)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                    and p.suffix not in (".pyc", ".pyo")):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def code_version() -> dict[str, str]:
    """What a trained model depends on besides its settings: the package's version and sources, and torch's version.

    Part of the model cache key (:func:`model_cache_key`), so that a code change never reuses a stale model.
    """
    import torch

    import scdiffusion

    return {"scdiffusion": scdiffusion.__version__, "torch": torch.__version__,
            "source_sha256": source_digest(Path(scdiffusion.__file__).parent)}


def model_cache_key(cache_key: str, args, model_kwargs: dict[str, Any]) -> str:
    """Folder name of a cached model: data set, decoder, settings and code version, seed and time budget."""
    import hashlib

    from scdiffusion.options import TRAIN

    # package defaults unless the caller chooses (e.g. likelihood="mse", the paper's decoder); the key holds the
    # decoder and a hash of every training default and option, so a changed default trains afresh, and a hash of
    # the code version (package version, every source file, torch version), so a code change trains afresh too
    settings = json.dumps({**vars(TRAIN.defaults), **model_kwargs}, sort_keys=True, default=str)
    digest = hashlib.sha256(settings.encode()).hexdigest()[:8]
    code = hashlib.sha256(json.dumps(code_version(), sort_keys=True).encode()).hexdigest()[:8]
    budget = "steps" if getattr(args, "default_budgets", False) else f"t{int(args.max_time)}"
    return (f"{cache_key}_{model_kwargs.get('likelihood', 'nb')}_{digest}_code{code}_seed{args.seed}"
            f"_{budget}")


def train_model(train: ad.AnnData, labels_keys: list[str], args, cache_key: str, **model_kwargs):
    """Train (or load the cached) scDiffusion model; returns ``(model, info)``.

    The cache key (:func:`model_cache_key`) includes the data set, label columns, settings, code version, seed
    and budget; ``--quick`` never uses the cache. Training with a wall-time budget is not bit-reproducible across
    machines (steps completed depend on speed); the number of steps of each stage is reported in ``info``.
    """
    from scdiffusion import ScDiffusion

    model_kwargs = {**model_kwargs, **getattr(args, "extra_model_kwargs", {})}  # --model-kwargs (add_model_kwargs)
    cache = MODEL_CACHE / model_cache_key(cache_key, args, model_kwargs)
    use_cache = not (args.quick or args.no_cache)
    t0 = time.perf_counter()
    if use_cache and (cache / "config.json").exists():
        model = ScDiffusion.load(cache, device="cpu")
        info = {"cached_model": str(cache.relative_to(REPO))}
        prev = cache / "bench_train_info.json"
        if prev.exists():
            info.update(json.loads(prev.read_text()))
        logger.info("Loaded cached model %s", cache)
    else:
        model = ScDiffusion(train, labels_keys=labels_keys, seed=args.seed, device="cpu", **model_kwargs)
        max_time = None if getattr(args, "default_budgets", False) else args.max_time
        logger.info("Training %s on %d cells x %d genes (%s) ...", labels_keys, train.n_obs, len(model.genes),
                    "default step budgets" if max_time is None else f"max_time {max_time:.0f} s")
        model.train(max_time=max_time, progress=False)
        info = {"train_seconds": round(time.perf_counter() - t0, 1), "max_time": max_time,
                "code_version": code_version(),
                "stages": {k: {"steps": v.get("n_steps"), "stopped": v.get("stopped"),
                               "best_val_loss": v.get("best_loss")} for k, v in model.history.items()}}
        if use_cache:
            model.save(cache, overwrite=True)
            (cache / "bench_train_info.json").write_text(json.dumps(info, indent=2))
        logger.info("Trained in %.0f s: %s", info["train_seconds"], info["stages"])
    info.update({"model_kwargs": model_kwargs, "labels_keys": labels_keys, "n_train_cells": int(train.n_obs),
                 "n_genes": len(model.genes), "seed": args.seed})
    return model, info


# ---------------------------------------------------------------------------------------------- baselines
def pca_gaussian(x_train: np.ndarray, labels: np.ndarray, n_cells: int, seed: int,
                 n_comps: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Per-label Gaussian in the 50-PC space of the training log data, sampled with the label proportions.

    Samples are mapped back to genes through the PCA loadings and clipped at 0. Labels with fewer cells than
    needed for a full covariance get a shrunk (Ledoit-Wolf) covariance.
    """
    from sklearn.covariance import LedoitWolf
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(seed)
    k = min(n_comps, x_train.shape[0] - 1, x_train.shape[1])
    pca = PCA(n_components=k, random_state=seed).fit(x_train)
    z = pca.transform(x_train)
    cats, counts = np.unique(labels, return_counts=True)
    n_per = rng.multinomial(n_cells, counts / counts.sum())
    out, out_lab = [], []
    for c, n in zip(cats, n_per):
        if n == 0:
            continue
        zc = z[labels == c]
        cov = LedoitWolf().fit(zc).covariance_ if len(zc) > 1 else np.eye(k) * 1e-6
        out.append(rng.multivariate_normal(zc.mean(0), cov, size=n, method="eigh"))
        out_lab.extend([c] * n)
    x = np.clip(pca.inverse_transform(np.vstack(out)), 0, None)
    return x.astype(np.float32), np.asarray(out_lab)


def log_to_counts(x_log: np.ndarray, labels: np.ndarray, train_counts: ad.AnnData, labels_key: str,
                  seed: int) -> np.ndarray:
    """Integer counts from log1p(CP10k) values: ``round(expm1(x) x L / 1e4)``, ``L`` the library size of a random
    training cell of the same label (how a log-scale generator's cells become counts for count-level metrics)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(train_counts.X.toarray() if hasattr(train_counts.X, "toarray") else train_counts.X)
    lib = x.sum(axis=1)
    train_labels = train_counts.obs[labels_key].astype(str).to_numpy()
    pick = np.array([rng.choice(np.flatnonzero(train_labels == lab)) for lab in labels])
    return np.round(np.expm1(x_log) * lib[pick][:, None] / 1e4).astype(np.float32)


def scvi_samples(train_counts: ad.AnnData, genes: list[str], labels_key: str, n_cells: int, seed: int,
                 max_epochs: int, max_time: float) -> tuple[ad.AnnData | None, dict]:
    """scVI posterior predictive samples (counts) of ``n_cells`` training cells drawn with replacement.

    Returns ``(None, {"skipped": reason})`` if scvi-tools is not installed or fails.
    """
    try:
        import scvi
    except Exception as err:  # noqa: BLE001
        return None, {"skipped": f"scvi-tools not importable ({type(err).__name__}: {err}); "
                                 f"install with {BENCH_INSTALL}"}
    import torch

    for noisy in ("lightning.pytorch", "lightning.fabric", "lightning", "pytorch_lightning", "scvi"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    t0 = time.perf_counter()
    try:
        scvi.settings.seed = seed
        scvi.settings.num_threads = int(os.environ["OMP_NUM_THREADS"])
        a = train_counts[:, genes].copy()
        scvi.model.SCVI.setup_anndata(a)
        vae = scvi.model.SCVI(a, n_latent=10)
        trainer_kw = {"max_time": {"seconds": int(max_time)}}
        vae.train(max_epochs=max_epochs, accelerator="cpu", devices=1, early_stopping=True,
                  enable_progress_bar=False, enable_checkpointing=False, **trainer_kw)
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        # one posterior predictive draw per training cell; more rounds of draws if more cells are wanted
        n_rounds = int(np.ceil(n_cells / a.n_obs))
        x = vae.posterior_predictive_sample(a, n_samples=n_rounds)
        x = np.asarray(x.todense() if hasattr(x, "todense") else x, dtype=np.float32)
        x = x.reshape(a.n_obs, len(genes), n_rounds).transpose(2, 0, 1).reshape(-1, len(genes))
        idx = rng.choice(x.shape[0], size=n_cells, replace=False)
        x = x[idx]
        idx = idx % a.n_obs
        out = ad.AnnData(X=x, obs=pd.DataFrame({labels_key: a.obs[labels_key].to_numpy()[idx]},
                                               index=[f"scvi_{i}" for i in range(len(idx))]),
                         var=pd.DataFrame(index=pd.Index(genes)))
        hist = vae.history.get("elbo_train")
        info = {"scvi_tools_version": scvi.__version__, "n_latent": 10,
                "epochs": int(len(hist)) if hist is not None else None,
                "train_seconds": round(time.perf_counter() - t0, 1), "max_epochs": max_epochs,
                "max_time_s": max_time}
        return out, info
    except Exception as err:  # noqa: BLE001
        logger.exception("scVI baseline failed")
        return None, {"skipped": f"scVI failed: {type(err).__name__}: {err}"}


# ---------------------------------------------------------------------------------------------- output
def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except Exception:  # noqa: BLE001
        return None


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GiB (``ru_maxrss``)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def cpu_description() -> dict[str, str]:
    """The processor and the instruction set torch's CPU kernels use: float results (and so trained weights)
    repeat exactly only on the same processor kind and thread count, so rows from two machines may differ in
    the last digits even at the same commit and seed."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), model)
    except OSError:
        pass
    return {"model": model, "torch_capability": str(torch.backends.cpu.get_cpu_capability())}


def meta(args, t_start: float, **extra) -> dict[str, Any]:
    import sklearn
    import torch

    import scdiffusion

    return {"benchmark": args.name, "command": args.command, "quick": bool(args.quick), "seed": args.seed,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": MACHINE,
            "cpu": cpu_description(), "threads": int(os.environ["OMP_NUM_THREADS"]),
            "total_seconds": round(time.perf_counter() - t_start, 1),
            "git_commit": _git_commit(), "versions": {
                "scdiffusion": scdiffusion.__version__, "torch": torch.__version__, "numpy": np.__version__,
                "scikit-learn": sklearn.__version__, "python": platform.python_version()},
            "generation": sampling(args), **extra}


def write_json(args, data: dict) -> Path:
    from scdiffusion.metrics._utils import to_builtin

    path = args.output_dir / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(to_builtin(data), indent=2))
    os.replace(tmp, path)
    return path


def seed_stats(values: list) -> dict[str, Any]:
    """``{"mean", "sd", "per_seed"}`` of one measure over seeds (``per_seed`` as given)."""
    return {"mean": float(np.mean(values)), "sd": float(np.std(values)), "per_seed": list(values)}


def run_seeded_rows(argv, doc: str, name: str, run_seed, columns: list[str], data: str, title: str = "") -> dict:
    """``main`` of a model-free benchmark over seeds: ``--seeds`` (default 0 1 2, 0 with ``--quick``),
    ``run_seed(seed, args) -> {row: {column: value}}``, a table of the means and ``results.json`` (summary per row
    and column, per-seed rows)."""
    p = parser(doc.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (0 with --quick)")
    args = finish_args(p.parse_args(argv), name)
    args.seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    t_start = time.perf_counter()
    per_seed = {str(s): run_seed(s, args) for s in args.seeds}
    rows = list(next(iter(per_seed.values())))
    summary = {r: {c: seed_stats([s[r][c] for s in per_seed.values()]) for c in columns} for r in rows}
    table = print_table({r: {c: v[c]["mean"] for c in columns} for r, v in summary.items()}, columns,
                        f"{name}: {title + ', ' if title else ''}mean over seeds {args.seeds}")
    out = {"meta": meta(args, t_start, data=data, seeds=args.seeds, rows_note=doc),
           "summary": summary, "seeds": per_seed, "table": table}
    print(f"Wrote {write_json(args, out)}", flush=True)
    return out


def values(result: dict) -> dict[str, float | None]:
    """Flatten an :func:`scdiffusion.metrics.evaluate` result to ``{metric: value}``."""
    return {k: v.get("value") for k, v in result.items() if k != "meta" and isinstance(v, dict) and "value" in v}


def fmt(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) >= 10 ** -digits or v == 0 else f"{v:.1e}"
    return str(v)


def print_table(rows: dict[str, dict], columns: list[str], title: str = "") -> str:
    lines = [title] if title else []
    width = max(len(r) for r in rows) + 2
    lines.append(" " * width + "".join(f"{c[:14]:>15}" for c in columns))
    for name, vals in rows.items():
        lines.append(f"{name:<{width}}" + "".join(f"{fmt(vals.get(c)):>15}" for c in columns))
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def bar_figure(rows: dict[str, dict], columns: list[str], path: Path, title: str,
               ideals: dict[str, float] | None = None) -> Path:
    """One small bar panel per metric, one bar per row (NaN/None shown as missing)."""
    from scdiffusion.plotting._common import grid_shape, new_figure, save_png

    nr, nc = grid_shape(len(columns), max_cols=4)
    fig = new_figure(3.2 * nc, 2.6 * nr)
    names = list(rows)
    colors = [f"C{i}" for i in range(len(names))]
    for i, col in enumerate(columns):
        ax = fig.add_subplot(nr, nc, i + 1)
        vals = [rows[n].get(col) for n in names]
        ax.bar(range(len(names)), [np.nan if v is None else v for v in vals], color=colors)
        if ideals and col in ideals:
            ax.axhline(ideals[col], color="k", lw=0.8, ls="--")
        ax.set_title(col, fontsize=9)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=35, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)


# ---------------------------------------------------------------------------------------------- annotators
def annotator_kinds() -> tuple[list[str], str | None]:
    """Annotators available here, and why CellTypist is missing if it is."""
    try:
        import celltypist  # noqa: F401

        return ["celltypist", "logistic_regression"], None
    except Exception as err:  # noqa: BLE001
        return ["logistic_regression"], (f"celltypist not importable ({type(err).__name__}); fell back to "
                                         f"logistic regression only ({BENCH_INSTALL})")


def one_nn_sides(real: np.ndarray, gen: np.ndarray, seed: int = 0, n_comps: int = 50) -> dict[str, float]:
    """Leave-one-out 1-NN accuracy split by side (as in ``metrics.one_nn_accuracy``, same subsampling).

    An overall 0.5 can hide "generated cells are hubs": every generated cell's neighbour is generated
    (accuracy 1) while every real cell's neighbour is also generated (accuracy 0), e.g. for over-smooth samples.
    """
    from sklearn.neighbors import NearestNeighbors

    from scdiffusion.metrics._utils import make_rng, pooled_pca, subsample_rows, to_dense

    rng = make_rng(seed)
    r, g = to_dense(real), to_dense(gen)
    n = min(r.shape[0], g.shape[0], 5000)
    r, g = subsample_rows(r, n, rng), subsample_rows(g, n, rng)
    zr, zg = pooled_pca(r, g, n_comps=n_comps, seed=seed)
    x = np.vstack([zr, zg])
    y = np.r_[np.zeros(len(zr), int), np.ones(len(zg), int)]
    _, idx = NearestNeighbors(n_neighbors=2).fit(x).kneighbors(x)
    own = np.arange(len(x))
    nearest = np.where(idx[:, 0] == own, idx[:, 1], idx[:, 0])
    ok = y[nearest] == y
    return {"real_side": float(ok[y == 0].mean()), "generated_side": float(ok[y == 1].mean())}
