"""Cell partitions of [0,1]^n and routing (docs/theory.md §2).

Every partition splits the cube into L boxes ("cells") and routes each point to exactly one:
cells are half-open, ``lo <= x < hi``, except that the face ``x_i = 1`` belongs to the cells
touching it. ``locate`` is vectorized and jitted; ``bounds(i)``/``all_bounds()`` give the boxes.
``router_params_active`` counts the router parameters one input touches (they are loaded
parameters, docs/theory.md §2) and ``router_params_total`` all of them.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_int, check_memory, check_points


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


@jax.jit
def _grid_locate(x, faces):
    """C-order cell index; the faces k/K are the very numbers ``all_bounds`` uses (no reciprocal rewrite)."""
    k = faces.shape[0] - 1
    idx = jnp.clip(jnp.floor(x * k), 0, k - 1).astype(jnp.int64)
    idx = jnp.where(x < faces[idx], idx - 1, idx)  # floor(x*k) can round across a face
    idx = jnp.where((x >= faces[idx + 1]) & (idx < k - 1), idx + 1, idx)
    weights = k ** jnp.arange(x.shape[-1] - 1, -1, -1, dtype=jnp.int64)
    return jnp.sum(idx * weights, axis=-1)


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


@partial(jax.jit, static_argnums=(2, 3))
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


class PrototypePartition(_Partition):
    """Tree routing over prototypes (docs/theory.md §1, claim 5: routing tree over a δ-net).

    A k-d routing tree is built on the prototypes by median splits along the coordinate of
    widest spread; a node sends x right when ``x[dim] >= threshold`` (the tie rule), where the
    threshold is the float midpoint between the two prototype groups, or the upper group's
    coordinate where the midpoint rounds onto the lower one (prototypes one ulp apart). Each leaf
    is a box containing exactly one prototype; one input costs ``depth`` <= ⌈log₂ L⌉ comparisons,
    each touching one stored threshold. This is the tree router, not an exact Voronoi diagram: the cells are the
    tree's boxes (``voronoi_agreement`` measures how often it picks the nearest prototype).
    Router count (``router_count``): ``"tree"`` (default) counts the stored thresholds (L − 1 in
    all, ``depth`` per input); ``"prototypes"`` counts as the paper's VC term n·L reads: the L
    prototypes in R^n are stored (n·L in all), and an input compares itself with the two
    prototypes of each tree node it passes (2n·``depth``; docs/theory.md §7, our reading).

    Parameters
    ----------
    prototypes : array_like
        Distinct points of [0,1]^n, shape (L, n); coordinates below 2.2e-308 (subnormal) count
        as 0, as in XLA's comparisons. Prototypes one ulp apart are fine.
    router_count : {"tree", "prototypes"}
        How the router's parameters are counted (above).

    Raises
    ------
    ValueError
        If the prototypes are not an (L, n) array of distinct points of [0,1]^n.

    Examples
    --------
    >>> import numpy as np
    >>> import moe_approx as ma
    >>> part = ma.PrototypePartition(np.array([[0.1, 0.1], [0.9, 0.2], [0.5, 0.8]]))
    >>> part.num_cells, part.router_params_total
    (3, 2)
    >>> int(part.locate(np.array([0.85, 0.15])))      # the box of prototype 1
    1
    """

    ROUTER_COUNTS = ("tree", "prototypes")

    def __init__(self, prototypes, router_count: str = "tree"):
        if router_count not in self.ROUTER_COUNTS:
            raise ValueError(f"router_count must be one of {self.ROUTER_COUNTS}, got {router_count!r}")
        self.router_count = router_count
        p = np.asarray(prototypes, dtype=np.float64)
        if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
            raise ValueError(f"prototypes must have shape (L, n) with L, n >= 1, got {p.shape}")
        check_points(p, p.shape[1], "prototypes")
        routed = np.where(p < TINY, 0.0, p)  # XLA's comparisons flush subnormals to 0: route as they see them
        if len(np.unique(routed, axis=0)) != len(p):
            raise ValueError("prototypes must be distinct (coordinates below the smallest normal float64, "
                             f"{TINY:.3g}, count as 0: XLA compares them as 0)")
        self.prototypes, (self.num_cells, self.n) = p, p.shape
        nodes = {"dim": [], "thr": [], "left": [], "right": [], "leaf": []}
        lo, hi = np.zeros((self.num_cells, self.n)), np.ones((self.num_cells, self.n))
        self._depth = 0

        def grow(members, box_lo, box_hi, depth):
            node = len(nodes["dim"])
            for key in nodes:
                nodes[key].append(-1 if key != "thr" else 0.0)
            self._depth = max(self._depth, depth)
            if len(members) == 1:
                nodes["leaf"][node] = members[0]
                nodes["left"][node] = nodes["right"][node] = node
                lo[members[0]], hi[members[0]] = box_lo, box_hi
                return node
            pts = routed[members]
            spread = pts.max(0) - pts.min(0)
            for dim in np.argsort(-spread, kind="stable"):  # widest first
                thr = _split(np.unique(pts[:, dim])) if spread[dim] > 0 else None
                if thr is not None:
                    break
            else:
                raise ValueError(f"prototypes {pts.tolist()} differ only where one has a coordinate 1 and another "
                                 "the float just below it: only a threshold of 1 would separate them, an empty cell")
            dim = int(dim)
            left_box_hi, right_box_lo = box_hi.copy(), box_lo.copy()
            left_box_hi[dim] = right_box_lo[dim] = thr
            nodes["dim"][node], nodes["thr"][node] = dim, thr
            nodes["left"][node] = grow(members[pts[:, dim] < thr], box_lo, left_box_hi, depth + 1)
            nodes["right"][node] = grow(members[pts[:, dim] >= thr], right_box_lo, box_hi, depth + 1)
            return node

        grow(np.arange(self.num_cells), np.zeros(self.n), np.ones(self.n), 0)
        self._lo, self._hi = lo, hi
        self._tree = tuple(jnp.asarray(nodes[key]) for key in ("dim", "thr", "left", "right", "leaf"))
        if router_count == "tree":
            self.router_params_active, self.router_params_total = self._depth, self.num_cells - 1
        else:
            self.router_params_active, self.router_params_total = 2 * self.n * self._depth, self.n * self.num_cells

    def all_bounds(self):
        """(lo, hi) of every cell (the tree's leaf boxes), arrays of shape (L, n)."""
        return self._lo.copy(), self._hi.copy()

    def _locate(self, x):
        return _tree_locate(x, self._tree, self._depth)

    def voronoi_agreement(self, x) -> float:
        """Fraction of points routed to their Euclidean-nearest prototype.

        Parameters
        ----------
        x : array_like
            Points, shape (..., n).

        Returns
        -------
        float
            In [0, 1]; 1 when the tree's boxes agree with the Voronoi cells on ``x``.

        Examples
        --------
        >>> import numpy as np
        >>> import moe_approx as ma
        >>> part = ma.PrototypePartition(np.array([[0.25], [0.75]]))
        >>> part.voronoi_agreement(np.linspace(0, 1, 11)[:, None])
        1.0
        """
        x = check_points(x, self.n).reshape(-1, self.n)
        nearest = np.argmin(((x[:, None, :] - self.prototypes[None]) ** 2).sum(-1), axis=1)
        return float(np.mean(nearest == np.asarray(self.locate(x))))

    def __repr__(self):
        count = "" if self.router_count == "tree" else f", router_count={self.router_count!r}"
        return f"PrototypePartition(n={self.n}, cells={self.num_cells}, depth={self._depth}{count})"


def _split(values):
    """A routing threshold t, values[k] < t <= values[k + 1], at the median gap k of the sorted distinct
    ``values`` (or the gap below it): the float midpoint, or values[k + 1] where the midpoint rounds
    onto values[k] (one ulp apart) or is subnormal (XLA compares it as 0). None if t would be 1 (the
    only gap is the one below 1.0): the upper cell would be the empty box [1, 1]."""
    median = (len(values) - 1) // 2
    for k in range(median, max(median - 2, -1), -1):
        lower, upper = values[k], values[k + 1]
        thr = 0.5 * (lower + upper)
        if thr <= lower or thr < TINY:
            thr = upper
        if thr < 1.0:
            return float(thr)
    return None


@partial(jax.jit, static_argnums=2)
def _tree_locate(x, tree, depth):
    dim, thr, left, right, leaf = tree
    node = jnp.zeros(x.shape[:-1], dtype=jnp.int64)
    for _ in range(depth):
        d = dim[node]
        xd = jnp.take_along_axis(x, jnp.maximum(d, 0)[..., None], axis=-1)[..., 0]
        node = jnp.where(xd >= thr[node], right[node], left[node])
    return leaf[node]


