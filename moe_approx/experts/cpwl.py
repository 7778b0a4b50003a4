"""Piecewise-linear interpolation on the Kuhn (Freudenthal) triangulation (docs/theory.md §4.2).

A cell [lo, hi] is mapped to [0, k]^n by z = k (x − lo)/(hi − lo); the expert is the interpolant
I(z) = Σ_j f(x_j) φ(z − j) of the target on the (k+1)^n sub-grid nodes j ∈ {0, …, k}^n, with the
nodal hat φ(u) = σ(1 + min(0, u) − max(0, u)). Exact forms, by dimension:

- n = 1: I(z) = f_0 + Σ_{i<k} c_i σ(z − i) (c_0 = s_0, c_i = s_i − s_{i−1}, s_i the slope on
  [i, i+1]); depth 2, width k.
- n = 2: max − min of three numbers is half the sum of their pairwise distances, so
  φ(u) = σ(1 − (|u_1| + |u_2| + |u_1 − u_2|)/2). The 4k + 3 distances |z_1 − i|, |z_2 − i|,
  |z_1 − z_2 − d| are shared by all hats: depth 3.
- n ≥ 3: φ(u) = σ(1 − σ(max u) − σ(−min u)) (max(0, u) = σ(max u): the 0 of the generic formula
  is absorbed), max and min by pairwise trees (docs/theory.md §3): depth ⌈log₂ n⌉ + 3.

Hidden layers are shared by every cell (unbatched arrays); only the first layer (the cell map) and
the last (the node values) are per cell. Counts: ``num_params`` is what the MLP stores (dense
matrices; for n ≥ 2 it grows like (k+1)^(2n) or (k+1)^(n+1)); ``num_nonzero`` is the nonzero count
for cells and targets in generic position (no coordinate of a cell map or node value combination
vanishing), ~ (k+1)^n: the count of Petersen & Voigtlaender that ``rates`` uses.
For n ≥ 3 the per-hat constants (independent of k) are counted on the unit hat network.
"""

from __future__ import annotations

import functools
import itertools
from typing import NamedTuple

import numpy as np
import sympy as sp

from .._checks import check_int, check_memory
from ..calculus import (
    absolute, compose, maximum, minimum, parallel, post_affine, pre_affine, rectifier, tree_depth,
)
from ..mlp import MLP, check_activation
from . import check_cells, generic_nonzero

SIZE_DEFAULTS: dict = {"k": 2}
CHUNK_POINTS = 2**20  # target evaluations per call when sampling the nodes


def nodes(n: int, k: int) -> np.ndarray:
    """The sub-grid nodes j ∈ {0, …, k}^n, shape ((k+1)^n, n), last coordinate fastest.

    Parameters
    ----------
    n : int
        Dimension.
    k : int
        Sub-cells per side.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> from moe_approx.experts import cpwl
    >>> cpwl.nodes(2, 1)
    array([[0., 0.],
           [0., 1.],
           [1., 0.],
           [1., 1.]])
    """
    return np.stack(np.meshgrid(*[np.arange(k + 1.0)] * n, indexing="ij"), -1).reshape(-1, n)


def _pair_distances(n: int) -> np.ndarray:
    """Rows e_i (i < n) and e_i − e_l (i < l): u ↦ these · u are the terms of the n ≤ 2 hat."""
    eye = np.eye(n)
    return np.array([eye[i] for i in range(n)] + [eye[i] - eye[l] for i, l in itertools.combinations(range(n), 2)])


