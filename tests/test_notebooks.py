"""Every notebook in notebooks/ runs top to bottom in a fresh kernel at its quick size (issue 7).

Each notebook asserts the facts it shows (sampled errors below the certified upper bound, a built
MoE's experts, depth and width equal to the rates module's design, ...); nbclient raises on the
first failing cell. The kernel runs in a temporary directory: notebooks write nothing into the
repository.
"""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300


def _read(path):
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = _read(path)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert any("QUICK = True" in c.source for c in code), "the quick size must be the committed default"


@pytest.mark.slow  # 10-40 s each on 2 cores: a fresh kernel, jax import and compilation
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, tmp_path):
    nb = _read(path)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the failing cell
