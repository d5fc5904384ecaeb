"""Differential-expression fidelity: do generated cells reproduce the real cells' DE results?

For every label against the rest (and for chosen label pairs) the same analysis runs on the real and on the
generated cells: a Wilcoxon rank-sum test (``scanpy.tl.rank_genes_groups``, Benjamini-Hochberg adjusted) and
Seurat's average log2 fold change ``log2(mean(expm1(x_group)) + 1) - log2(mean(expm1(x_rest)) + 1)`` on
log1p-normalised expression. The two results are then compared:

* ``lfc_correlation``: Pearson correlation of the genes' log fold changes;
* ``top{k}_recall``: share of the real top-k markers (genes ranked by the Wilcoxon score, up-regulated) that
  are also among the generated top-k; with two lists of k genes the Jaccard index is ``recall / (2 - recall)``
  and is reported alongside;
* ``sign_agreement``: among genes significant in the real cells (adjusted p < ``alpha``), the share whose
  generated log fold change has the same sign.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from ._utils import TooFewCells, label_groups, weighted_mean

if TYPE_CHECKING:  # pandas is imported where a table is built
    import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["de_measures", "avg_log2_fold_change", "wilcoxon_test", "contrast_agreement",
           "compare_differential_expression", "fold_change_table"]

#: Default k of the top-k marker overlaps.
TOP_K: tuple[int, ...] = (20, 50, 100)


def de_measures(top_k: Sequence[int] = TOP_K) -> dict[str, str]:
    """Names and descriptions of the per-contrast measures for the given ``top_k``."""
    out = {"lfc_correlation": "Pearson correlation of log2 fold changes (label vs rest), real vs generated"}
    out.update({f"top{k}_recall": f"Share of the real top-{k} markers among the generated top-{k} (Wilcoxon)"
                for k in top_k})
    out["sign_agreement"] = "Share of real DE genes (adj. p < 0.05) whose generated fold change has the same sign"
    return out


def avg_log2_fold_change(log_x: np.ndarray, in_group: np.ndarray, in_reference: np.ndarray) -> np.ndarray:
    """Seurat's ``avg_log2FC`` of every gene: group vs reference, from log1p-normalised expression.

    Parameters
    ----------
    log_x
        log1p-normalised expression, cells x genes.
    in_group, in_reference
        Boolean masks (or indices) of the two groups of cells.

    Returns
    -------
    numpy.ndarray
        ``log2(mean(expm1(x_group)) + 1) - log2(mean(expm1(x_ref)) + 1)`` per gene.
    """
    x = np.asarray(log_x, dtype=np.float64)
    g = np.expm1(x[in_group]).mean(axis=0)
    r = np.expm1(x[in_reference]).mean(axis=0)
    return np.log2(g + 1.0) - np.log2(r + 1.0)


def wilcoxon_test(log_x: np.ndarray, labels: np.ndarray, groups: Sequence[str],
                  reference: str = "rest") -> dict[str, dict[str, np.ndarray]]:
    """Wilcoxon rank-sum test of each group against ``reference`` with scanpy, per gene in column order.

    Returns
    -------
    dict
        ``{group: {"score": z-scores, "pval_adj": BH-adjusted p-values}}``, arrays over the genes.
    """
    import anndata as ad
    import pandas as pd
    import scanpy as sc

    n_genes = log_x.shape[1]
    adata = ad.AnnData(np.asarray(log_x, dtype=np.float32),
                       obs=pd.DataFrame({"label": pd.Categorical(np.asarray(labels).astype(str))},
                                        index=[f"c{i}" for i in range(log_x.shape[0])]),
                       var=pd.DataFrame(index=[str(i) for i in range(n_genes)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.rank_genes_groups(adata, "label", groups=list(groups), reference=reference, method="wilcoxon",
                                n_genes=n_genes, use_raw=False, tie_correct=True)
    res = adata.uns["rank_genes_groups"]
    out = {}
    for grp in groups:
        idx = np.asarray(res["names"][grp]).astype(int)
        score, padj = np.empty(n_genes), np.empty(n_genes)
        score[idx] = np.asarray(res["scores"][grp], dtype=np.float64)
        padj[idx] = np.asarray(res["pvals_adj"][grp], dtype=np.float64)
        out[str(grp)] = {"score": score, "pval_adj": padj}
    return out


def _top(score: np.ndarray, k: int) -> set[int]:
    return set(np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")[:k].tolist())


def contrast_agreement(real: dict[str, np.ndarray], generated: dict[str, np.ndarray],
                       top_k: Sequence[int] = TOP_K, alpha: float = 0.05) -> dict[str, Any]:
    """Compare the DE results of one contrast.

    Parameters
    ----------
    real, generated
        ``{"lfc", "score", "pval_adj"}`` arrays over the same genes.
    top_k
        Sizes of the marker lists.
    alpha
        Significance level for the sign agreement.

    Returns
    -------
    dict
        ``lfc_correlation``, ``top{k}_recall`` and ``top{k}_jaccard`` for each k, ``sign_agreement`` (``None``
        without real DE genes) and ``n_real_de_genes``.
    """
    a, b = real["lfc"], generated["lfc"]
    ok = np.isfinite(a) & np.isfinite(b)
    corr = None
    if ok.sum() >= 3 and np.std(a[ok]) > 0 and np.std(b[ok]) > 0:
        corr = float(np.corrcoef(a[ok], b[ok])[0, 1])
    out: dict[str, Any] = {"lfc_correlation": corr}
    for k in top_k:
        kk = min(int(k), a.size)
        shared = len(_top(real["score"], kk) & _top(generated["score"], kk))
        out[f"top{k}_recall"] = shared / kk
        out[f"top{k}_jaccard"] = shared / (2 * kk - shared)
    de = real["pval_adj"] < alpha
    out["n_real_de_genes"] = int(de.sum())
    out["sign_agreement"] = float(np.mean(np.sign(b[de]) == np.sign(a[de]))) if de.any() else None
    return out


def _contrasts(log_x: np.ndarray, labels: np.ndarray, groups: list[str],
               pairs: Sequence[tuple[str, str]]) -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for grp, res in wilcoxon_test(log_x, labels, groups).items():
        res["lfc"] = avg_log2_fold_change(log_x, labels == grp, labels != grp)
        out[grp] = res
    for a, b in pairs:
        keep = (labels == a) | (labels == b)
        res = wilcoxon_test(log_x[keep], labels[keep], [a], reference=b)[a]
        res["lfc"] = avg_log2_fold_change(log_x, labels == a, labels == b)
        out[f"{a} vs {b}"] = res
    return out


def compare_differential_expression(
    real_log: np.ndarray,
    gen_log: np.ndarray,
    real_labels: np.ndarray,
    gen_labels: np.ndarray,
    *,
    top_k: Sequence[int] = TOP_K,
    pairs: Sequence[tuple[str, str]] | None = None,
    min_cells: int = 10,
    alpha: float = 0.05,
    labels_to_score: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """DE fidelity of generated cells, per label (vs the rest) and per chosen pair of labels.

    Parameters
    ----------
    real_log, gen_log
        log1p-normalised expression, cells x genes, same genes.
    real_labels, gen_labels
        One label per cell (for generated cells: the label they were generated for).
    top_k
        Sizes of the marker lists compared.
    pairs
        Extra contrasts ``(label_a, label_b)`` (a vs b); both labels need ``min_cells`` cells on both sides.
    min_cells, labels_to_score
        Labels with fewer real or generated cells are not tested; ``labels_to_score`` restricts the tested
        labels (as in :func:`~scdiffusion.metrics.count_properties.compare_count_properties`).
    alpha
        Significance level defining the real DE genes for the sign agreement.

    Returns
    -------
    dict
        ``{measure: {"value", "per_label": {label: {...}}, "per_pair": {"a vs b": {...}},
        "skipped_labels"}}`` for the measures of :func:`de_measures`; ``value`` is the mean over labels
        weighted by their share of the real cells (pairs are reported, not averaged in).

    Raises
    ------
    TooFewCells
        If fewer than two labels have ``min_cells`` cells on both sides.
    ValueError
        If a pair names a label without enough cells.
    """
    rl, gl = np.asarray(real_labels).astype(str), np.asarray(gen_labels).astype(str)
    groups, skipped = label_groups(rl, gl, max(2, min_cells), len(rl), len(gl),
                                  only=labels_to_score)
    names = [g[0] for g in groups]
    if len(names) < 2:
        raise TooFewCells(f"differential expression needs at least two labels with {min_cells} real and "
                          f"generated cells each; found {names or 'none'}. Generate more cells per label")
    pairs = [(str(a), str(b)) for a, b in (pairs or [])]
    bad = [p for p in pairs if p[0] not in names or p[1] not in names or p[0] == p[1]]
    if bad:
        raise InputError(f"DE pairs {bad} need two different labels among those with enough cells: {names}.")
    real_res = _contrasts(np.asarray(real_log), rl, names, pairs)
    gen_res = _contrasts(np.asarray(gen_log), gl, names, pairs)
    per = {c: contrast_agreement(real_res[c], gen_res[c], top_k, alpha) for c in real_res}
    weights = {g[0]: g[3] for g in groups}
    out = {}
    jaccard_of = {f"top{k}_recall": f"top{k}_jaccard" for k in top_k}
    for measure in de_measures(top_k):
        extra = [jaccard_of[measure]] if measure in jaccard_of else []
        fields = [measure, *extra, "n_real_de_genes"]
        out[measure] = {
            "value": weighted_mean([per[n][measure] for n in names], [weights[n] for n in names]),
            "per_label": {n: {f: per[n][f] for f in fields} | {"weight": weights[n]} for n in names},
            "per_pair": {f"{a} vs {b}": {f: per[f"{a} vs {b}"][f] for f in fields} for a, b in pairs},
            "skipped_labels": skipped,
        }
        if extra:
            out[measure]["jaccard"] = weighted_mean([per[n][extra[0]] for n in names],
                                                    [weights[n] for n in names])
    return out


def fold_change_table(real_log: np.ndarray, gen_log: np.ndarray, real_labels: np.ndarray, gen_labels: np.ndarray,
                      gene_names: Sequence[str] | None = None, min_cells: int = 10) -> pd.DataFrame:
    """Log2 fold changes (label vs rest) of every gene on both sides, in long format (for scatter plots).

    Returns
    -------
    pandas.DataFrame
        Columns ``label``, ``gene``, ``lfc_real``, ``lfc_generated``; labels with at least ``min_cells``
        real and generated cells.
    """
    import pandas as pd

    rl, gl = np.asarray(real_labels).astype(str), np.asarray(gen_labels).astype(str)
    groups, _ = label_groups(rl, gl, max(2, min_cells), len(rl), len(gl))
    genes = np.asarray(gene_names if gene_names is not None else np.arange(real_log.shape[1])).astype(str)
    frames = []
    for label, _, _, _ in groups:
        if not (rl != label).any() or not (gl != label).any():
            continue  # no "rest" to compare with
        frames.append(pd.DataFrame({
            "label": label, "gene": genes,
            "lfc_real": avg_log2_fold_change(real_log, rl == label, rl != label),
            "lfc_generated": avg_log2_fold_change(gen_log, gl == label, gl != label)}))
    cols = ["label", "gene", "lfc_real", "lfc_generated"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
