"""Expert families: one module per explicit construction (docs/theory.md §4).

Every family module provides the same small interface, which ``build_moe`` and ``rates`` use:

- ``SIZE_DEFAULTS``: dict of the family's size keywords and their defaults (e.g. ``{"k": 2}``).
- ``build(target, lo, hi, *, activation, **size) -> MLP``: the experts of all cells at once,
  a stack with batch shape ``(L,)``; cell ``i`` is the box ``[lo[i], hi[i]]`` (arrays (L, n)).
  Vectorized over cells: no Python loop per cell.
- ``depth(n, activation, **size)``, ``width(...)``, ``num_params(...)``, ``num_nonzero(...)``:
  closed forms of one expert, written so they accept SymPy symbols where the construction allows
  (the single source of truth for ``rates``).
- ``error_bound(alpha, constant, side, n, **size)``: the proven uniform error on a cell of
  ∞-diameter ``side`` for an (alpha, constant)-Hölder target, with its source.
- optional ``NUMERIC_SIZES``: size keywords the closed forms need as numbers (``rates`` holds
  them at their defaults when it derives expressions).
- optional ``SIZE_LIMITS``: largest values of size keywords the family builds (e.g. the optimal
  family's float64 limit on B); ``rates.budget_solve`` searches within them.
- optional ``NEEDS_SMOOTHNESS``: True for families whose ``build`` needs a target with declared
  smoothness; their ``error_bound`` reads (alpha, constant) as those of the top derivatives.
"""

from importlib import import_module

import numpy as np

from .._checks import check_int

FAMILY_NAMES = ("constant", "cpwl", "yarotsky", "optimal")


def get(name: str):
    """The family module ``name``.

    Parameters
    ----------
    name : {"constant", "cpwl", "yarotsky", "optimal"}

    Returns
    -------
    module
        With ``SIZE_DEFAULTS``, ``build`` and the closed forms described above.

    Raises
    ------
    ValueError
        For an unknown name.

    Examples
    --------
    >>> from moe_approx import experts
    >>> {name: experts.get(name).SIZE_DEFAULTS for name in experts.FAMILY_NAMES}
    {'constant': {}, 'cpwl': {'k': 2}, 'yarotsky': {'m': 8, 'degree': 2}, 'optimal': {'A': 4, 'B': 4}}
    """
    if name not in FAMILY_NAMES:
        raise ValueError(f"unknown expert family {name!r}; accepted: {list(FAMILY_NAMES)}")
    return import_module(f"{__name__}.{name}")


def holder_families() -> list[str]:
    """The families for (α, C)-Hölder targets: all but those with ``NEEDS_SMOOTHNESS``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from moe_approx import experts
    >>> experts.holder_families()
    ['constant', 'cpwl', 'optimal']
    """
    return [name for name in FAMILY_NAMES if not getattr(get(name), "NEEDS_SMOOTHNESS", False)]


def check_size(family, size: dict) -> dict:
    """Size keywords of ``family`` with defaults filled in; each an integer >= 1 (numpy integers too).

    Parameters
    ----------
    family : module
        A family module (:func:`get`).
    size : dict
        Size keywords given by the user.

    Returns
    -------
    dict

    Raises
    ------
    TypeError
        For a value that is not an integer.
    ValueError
        For an unknown keyword or an integer < 1.

    Examples
    --------
    >>> from moe_approx import experts
    >>> experts.check_size(experts.get("optimal"), {"B": 8})
    {'A': 4, 'B': 8}
    """
    unknown = set(size) - set(family.SIZE_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown size keyword(s) {sorted(unknown)}; accepted: {sorted(family.SIZE_DEFAULTS)}")
    full = {**family.SIZE_DEFAULTS, **size}
    return {key: check_int(value, f"size {key}") for key, value in full.items()}


def check_cells(lo, hi, n: int):
    """``lo``, ``hi`` as float arrays (L, n) with hi > lo, else ``ValueError``.

    Parameters
    ----------
    lo, hi : array_like
        Cell corners, shape (L, n).
    n : int
        Dimension.

    Returns
    -------
    tuple of numpy.ndarray

    Raises
    ------
    ValueError
        If the shapes are wrong or some hi <= lo.

    Examples
    --------
    >>> from moe_approx import experts
    >>> lo, hi = experts.check_cells([[0.0]], [[0.5]], 1)
    >>> lo.dtype, hi.shape
    (dtype('float64'), (1, 1))
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    if lo.ndim != 2 or lo.shape[1] != n or hi.shape != lo.shape or np.any(hi <= lo):
        raise ValueError(f"lo and hi must be (L, {n}) arrays with hi > lo, got {lo.shape}, {hi.shape}")
    return lo, hi


def generic_nonzero(net) -> int:
    """Nonzeros of the expert made from the unit network ``net`` on a cell in generic position:
    the cell map gives every first-layer neuron with a weight a nonzero bias, and the per-cell output
    coefficients give one nonzero weight per neuron feeding the output, plus the output bias.

    Parameters
    ----------
    net : MLP
        The unit (cell-independent) network, before the cell map and the output coefficients.

    Returns
    -------
    int

    Examples
    --------
    σ(u − 1/2) on one cell: input weight, its bias, the output weight and the output bias:

    >>> import numpy as np
    >>> from moe_approx import calculus, experts
    >>> experts.generic_nonzero(calculus.pre_affine(calculus.rectifier(1), np.eye(1), -0.5 * np.ones(1)))
    4
    """
    count = int(np.count_nonzero(np.any(net.layers[-1][0] != 0, axis=1))) + 1
    if net.depth == 1:
        return count
    w0 = net.layers[0][0]
    count += np.count_nonzero(w0) + np.count_nonzero(np.any(w0 != 0, axis=0))
    count += sum(np.count_nonzero(w) + np.count_nonzero(b) for w, b in net.layers[1:-1])
    if net.activation == "prelu":
        count += sum(np.count_nonzero(a) for a in net.slopes)
    return int(count)
