"""Constant experts (THEORY.md §4.1): Φ ≡ f(c) on a cell with centre c.

A depth-1 network ``x ↦ x @ 0 + f(c)``: n + 1 stored parameters, one of them nonzero.
Error ≤ C (h/2)^α on a cell of ∞-diameter h.
"""

from __future__ import annotations

import numpy as np

from ..calculus import affine
from ..mlp import MLP, check_activation

SIZE_DEFAULTS: dict = {}


def build(target, lo, hi, *, activation: str = "relu") -> MLP:
    """One constant expert per cell: the target's value at the cell centre."""
    centre = 0.5 * (np.asarray(lo) + np.asarray(hi))
    values = np.asarray(target(centre), dtype=np.float64)
    return affine(np.zeros((target.n, 1)), values[:, None], check_activation(activation))


def depth(n, activation="relu"):
    return 1


def width(n, activation="relu"):
    return 0


def num_params(n, activation="relu"):
    return n + 1


def num_nonzero(n, activation="relu"):
    return 1


def error_bound(alpha, constant, side, n):
    """C (h/2)^α: every point of the cell is within h/2 of its centre in ∞-norm."""
    return constant * (side / 2) ** alpha
