"""Sphinx configuration of the moe_approx documentation (``make docs``).

Sphinx with autodoc + numpydoc is what NumPy, SciPy and JAX use; myst-nb renders docs/theory.md
(MyST Markdown with $...$ math) and the notebooks, which are copied here and executed at their
quick size. The pages need no network: MathJax is bundled (sphinx-mathjax-offline) and nothing is
loaded from a CDN (tests/test_docs.py). Project hooks (theory links, viewcode back-links) are in
docs/_ext/moe_docs.py.
"""

import shutil
import sys
from pathlib import Path

import moe_approx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

# the notebooks live in notebooks/ at the top level; Sphinx reads sources only below docs/
_NB_OUT = Path(__file__).parent / "_notebooks"
_NB_OUT.mkdir(exist_ok=True)
for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
    shutil.copyfile(nb, _NB_OUT / nb.name)

project = "moe_approx"
author = "The moe_approx developers"
copyright = "2026, The moe_approx developers"
release = version = moe_approx.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static: math renders offline
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "moe_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "figures", "**.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# The notebooks run at their committed quick size (tens of seconds each) so that the pages show
# what the code computes now; a failing cell fails the build. Widgets (tqdm bars in a kernel)
# render as their text form: their JavaScript would come from a CDN.
nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_in_temp = True
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"moe_approx {release}"
suppress_warnings = ["mystnb.unknown_mime_type"]
