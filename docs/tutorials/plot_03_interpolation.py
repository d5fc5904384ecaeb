"""
Gradient Interpolation between two cell types
=============================================

Start from real cells of one label, noise them part of the way and denoise them with guidance weights that
move from the start label to the end label over several states.

This tutorial loads the small model trained in :doc:`plot_01_quickstart` (a short training, for a fast
build; default training runs until early stopping).
"""

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

import scdiffusion
from scdiffusion.datasets import pbmc68k_counts

adata = pbmc68k_counts()
model = scdiffusion.ScDiffusion.load(Path("../_build/tutorial-cache/pbmc_model"))

# %%
# Real ``CD14+ Monocyte`` cells are diffused to step ``t_start = 600`` of 1000, then each of five states
# denoises the same noised cells with classifier weights ``(γ(1 - w), γ w)`` on (start, end),
# ``w = 0, 0.25, ..., 1`` (``guidance_scale`` γ, default 2).
path = model.interpolate(adata, "bulk_labels", "CD14+ Monocyte", "Dendritic", n_states=5, n_cells=60,
                         t_start=600, seed=0, progress=False)
print(path)
print(path.obs[["interpolation_state", "weight_start", "weight_end"]].drop_duplicates())

# %%
# Where the states lie, in a PCA of the real cells of both types (each state's mean joined by a line), and how
# the model's classifier labels them.
real = model.preprocessor.transform(adata)
labels = adata.obs["bulk_labels"].astype(str).to_numpy()
two = np.isin(labels, ["CD14+ Monocyte", "Dendritic"])
pca = PCA(n_components=2, random_state=0).fit(real[two])
pr, pp = pca.transform(real), pca.transform(np.asarray(path.X))
state = path.obs["interpolation_state"].to_numpy()
states = np.unique(state)
centres = np.array([pp[state == s].mean(axis=0) for s in states])
called = model.predict_labels(path, "bulk_labels", log_normalized=True)

fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
for label, colour in [("CD14+ Monocyte", "tab:blue"), ("Dendritic", "tab:red")]:
    ax.scatter(*pr[labels == label].T, s=6, c=colour, alpha=0.3, label=f"real {label}")
sc = ax.scatter(*pp.T, s=8, c=state, cmap="viridis", marker="^", alpha=0.5)
ax.plot(*centres.T, "k-", lw=1)
ax.scatter(*centres.T, s=80, c=states, cmap="viridis", edgecolors="k", zorder=3)
fig.colorbar(sc, ax=ax, label="interpolation state (large: mean of each state)")
ax.set_xlabel("PC 1")
ax.set_ylabel("PC 2")
ax.legend(frameon=False, fontsize=8)
bx.plot(states, [np.mean(called[state == s] == "Dendritic") for s in states], "o-")
bx.set_xlabel("interpolation state")
bx.set_ylabel("called Dendritic by the model's classifier")
bx.set_ylim(-0.05, 1.05)
fig.tight_layout()
