"""One naming: one English spelling in the public API (old names deprecated for a release), and parameters that
take per-column values take them everywhere."""

from __future__ import annotations

import importlib
import inspect
import re

import numpy as np
import pytest
from click.testing import CliRunner

from scdiffusion.errors import InputError

PUBLIC_MODULES = ("scdiffusion", "scdiffusion.metrics", "scdiffusion.evaluation", "scdiffusion.plotting",
                  "scdiffusion.data", "scdiffusion.runtime", "scdiffusion.atomic")
DEPRECATED = {"to_log_normalised"}  # kept for one release, warns


def _public_names() -> set[str]:
    from scdiffusion import ScDiffusion

    names: set[str] = set()
    objects = [getattr(importlib.import_module(m), n) for m in PUBLIC_MODULES
               for n in getattr(importlib.import_module(m), "__all__", [])]
    objects += [f for _, f in inspect.getmembers(ScDiffusion, predicate=inspect.isfunction)]
    for obj in objects:
        names.add(getattr(obj, "__name__", ""))
        if callable(obj):
            try:
                names.update(inspect.signature(obj).parameters)
            except (TypeError, ValueError):
                pass
    return names - DEPRECATED


def test_the_public_api_spells_ize_not_ise():
    british = sorted(n for n in _public_names() if re.search(r"(?<!no)(is(e|ed|ing|ation|ations)|isable|our)(_|$)",
                                                            n.lower()))
    assert british == [], f"British spellings in the public API: {british} (the API spells -ize, -or)"


def test_the_old_spelling_still_works_for_one_release_and_warns(pbmc_small):
    from scdiffusion import metrics

    with pytest.warns(FutureWarning, match="to_log_normalized"):
        old = metrics.to_log_normalised(pbmc_small)
    new = metrics.to_log_normalized(pbmc_small)
    assert old[1] == new[1]
    assert old[0].shape == new[0].shape


@pytest.fixture(scope="module")
def pbmc_small():
    from scdiffusion.datasets import pbmc68k_counts

    return pbmc68k_counts()[:50].copy()


# ------------------------------------------------------------------------------------------------ per-column weights
def test_interpolate_takes_a_weight_per_column_like_generate(small_model, counts_adata):
    kw = dict(n_states=2, n_cells=4, n_steps=3, seed=1, progress=False)
    plain = small_model.interpolate(counts_adata, "cell_type", "type0", "type1", guidance_scale=3.0, **kw)
    mapped = small_model.interpolate(counts_adata, "cell_type", "type0", "type1", guidance_scale={"cell_type": 3.0},
                                     **kw)
    np.testing.assert_array_equal(plain.obsm["X_scdiffusion"], mapped.obsm["X_scdiffusion"])
    assert mapped.uns["scdiffusion"]["guidance_scale"] == 3.0
    np.testing.assert_allclose(mapped.obs["weight_start"] + mapped.obs["weight_end"], 3.0)
    with pytest.raises(InputError, match=r"names other columns \['tissue'\]"):
        small_model.interpolate(counts_adata, "cell_type", "type0", "type1", guidance_scale={"tissue": 1.0}, **kw)
    with pytest.raises(InputError, match="cfg_scale must be"):
        small_model.interpolate(counts_adata, "cell_type", "type0", "type1", cfg_scale={"cell_type": -1}, **kw)


def test_cli_interpolate_takes_col_equals_weight(small_model_dir, counts_adata, tmp_path):
    from scdiffusion.cli import main

    cells = tmp_path / "cells.h5ad"
    counts_adata.write_h5ad(cells)
    args = ["interpolate", "--model-dir", str(small_model_dir), "--labels-key", "cell_type", "--start", "type0",
            "--end", "type1", "--start-cells", str(cells), "--n-states", "2", "--n-cells", "3", "--n-steps", "3",
            "--device", "cpu", "--quiet"]
    res = CliRunner().invoke(main, [*args, "--guidance-scale", "cell_type=3", "--output", str(tmp_path / "a.h5ad")])
    assert res.exit_code == 0, res.output
    import anndata as ad

    assert ad.read_h5ad(tmp_path / "a.h5ad").uns["scdiffusion"]["guidance_scale"] == 3.0
    res = CliRunner().invoke(main, [*args, "--guidance-scale", "tissue=3", "--output", str(tmp_path / "b.h5ad")])
    assert res.exit_code == 1 and "other columns" in res.output and not (tmp_path / "b.h5ad").exists()
