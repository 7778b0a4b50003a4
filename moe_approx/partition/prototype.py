"""Voronoi cells of prototypes, routed by a tree of thresholds (docs/theory.md §2)."""

from __future__ import annotations

from functools import partial

import jax.numpy as jnp
import numpy as np

from .._checks import check_points
from .base import TINY, _Partition
from .._config import kernel_jit


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


@partial(kernel_jit, static_argnums=2)
def _tree_locate(x, tree, depth):
    dim, thr, left, right, leaf = tree
    node = jnp.zeros(x.shape[:-1], dtype=jnp.int64)
    for _ in range(depth):
        d = dim[node]
        xd = jnp.take_along_axis(x, jnp.maximum(d, 0)[..., None], axis=-1)[..., 0]
        node = jnp.where(xd >= thr[node], right[node], left[node])
    return leaf[node]
