"""Sphinx configuration of the scDiffusion documentation (built offline: no intersphinx, no remote themes)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "python"))  # document this checkout's code
sys.path.insert(0, str(HERE))
os.environ.setdefault("SCDIFFUSION_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import benchmarks_page  # noqa: E402
import r_reference  # noqa: E402

# generated pages (not in git): the R reference from NAMESPACE + man/*.Rd, the benchmarks from their README
r_reference.write_page(ROOT, HERE / "r-reference.md")
benchmarks_page.write_page(ROOT, HERE / "benchmarks.md")

project = "scDiffusion"
author = "scDiffusion developers"
from scdiffusion import __version__ as release  # noqa: E402

version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx_click",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "tutorials/README.rst", "**/*.ipynb", "auto_tutorials/*.py", "auto_tutorials/*.zip",
                    "auto_tutorials/*.md5", "auto_tutorials/*.json"]

autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
# "more than one target found" for InputError: scdiffusion.data re-exports scdiffusion.errors.InputError (one
# class, documented under both names)
# "Non-consecutive header level increase": benchmarks/results/decoder/experiments.md (included as written)
suppress_warnings = ["ref.python", "myst.header"]


sphinx_gallery_conf = {
    "examples_dirs": ["tutorials"],
    "gallery_dirs": ["auto_tutorials"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "plot_gallery": "True",
}

html_theme = "alabaster"
html_title = f"scDiffusion {release}"
html_theme_options = {"description": "Single-cell RNA-seq generation with a latent diffusion model",
                      "fixed_sidebar": True}
