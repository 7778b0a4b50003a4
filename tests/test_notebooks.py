"""Every notebook in notebooks/ runs top to bottom in a fresh kernel at its quick size (issue 7).

Each notebook asserts the facts it shows (measured error inside the proven bound, parameter counts
of a built MoE equal to the rates module's design, ...), so a run that finishes is a passed check.
The kernel runs in a temporary directory: notebooks write nothing into the repository.
"""

import inspect
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

import moe_approx  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
_CPWL = "cpwl" in moe_approx.experts.FAMILY_NAMES
_CERTIFIED = "rtol" in inspect.signature(moe_approx.sup_error).parameters
# Notebooks that need API not yet in this checkout: stem -> (available, what is missing).
NEEDS = {
    "01_quickstart": (_CPWL and _CERTIFIED and hasattr(moe_approx, "approximate"),
                      "the cpwl family, certified sup_error and approximate()"),
    "03_certified_supnorm": (_CPWL and _CERTIFIED, "the cpwl family and certified sup_error"),
}


def _read(path):
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = _read(path)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert any("QUICK = True" in c.source for c in code), "the quick size must be the committed default"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, tmp_path):
    available, missing = NEEDS.get(path.stem, (True, ""))
    if not available:
        pytest.skip(f"needs {missing}")
    nb = _read(path)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
