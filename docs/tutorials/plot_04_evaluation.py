"""
Evaluation and its report
=========================

Compare generated with real cells on the metric suite, each metric judged against a real-vs-real control,
and write the report: ``metrics.json``, PNG figures and ``report.md``.

This tutorial loads the small model trained in :doc:`plot_01_quickstart` (a short training, for a fast
build; default training runs until early stopping), and compares with the cells it was trained on. For an
honest figure of realism compare with held-out cells, as ``scdiffusion quickstart`` does.
"""

# %%
from pathlib import Path

import matplotlib.pyplot as plt

import scdiffusion
from scdiffusion.datasets import pbmc68k_counts
from scdiffusion.evaluation import results_table, write_report

adata = pbmc68k_counts()
model = scdiffusion.ScDiffusion.load(Path("../_build/tutorial-cache/pbmc_model"))
real = adata[:, model.genes].copy()

# %%
# Generate cells with the real cells' label composition, so that a difference in composition is not
# counted as a difference in realism.
generated = model.generate(real.n_obs, condition={"bulk_labels": real.obs["bulk_labels"].astype(str).to_numpy()},
                           seed=0, progress=False)

# %%
# ``write_report`` runs :func:`scdiffusion.evaluation.evaluate` and writes the report folder atomically.
# ``quick=True`` leaves out the slowest parts (the UMAP among them) and, for a fast build, the comparison uses
# at most 300 cells per side and 20 principal components; the report says what was left out.
report = write_report(real, generated, Path("../_build/tutorial-cache/report"), labels_key="bulk_labels",
                      quick=True, overwrite=True, seed=0, max_cells=300, n_comps=20, use_celltypist=False)
print(sorted(p.name for p in report.iterdir()))

# %%
# The numbers, one row per metric, from the stored ``metrics.json``:
import json

table = results_table(json.loads((report / "metrics.json").read_text()))
print(table[["value", "matched", "control", "pass", "better"]].to_string())

# %%
# The report's text (Markdown), first lines:
print("\n".join((report / "report.md").read_text().splitlines()[:40]))

# %%
# One of its figures:
png = sorted(report.glob("*.png"))[0]
fig, ax = plt.subplots(figsize=(8, 6))
ax.imshow(plt.imread(png))
ax.set_title(png.name)
ax.axis("off")
fig.tight_layout()
