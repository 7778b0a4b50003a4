"""The uniform grid of K^n cells (docs/theory.md §2)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from .._checks import check_int, check_memory
from .base import MAX_CELL_BITS, _Partition, grid_router_params
from .._config import kernel_jit


class GridPartition(_Partition):
    """L = K^n equal cells of side 1/K; cell index = C-order ravel of the per-axis indices.

    Router: a binary search over the K − 1 thresholds of each axis (docs/theory.md §2).

    Parameters
    ----------
    n : int
        Dimension, >= 1.
    cells_per_side : int
        K >= 1.

    Raises
    ------
    ValueError
        If n or K is not an integer >= 1, or the cell table would not fit in memory.

    Examples
    --------
    >>> import moe_approx as ma
    >>> grid = ma.GridPartition(2, 4)
    >>> grid.num_cells, grid.router_params_active, grid.router_params_total
    (16, 4, 6)
    """

    def __init__(self, n: int, cells_per_side: int):
        self.n = check_int(n, "n")
        self.cells_per_side = check_int(cells_per_side, "cells_per_side")
        bits = self.n * math.log2(self.cells_per_side)  # in floats first: K**n itself can take forever
        check_memory(16.0 * self.n * 2.0 ** min(bits, 1000.0), f"GridPartition(n={n}, cells_per_side={cells_per_side}) bounds")
        if bits > MAX_CELL_BITS:
            raise ValueError(f"cells_per_side**n must be < 2^{MAX_CELL_BITS} cells (int64 cell indices), "
                             f"got cells_per_side={self.cells_per_side}, n={self.n}")
        self.num_cells = self.cells_per_side**self.n
        self.router_params_active, self.router_params_total = grid_router_params(self.n, self.cells_per_side)

    def all_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of every cell, arrays of shape (L, n)."""
        k = self.cells_per_side
        idx = np.stack(np.unravel_index(np.arange(self.num_cells), (k,) * self.n), axis=-1)
        return idx / k, (idx + 1) / k

    def _locate(self, x):
        return _grid_locate(x, jnp.asarray(np.arange(self.cells_per_side + 1) / self.cells_per_side))

    def __repr__(self):
        return f"GridPartition(n={self.n}, cells_per_side={self.cells_per_side})"


@kernel_jit
def _grid_locate(x, faces):
    """C-order cell index; the faces k/K are the very numbers ``all_bounds`` uses (no reciprocal rewrite)."""
    k = faces.shape[0] - 1
    idx = jnp.clip(jnp.floor(x * k), 0, k - 1).astype(jnp.int64)
    idx = jnp.where(x < faces[idx], idx - 1, idx)  # floor(x*k) can round across a face
    idx = jnp.where((x >= faces[idx + 1]) & (idx < k - 1), idx + 1, idx)
    weights = k ** jnp.arange(x.shape[-1] - 1, -1, -1, dtype=jnp.int64)
    return jnp.sum(idx * weights, axis=-1)
