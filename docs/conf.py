"""Sphinx configuration of the moe_approx documentation (``make docs``).

Sphinx with autodoc + numpydoc is what NumPy, SciPy and JAX use; myst-nb renders docs/theory.md
(MyST Markdown with $...$ math) and the notebooks, which are copied here and not executed.
"""

import re
import shutil
from pathlib import Path

import moe_approx

ROOT = Path(__file__).resolve().parents[1]

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
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "figures", "**.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # the test suite executes the notebooks; the docs only render them

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"moe_approx {release}"
suppress_warnings = ["mystnb.unknown_mime_type"]


# --- docstrings: plain-text maths reads |x| as |x|, not as a reST substitution reference -----------
_LITERAL = re.compile(r"(``.*?``|`[^`]*`)")


def _escape_bars(app, what, name, obj, options, lines):
    """Escape ``|`` outside literals and doctest blocks: the docstrings write absolute values and
    norms in plain text (|f − Φ|), which reST would otherwise take for substitutions."""
    in_doctest = False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(">>>"):
            in_doctest = True
        elif not stripped:
            in_doctest = False
        if in_doctest or "|" not in line:
            continue
        parts = _LITERAL.split(line)
        lines[i] = "".join(p if k % 2 else p.replace("|", r"\|") for k, p in enumerate(parts))


def setup(app):
    app.connect("autodoc-process-docstring", _escape_bars, priority=100)
