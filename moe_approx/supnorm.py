"""Uniform error ‖f − Φ‖_∞ of a mixture of experts (THEORY.md §5).

This version samples a cell-blocked grid: the largest evaluated |f − Φ| is a true lower
bound; no upper bound is proven yet (``upper = inf``, ``certified = False``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ._checks import check_int


@dataclass(frozen=True)
class SupErrorReport:
    """Bracket ``lower <= sup|f − Φ| <= upper``; ``certified`` when the bracket met ``rtol``."""

    lower: float
    upper: float
    argmax: np.ndarray
    evaluations: int
    certified: bool
    seconds: float


def cell_grid(lo, hi, points_per_side: int) -> np.ndarray:
    """Midpoints of a p^n sub-grid of every cell: (L, p^n, n), each row inside its (half-open) cell."""
    lo, hi = np.asarray(lo), np.asarray(hi)
    n = lo.shape[-1]
    t = (np.arange(points_per_side) + 0.5) / points_per_side
    local = np.stack(np.meshgrid(*([t] * n), indexing="ij"), axis=-1).reshape(-1, n)
    return lo[:, None, :] + local[None] * (hi - lo)[:, None, :]


def sampled_error(target, moe, points_per_side: int, chunk_points: int = 2**20):
    """max |f − Φ| over the cell grid of ``points_per_side``^n points per cell, and its argmax."""
    lo, hi = moe.partition.all_bounds()
    per_cell = points_per_side**moe.n
    cells_per_chunk = max(1, chunk_points // per_cell)
    best, where = -np.inf, None
    for start in range(0, moe.num_experts, cells_per_chunk):
        sl = slice(start, start + cells_per_chunk)
        pts = cell_grid(lo[sl], hi[sl], points_per_side)
        err = np.asarray(jnp.abs(target(pts) - moe.apply_blocked(pts, sl)))
        i = np.unravel_index(np.argmax(err), err.shape)
        if err[i] > best:
            best, where = float(err[i]), pts[i]
    return best, where


def sup_error(target, moe, max_evals: int = 2**20) -> SupErrorReport:
    """Sampled lower bound of sup|f − Φ| from a cell-blocked grid with at most ``max_evals`` points."""
    if target.n != moe.n:
        raise ValueError(f"target is defined on n={target.n} but the MoE on n={moe.n}")
    max_evals = check_int(max_evals, "max_evals")
    start = time.perf_counter()
    p = max(1, int((max_evals / moe.num_experts) ** (1.0 / moe.n)))
    lower, argmax = sampled_error(target, moe, p)
    evaluations = moe.num_experts * p**moe.n
    return SupErrorReport(lower, np.inf, argmax, evaluations, False, time.perf_counter() - start)