def hat_network(n: int, activation: str = "relu") -> MLP:
    """The nodal hat φ(u) = σ(1 + min(0, u) − max(0, u)) on R^n (docs/theory.md §4.2), in the form used at n.

    Parameters
    ----------
    n : int
        Dimension, >= 1.
    activation : {"relu", "prelu"}, default "relu"

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If n < 1 or ``activation`` is unknown.

    Examples
    --------
    φ is 1 at the node, 0 at the other vertices and affine on each simplex:

    >>> import numpy as np
    >>> from moe_approx.experts import cpwl
    >>> hat = cpwl.hat_network(3)
    >>> np.asarray(hat(np.array([[0, 0, 0], [1, 0, 0], [0.5, 0.5, 0.25], [-0.5, 0.2, 0]])))[:, 0]
    array([1. , 0. , 0.5, 0.3])
    """
    n = check_int(n, "n")
    check_activation(activation)
    if n <= 2:  # max − min of {0, u} = (Σ pairwise distances)/n for n + 1 <= 3 numbers
        rows = _pair_distances(n)
        dist = pre_affine(absolute(len(rows), activation), rows.T, np.zeros(len(rows)))
        inner = post_affine(dist, -np.ones((len(rows), 1)) / n, np.ones(1))
    else:
        trees = post_affine(parallel(maximum(n, activation), minimum(n, activation)), np.diag([1.0, -1.0]), np.zeros(2))
        inner = post_affine(compose(rectifier(2, activation), trees), -np.ones((2, 1)), np.ones(1))
    return compose(rectifier(1, activation), inner)


def _ramps(k: int, activation: str) -> MLP:
    """z ↦ (σ(z − i))_{i<k} on R (n = 1)."""
    return pre_affine(rectifier(k, activation), np.ones((1, k)), -np.arange(k, dtype=np.float64))


def _shared_hats(k: int, activation: str) -> MLP:
    """z ↦ (φ(z − j))_j on R^2 from the 4k + 3 shared distances |z_1 − i|, |z_2 − i|, |z_1 − z_2 − d|."""
    grid = nodes(2, k)
    axis = np.arange(k + 1.0)
    diffs = np.arange(-k, k + 1.0)
    A = np.hstack([np.outer([1.0, 0.0], np.ones(k + 1)), np.outer([0.0, 1.0], np.ones(k + 1)), np.outer([1.0, -1.0], np.ones(2 * k + 1))])
    b = -np.concatenate([axis, axis, diffs])
    feats = pre_affine(absolute(A.shape[1], activation), A, b)
    N = len(grid)
    G = np.zeros((A.shape[1], N))
    cols = np.arange(N)
    G[grid[:, 0].astype(int), cols] = G[k + 1 + grid[:, 1].astype(int), cols] = -0.5
    G[2 * (k + 1) + k + (grid[:, 0] - grid[:, 1]).astype(int), cols] = -0.5
    return compose(rectifier(N, activation), post_affine(feats, G, np.ones(N)))


def _unit_network(n: int, k: int, activation: str) -> MLP:
    """Shared hidden layers on [0, k]^n: the ramps (n = 1) or the hats at every node (n >= 2)."""
    if n == 1:
        return _ramps(k, activation)
    if n == 2:
        return _shared_hats(k, activation)
    hat = hat_network(n, activation)
    return parallel(*[pre_affine(hat, np.eye(n), -j) for j in nodes(n, k)])


