"""
Quickstart: train, generate, look at the result
===============================================

Train scDiffusion on the PBMC data bundled with scanpy, generate cells of one cell type, and compare them
with real cells.

.. note::
   To keep this site's build fast, the model here trains for a few hundred steps per stage
   (``max_steps``). By default, ``model.train()`` runs every stage until its validation loss stops improving
   (early stopping on a 10 % validation split, minutes on a CPU for these 700 cells; ``max_time=`` caps the
   wall time), which gives clearly more realistic cells. ``bash scripts/setup.sh`` runs the full-length
   quickstart (``scdiffusion quickstart``) and prints realism figures against held-out cells.
"""

# %%
# The data: 700 PBMCs with raw integer counts in ``X`` and two label columns, ``bulk_labels`` (10 cell types)
# and ``phase`` (cell cycle).
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import scdiffusion
from scdiffusion.datasets import pbmc68k_counts

adata = pbmc68k_counts()
print(adata)
print(adata.obs["bulk_labels"].value_counts())

# %%
# Set up a model with classifiers (and classifier-free conditioning) on both label columns, and train it.
# ``seed`` and a fixed thread count make training repeat exactly on the same machine.
model = scdiffusion.ScDiffusion(adata, labels_keys=["bulk_labels", "phase"], seed=0)
model.train(max_steps={"autoencoder": 300, "diffusion": 600, "classifier": 200}, progress=False)
for stage, h in model.history.items():
    print(f"{stage:12s} {h['n_steps']:4d} steps, best validation loss {h['best_loss']:.4f}")

# %%
# Save the model (a folder: weights as safetensors, genes, labels and settings); the next tutorials load it.
CACHE = Path("../_build/tutorial-cache")
CACHE.mkdir(parents=True, exist_ok=True)
model.save(CACHE / "pbmc_model", overwrite=True)

# %%
# Generate 200 B cells. The result is an AnnData over the model's genes: log-normalised expression in
# ``X`` (``log1p(normalize_total(1e4))``), the condition in ``obs``, the latents in ``obsm`` and every
# parameter in ``uns["scdiffusion"]``.
b_cells = model.generate(200, condition={"bulk_labels": "CD19+ B"}, seed=0, progress=False)
print(b_cells)
print(b_cells.obs.head())

# %%
# Look at the result: a PCA fitted on the real cells (log-normalised alike with the model's own
# preprocessing), with the generated B cells projected onto it.
from sklearn.decomposition import PCA

real = model.preprocessor.transform(adata)
pca = PCA(n_components=2, random_state=0).fit(real)
pr, pg = pca.transform(real), pca.transform(np.asarray(b_cells.X))
is_b = (adata.obs["bulk_labels"] == "CD19+ B").to_numpy()
fig, ax = plt.subplots(figsize=(6, 4.5))
ax.scatter(*pr[~is_b].T, s=6, c="lightgrey", label="real, other types")
ax.scatter(*pr[is_b].T, s=10, c="tab:blue", label="real CD19+ B")
ax.scatter(*pg.T, s=10, c="tab:orange", marker="^", label="generated CD19+ B")
ax.set_xlabel("PC 1")
ax.set_ylabel("PC 2")
ax.legend(frameon=False, fontsize=8)
fig.tight_layout()
