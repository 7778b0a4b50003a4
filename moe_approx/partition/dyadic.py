"""Dyadic cubes refined where needed, routed by their binary keys (docs/theory.md §2)."""

from __future__ import annotations

from functools import partial

import jax.numpy as jnp
import numpy as np

from .._checks import check_int, check_memory
from .base import MAX_CELL_BITS, _Partition
from .._config import kernel_jit


def _ancestors(levels, index, level: int) -> np.ndarray:
    """Distinct keys of the level-``level`` ancestors of the deeper cells (level·n <= 62 bits, exact)."""
    deeper = levels > level
    ancestor = index[deeper] >> (levels[deeper, None] - level)
    shifts = level * np.arange(index.shape[1] - 1, -1, -1, dtype=np.int64)
    return np.unique(np.sum(ancestor << shifts, axis=1))


class DyadicPartition(_Partition):
    """Dyadic boxes of side 2^-level; any cell can be split into its 2^n children (``refine``).

    Routing: for each level present, the point's dyadic index at that level is looked up among
    the cells of that level (sorted keys, binary search): O(levels · log L) per point.
    The routing tree is the 2^n-ary refinement tree: one input compares n coordinates with a
    midpoint at each of at most ``max_level`` steps.

    Parameters
    ----------
    n : int
        Dimension, >= 1.
    level : int, default 0
        Start from the uniform grid of side 2^-level (level · n <= 62).

    Raises
    ------
    ValueError
        If n < 1, level < 0, or level · n > 62 (exact integer keys).

    Examples
    --------
    >>> import moe_approx as ma
    >>> part = ma.DyadicPartition(2, 1).refine([0])      # split the lower-left quarter
    >>> part.num_cells, sorted(part.side().tolist())[:2]
    (7, [0.25, 0.25])
    """

    def __init__(self, n: int, level: int = 0, *, _cells=None):
        self.n = check_int(n, "n")
        if _cells is None:
            level = check_int(level, "level", minimum=0)
            if level * self.n > MAX_CELL_BITS:
                raise ValueError(f"level * n must be <= {MAX_CELL_BITS} for exact integer keys, got level={level}, n={n}")
            check_memory(2**(level * self.n) * (self.n + 1) * 8, f"DyadicPartition(n={n}, level={level})")
            shifts = level * np.arange(self.n - 1, -1, -1, dtype=np.int64)  # C-order digits in base 2^level
            grid = (np.arange(2 ** (level * self.n), dtype=np.int64)[:, None] >> shifts) & (2**level - 1)
            _cells = (np.full(len(grid), level, dtype=np.int64), grid)
        self.levels, self.index = _cells  # level (L,), integer corner index at that level (L, n)
        self.num_cells = len(self.levels)
        self.max_level = int(self.levels.max())
        if np.all(self.levels == self.max_level):  # a full level: 2^(l·n) internal nodes at each level l
            internal = sum(2 ** (l * self.n) for l in range(self.max_level))
        else:
            internal = sum(_ancestors(self.levels, self.index, l).size for l in range(self.max_level))
        self.router_params_active = self.n * self.max_level
        self.router_params_total = self.n * internal
        self._tables = self._routing_tables()

    def _routing_tables(self):
        tables = []
        for level in np.unique(self.levels):
            cells = np.nonzero(self.levels == level)[0]
            keys = np.ravel_multi_index(tuple(self.index[cells].T), (2 ** int(level),) * self.n)
            order = np.argsort(keys)
            tables.append((int(level), jnp.asarray(keys[order]), jnp.asarray(cells[order])))
        return tables

    def all_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of every cell, arrays of shape (L, n)."""
        side = np.exp2(-self.levels.astype(np.float64))[:, None]
        return self.index * side, (self.index + 1) * side

    def side(self) -> np.ndarray:
        """Side length 2^-level of each cell."""
        return np.exp2(-self.levels.astype(np.float64))

    def refine(self, cells) -> "DyadicPartition":
        """A new partition with each listed cell split into its 2^n children (appended at the end).

        Parameters
        ----------
        cells : array_like of int
            Indices of the cells to split.

        Returns
        -------
        DyadicPartition

        Raises
        ------
        ValueError
            If an index is out of range or a level would exceed 62 // n.

        Examples
        --------
        >>> import moe_approx as ma
        >>> ma.DyadicPartition(1, 0).refine([0]).refine([1]).side()
        array([0.5 , 0.25, 0.25])
        """
        cells = np.unique(np.asarray(cells, dtype=np.int64).ravel())
        if cells.size and (cells.min() < 0 or cells.max() >= self.num_cells):
            raise ValueError(f"cells must be indices in [0, {self.num_cells}), got {cells.min()}..{cells.max()}")
        if cells.size and (self.levels[cells].max() + 1) * self.n > MAX_CELL_BITS:
            raise ValueError(f"refining past level {MAX_CELL_BITS} // n = {MAX_CELL_BITS // self.n} (n={self.n}) would "
                             "overflow the exact integer keys")
        check_memory(cells.size * 2**self.n * (self.n + 1) * 8 * 4, f"refining {cells.size} cells into 2^{self.n} children each")
        keep = np.setdiff1d(np.arange(self.num_cells), cells)
        corners = np.stack(np.unravel_index(np.arange(2**self.n), (2,) * self.n), axis=-1)
        child_index = (2 * self.index[cells][:, None, :] + corners[None]).reshape(-1, self.n)
        child_level = np.repeat(self.levels[cells] + 1, 2**self.n)
        levels = np.concatenate([self.levels[keep], child_level])
        index = np.concatenate([self.index[keep], child_index])
        return DyadicPartition(self.n, _cells=(levels, index))

    def _locate(self, x):
        levels = tuple(level for level, _, _ in self._tables)
        return _dyadic_locate(x, tuple((keys, cells) for _, keys, cells in self._tables), levels, self.n)

    def __repr__(self):
        return f"DyadicPartition(n={self.n}, cells={self.num_cells}, levels={sorted(set(self.levels.tolist()))})"


@partial(kernel_jit, static_argnums=(2, 3))
def _dyadic_locate(x, tables, levels, n):
    out = jnp.full(x.shape[:-1], -1, dtype=jnp.int64)
    for level, (keys, cells) in zip(levels, tables):
        side = 2**level
        idx = jnp.clip(jnp.floor(x * side), 0, side - 1)
        idx = jnp.where(x < idx / side, idx - 1, idx)
        idx = jnp.where((x >= (idx + 1) / side) & (idx < side - 1), idx + 1, idx).astype(jnp.int64)
        key = jnp.sum(idx * side ** jnp.arange(n - 1, -1, -1, dtype=jnp.int64), axis=-1)
        pos = jnp.clip(jnp.searchsorted(keys, key), 0, keys.shape[0] - 1)
        out = jnp.where(keys[pos] == key, cells[pos], out)
    return out
