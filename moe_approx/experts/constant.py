"""Constant experts (docs/theory.md §4.1): Φ ≡ f(c) on a cell with centre c.

A depth-1 network ``x ↦ x @ 0 + f(c)``: n + 1 stored parameters, one of them nonzero.
Error ≤ C (h/2)^α on a cell of ∞-diameter h.
"""

from __future__ import annotations

import numpy as np

from ..calculus import affine
from ..mlp import MLP, check_activation

SIZE_DEFAULTS: dict = {}


def build(target, lo, hi, *, activation: str = "relu") -> MLP:
    """One constant expert per cell: the target's value at the cell centre.

    Parameters
    ----------
    target : HolderTarget
    lo, hi : array_like
        Cell corners, shape (L, n).
    activation : {"relu", "prelu"}, default "relu"
        Recorded only: the expert has no hidden layer.

    Returns
    -------
    MLP
        A stack (L,) of depth-1 networks.

    Raises
    ------
    ValueError
        If ``activation`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import constant
    >>> nets = constant.build(targets.get("kink", n=1), np.array([[0.0], [0.5]]), np.array([[0.5], [1.0]]))
    >>> np.asarray(nets(np.zeros((2, 1, 1))))[:, 0, 0]      # f(1/4), f(3/4)
    array([0.08333333, 0.41666667])
    """
    centre = 0.5 * (np.asarray(lo) + np.asarray(hi))
    values = np.asarray(target(centre), dtype=np.float64)
    return affine(np.zeros((target.n, 1)), values[:, None], check_activation(activation))


def depth(n, activation="relu"):
    """1: one affine map (docs/theory.md §4.1)."""
    return 1


def width(n, activation="relu"):
    """0: no hidden layer."""
    return 0


def num_params(n, activation="relu"):
    """n + 1 stored parameters: the zero weights and the bias.

    Examples
    --------
    >>> from moe_approx.experts import constant
    >>> constant.num_params(3), constant.num_nonzero(3)
    (4, 1)
    """
    return n + 1


def num_nonzero(n, activation="relu"):
    """1: the bias f(c)."""
    return 1


def error_bound(alpha, constant, side, n):
    """C (h/2)^α: every point of the cell is within h/2 of its centre in ∞-norm (docs/theory.md §4.1).

    Parameters
    ----------
    alpha, constant : float or sympy.Expr
        The target's Hölder pair (α, C).
    side : float or sympy.Expr
        Cell side h.
    n : int
        Dimension (unused: the bound does not depend on it).

    Returns
    -------
    float or sympy.Expr

    Examples
    --------
    >>> from moe_approx.experts import constant
    >>> constant.error_bound(1.0, 1.0, 0.125, 1)      # exact for `kink` (docs/theory.md §2)
    0.0625
    """
    return constant * (side / 2) ** alpha