def node_values(target, lo, hi, k: int) -> np.ndarray:
    """f at the (k+1)^n sub-grid nodes of every cell, shape (L, (k+1)^n), in chunks of points.

    Parameters
    ----------
    target : HolderTarget
    lo, hi : array_like
        Cell corners, shape (L, n).
    k : int
        Sub-cells per side.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import cpwl
    >>> cpwl.node_values(targets.get("kink", n=1), np.array([[0.0]]), np.array([[1.0]]), 3)
    array([[0.33333333, 0.        , 0.33333333, 0.66666667]])
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    grid = nodes(target.n, k) / k
    L, N = lo.shape[0], len(grid)
    out = np.empty((L, N))
    cells = max(1, CHUNK_POINTS // N)
    for start in range(0, L, cells):  # chunks of cells, not one cell at a time
        sl = slice(start, start + cells)
        pts = lo[sl, None, :] + (hi - lo)[sl, None, :] * grid
        out[sl] = np.asarray(target(pts), dtype=np.float64)
    return out


def build(target, lo, hi, *, activation: str = "relu", k: int = SIZE_DEFAULTS["k"]) -> MLP:
    """The Kuhn interpolant of ``target`` on the (k+1)^n sub-grid of every cell [lo[i], hi[i]].

    Parameters
    ----------
    target : HolderTarget
    lo, hi : array_like
        Cell corners, shape (L, n).
    activation : {"relu", "prelu"}, default "relu"
    k : int, default 2
        Sub-cells per side.

    Returns
    -------
    MLP
        A stack (L,); hidden layers shared by all cells.

    Raises
    ------
    ValueError
        If k < 1, the cells are malformed, ``activation`` is unknown, or the experts would not
        fit in memory.

    Examples
    --------
    Affine functions are reproduced exactly (docs/theory.md §4.2):

    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import cpwl
    >>> f = targets.get("affine", n=2)
    >>> nets = cpwl.build(f, np.zeros((1, 2)), np.ones((1, 2)), k=2)
    >>> x = np.random.default_rng(0).random((1, 50, 2))
    >>> bool(np.allclose(np.asarray(nets(x))[..., 0], np.asarray(f(x)), atol=1e-14))
    True
    """
    k = check_int(k, "k")
    check_activation(activation)
    n = target.n
    lo, hi = check_cells(lo, hi, n)
    N, L = (k + 1) ** n, lo.shape[0]
    check_memory(8.0 * L * (N * (n + 3) + (n + 1) * width(n, activation, k)) + 8.0 * num_params(n, activation, k),
                 f"{L} cpwl experts with k={k} on n={n}")
    values = node_values(target, lo, hi, k)
    if n == 1:
        slopes = np.diff(values, axis=1)
        coeffs = np.concatenate([slopes[:, :1], np.diff(slopes, axis=1)], axis=1)
        offset = values[:, :1]
    else:
        coeffs, offset = values, np.zeros((L, 1))
    return _assemble(coeffs, offset, lo, hi, k, activation)


def _assemble(coeffs, offset, lo, hi, k: int, activation: str) -> MLP:
    """The experts x ↦ Σ_j coeffs_j h_j((x − lo)·k/(hi − lo)) + offset, h the unit network's outputs."""
    n = lo.shape[-1]
    net = post_affine(_unit_network(n, k, activation), coeffs[..., None], offset)
    scale = k / (hi - lo)
    return pre_affine(net, scale[..., :, None] * np.eye(n), -lo * scale)


def matches(net, lo, hi, k: int = SIZE_DEFAULTS["k"]) -> bool:
    """Whether the stack ``net`` (L,) is this construction on the cells [lo, hi] (docs/theory.md §5).

    The output weights are read as the coefficients (what :func:`lipschitz` reads), the network is
    rebuilt from them and compared bit for bit: only then is the exact constant valid for ``net``.
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    L, n = lo.shape
    w_out, b_out = (np.asarray(a) for a in net.layers[-1])
    size = k if n == 1 else (k + 1) ** n
    if w_out.shape != (L, size, 1) or np.shape(b_out) not in ((L, 1), (1,)):
        return False
    reference = _assemble(w_out[..., 0], np.broadcast_to(b_out, (L, 1)), lo, hi, k, net.activation)
    if reference.widths != net.widths or len(reference.slopes) != len(net.slopes):
        return False
    pairs = [(a, b) for (wa, ba), (wb, bb) in zip(reference.layers, net.layers) for a, b in ((wa, wb), (ba, bb))]
    pairs += list(zip(reference.slopes, net.slopes))
    return all(_same(a, b, L) for a, b in pairs)


def _same(a, b, L: int) -> bool:
    """Equal entries, a shared (unstacked) array standing for L equal copies."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == b.ndim + 1 and a.shape == (L,) + b.shape:
        b = np.broadcast_to(b, a.shape)
    elif b.ndim == a.ndim + 1 and b.shape == (L,) + a.shape:
        a = np.broadcast_to(a, b.shape)
    return a.shape == b.shape and bool(np.array_equal(a, b))


