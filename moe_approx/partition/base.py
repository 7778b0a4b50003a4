"""The interface every partition shares, and the router sizes of a grid (docs/theory.md §2)."""

from __future__ import annotations

import numpy as np

from .._checks import check_points


MAX_CELL_BITS = 62  # cell indices (and dyadic keys) are exact int64
TINY = np.finfo(np.float64).tiny  # smallest normal float64


def _ceil_log2(m):
    """⌈log₂ m⌉ for an int, or the SymPy expression for a symbol."""
    if isinstance(m, (int, np.integer)):
        return max(int(m) - 1, 0).bit_length()
    import sympy

    return sympy.ceiling(sympy.log(m, 2))


def grid_router_params(n, cells_per_side):
    """(active, total) router thresholds of a K^n grid: a binary search over K − 1 thresholds per axis.

    Parameters
    ----------
    n : int or sympy.Expr
        Dimension.
    cells_per_side : int or sympy.Expr
        K.

    Returns
    -------
    tuple
        (n ⌈log₂ K⌉, n (K − 1)), docs/theory.md §2.

    Examples
    --------
    >>> from moe_approx.partition import grid_router_params
    >>> grid_router_params(2, 5)
    (6, 8)
    """
    return n * _ceil_log2(cells_per_side), n * (cells_per_side - 1)


class _Partition:
    """Shared interface: ``n``, ``num_cells``, ``locate``, ``bounds``, ``all_bounds``."""

    n: int
    num_cells: int

    def locate(self, x):
        """Cell index of each point: (..., n) in [0,1]^n -> int array (...).

        Parameters
        ----------
        x : array_like
            Points in [0,1]^n, shape (..., n).

        Returns
        -------
        jax.Array
            Integer cell indices, shape (...).

        Raises
        ------
        ValueError
            If the points have the wrong shape or lie outside [0,1]^n.

        Examples
        --------
        >>> import numpy as np
        >>> import moe_approx as ma
        >>> np.asarray(ma.GridPartition(1, 4).locate(np.array([[0.0], [0.25], [1.0]])))   # half-open cells
        array([0, 1, 3])
        """
        return self._locate(check_points(x, self.n))

    def bounds(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of cell ``i``.

        Parameters
        ----------
        i : int
            Cell index in [0, num_cells).

        Returns
        -------
        tuple of numpy.ndarray
            Corners lo, hi of shape (n,).

        Raises
        ------
        ValueError
            If ``i`` is not a valid index.

        Examples
        --------
        >>> import moe_approx as ma
        >>> ma.GridPartition(2, 2).bounds(1)
        (array([0. , 0.5]), array([0.5, 1. ]))
        """
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.num_cells:
            raise ValueError(f"cell index must be an integer in [0, {self.num_cells}), got {i!r}")
        lo, hi = self.all_bounds()
        return lo[i], hi[i]

    def contains(self, x, cells) -> np.ndarray:
        """Whether each point lies in the given cell under the half-open rule (for tests and checks).

        Parameters
        ----------
        x : array_like
            Points, shape (N, n).
        cells : array_like
            One cell index per point.

        Returns
        -------
        numpy.ndarray of bool

        Examples
        --------
        >>> import numpy as np
        >>> import moe_approx as ma
        >>> ma.GridPartition(1, 2).contains(np.array([[0.5], [0.5]]), [0, 1])
        array([False,  True])
        """
        lo, hi = self.all_bounds()
        x = np.asarray(x)
        lo, hi = lo[cells], hi[cells]
        return np.all((lo <= x) & ((x < hi) | ((hi == 1.0) & (x == 1.0))), axis=-1)