def lipschitz(net, lo, hi, k: int = SIZE_DEFAULTS["k"]):
    """Exact ‖·‖_∞-Lipschitz constant of each cell's interpolant (docs/theory.md §4.2, §5), or None for n > 6.

    On the Kuhn simplex of the path v_0, v_0 + e_π(1), …, the gradient has components
    (f(v_i) − f(v_{i−1}))·s_π(i), s = k/(hi − lo) the cell map's scale, so the constant is the
    largest Σ_i |f(v_i) − f(v_{i−1})| s_π(i) over sub-cubes and paths: a dynamic programme over the
    subsets of axes. The node values are read from the expert's last layer (n = 1: the ramp
    coefficients, whose partial sums are the slopes). Inflated by the rounding of the sums.
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    L, n = lo.shape
    if n > 6:
        return None
    scale = k / (hi - lo)
    coeffs = np.asarray(net.layers[-1][0])[..., 0]  # (L, k) ramps or (L, (k+1)^n) node values
    if n == 1:
        return np.max(np.abs(np.cumsum(coeffs, axis=1)), axis=1) * scale[:, 0] * (1 + 4 * k * 2.0**-53)
    values = coeffs.reshape((L,) + (k + 1,) * n)
    corner = {}
    for mask in range(2**n):  # f at the corner v_0 + e_S of every sub-cube, S = the bits of mask
        corner[mask] = values[(slice(None),) + tuple(slice(1, None) if mask >> i & 1 else slice(0, k) for i in range(n))]
    best = {0: np.zeros_like(corner[0])}
    for mask in range(1, 2**n):
        steps = [best[mask ^ 1 << i] + np.abs(corner[mask] - corner[mask ^ 1 << i]) * scale[(slice(None), i) + (None,) * n]
                 for i in range(n) if mask >> i & 1]
        best[mask] = functools.reduce(np.maximum, steps)
    return best[2**n - 1].reshape(L, -1).max(axis=1) * (1 + 8 * n * 2.0**-53)


def axis_lipschitz(net, lo, hi, k: int = SIZE_DEFAULTS["k"]):
    """Exact sup |∂_i Φ| of each cell's interpolant, (L, n) (docs/theory.md §5, per-axis bounds), or None for n > 6.

    On a Kuhn simplex ∂_i Φ = (f(v_j) − f(v_{j−1}))·s_i for the step j of its path along e_i, and every
    grid edge along e_i is such a step of some simplex: the largest |difference of node values along
    axis i| times s_i = k/(hi_i − lo_i).
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    L, n = lo.shape
    if n > 6:
        return None
    scale = k / (hi - lo)
    coeffs = np.asarray(net.layers[-1][0])[..., 0]
    if n == 1:
        return np.max(np.abs(np.cumsum(coeffs, axis=1)), axis=1, keepdims=True) * scale * (1 + 4 * k * 2.0**-53)
    values = coeffs.reshape((L,) + (k + 1,) * n)
    steps = [np.abs(np.diff(values, axis=1 + i)).reshape(L, -1).max(axis=1) for i in range(n)]
    return np.stack(steps, axis=1) * scale * (1 + 4 * 2.0**-53)


# --- closed forms (one expert) -----------------------------------------------------------------
class HatStats(NamedTuple):
    """Counts of one :func:`hat_network` (n >= 3): its hidden ``widths`` and its generic
    ``nonzero`` count with its output weight but without the output bias (in the expert, the node
    value f_j multiplies that output weight)."""

    widths: tuple
    nonzero: int


@functools.lru_cache(maxsize=None)
def _hat_stats(n: int, activation: str) -> HatStats:
    hat = hat_network(n, activation)
    return HatStats(hat.widths[1:-1], generic_nonzero(hat) - 1)


def _widths(n, activation, k):
    """Hidden widths of one expert."""
    if n == 1:
        return [k]
    if n == 2:
        features = 4 * k + 3
        return [features * (2 if activation == "relu" else 1), (k + 1) ** 2]
    return [(k + 1) ** n * w for w in _hat_stats(n, activation).widths]


def depth(n, activation="relu", k=SIZE_DEFAULTS["k"]):
    """n + 1 for n <= 2, ⌈log₂ n⌉ + 3 for n >= 3 (docs/theory.md §4.2).

    Examples
    --------
    >>> from moe_approx.experts import cpwl
    >>> [cpwl.depth(n) for n in (1, 2, 3, 4, 5)]
    [2, 3, 5, 5, 6]
    """
    if n <= 2:
        return n + 1
    return tree_depth(n) + 2


def width(n, activation="relu", k=SIZE_DEFAULTS["k"]):
    """Largest hidden layer of one expert; accepts a SymPy symbol for k.

    Examples
    --------
    >>> import sympy as sp
    >>> from moe_approx.experts import cpwl
    >>> k = sp.Symbol("k", positive=True, integer=True)
    >>> cpwl.width(1, k=5), cpwl.width(2, "relu", k=k) == sp.Max(2 * (4 * k + 3), (k + 1) ** 2)
    (5, True)
    """
    if n == 2:  # the 4k + 3 distances (twice for ReLU) or the (k + 1)^2 hats
        features, hats = _widths(n, activation, k)
        return sp.Max(features, hats) if isinstance(k, sp.Basic) else max(features, hats)
    if n == 1:
        return k
    return (k + 1) ** n * max(_hat_stats(n, activation).widths)


def num_params(n, activation="relu", k=SIZE_DEFAULTS["k"]):
    """Stored weights, biases (and PReLU slopes) of the dense layers of one expert.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import cpwl
    >>> net = cpwl.build(targets.get("cone", n=2), np.zeros((1, 2)), np.ones((1, 2)), k=3)
    >>> cpwl.num_params(2, "relu", k=3) == net.num_params
    True
    """
    d = [n] + _widths(n, activation, k) + [1]
    count = sum(d[l] * d[l + 1] + d[l + 1] for l in range(len(d) - 1))
    return count + (sum(d[1:-1]) if activation == "prelu" else 0)


def num_nonzero(n, activation="relu", k=SIZE_DEFAULTS["k"]):
    """Nonzero parameters of one expert for a cell and target in generic position.

    n = 1: 3k + 1; n = 2: 20k + 14 + 8(k+1)² (ReLU), (6k + 4) + 2(4k + 3) + 5(k+1)² (PReLU);
    n >= 3: (k+1)^n times the per-hat count (docs/theory.md §4.2). Accepts a SymPy k for n <= 2.

    Examples
    --------
    >>> import sympy as sp
    >>> from moe_approx.experts import cpwl
    >>> cpwl.num_nonzero(1, k=4), sp.expand(cpwl.num_nonzero(2, "prelu", k=sp.Symbol("k")))
    (13, 5*k**2 + 24*k + 15)
    """
    N = (k + 1) ** n
    if n == 1:  # W1, b1, W2 (k each) and the offset f_0; PReLU slopes are 0
        return 3 * k + 1
    if n == 2:  # first layer: weights 6k + 4 (x2 ReLU), biases 4k + 3 (x2 ReLU); hats: 3 (x2) + 1 each; output N
        if activation == "relu":
            return 20 * k + 14 + 8 * N
        return (6 * k + 4) + 2 * (4 * k + 3) + 5 * N  # + the 4k + 3 slopes −1
    return N * _hat_stats(n, activation).nonzero


def error_bound(alpha, constant, side, n, k=SIZE_DEFAULTS["k"]):
    """C (h/k)^α (docs/theory.md §4.2): I(x) is a convex combination of f at the vertices of the
    sub-simplex containing x, each within ∞-distance h/k of x.

    Parameters
    ----------
    alpha, constant : float or sympy.Expr
        The target's Hölder pair (α, C).
    side : float or sympy.Expr
        Cell side h.
    n : int
        Dimension (the bound does not depend on it).
    k : int or sympy.Expr, default 2

    Returns
    -------
    float or sympy.Expr

    Examples
    --------
    >>> from moe_approx.experts import cpwl
    >>> cpwl.error_bound(0.5, 1.0, 0.25, 2, k=4)      # (1/16)^(1/2)
    0.25
    """
    return constant * (side / k) ** alpha
