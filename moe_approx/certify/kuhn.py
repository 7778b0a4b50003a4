"""The Kuhn-piece bound of |f − Φ| for cpwl experts (docs/theory.md §5, "Kuhn pieces").

A cpwl expert (:mod:`moe_approx.experts.cpwl`, its label checked by ``matches``) is, up to a
rounding term η_l computed below, the Kuhn interpolant K of its node values: with z = s(x − lo)
(s = k/(hi − lo), the float of the expert's cell map), on the sub-cube j + [0,1]^n and the simplex
t_π(1) ≥ … ≥ t_π(n) (t = z − j) it is the affine piece

    A_{j,π}(x) = V(j) + Σ_p (V(j + e_{π(1..p)}) − V(j + e_{π(1..p−1)})) t_π(p),   ∇_x A = g = g_z·s.

On a box B with centre c and radii r, every point of B lies in a piece (j, π) that meets B, and there
K = A_{j,π}, so sup_B |f − K| ≤ max over those pieces of

    min( |f(c) − A(c)| + Σ_i max_{∂_i f ∈ ∇f(B)} |∂_i f − g_i| r_i,        (mean-value form)
         max(f_hi − A(c) + Σ|g_i| r_i, A(c) + Σ|g_i| r_i − f_lo) )          (the ranges of f and A)

for a formula, and the same with ∇f(c) and the Taylor remainder T(ρ) (or ω(ρ)) for a declared
target. The simplex π of sub-cube j meets the box's t-range [a, b] ⊆ [0,1]^n iff a_π(q) ≤ b_π(p) for
all p < q (take t_π(p) = max_{q ≥ p} a_π(q)). Unlike the network's affine form, no ReLU is relaxed:
near a maximum of f − Φ inside a simplex the bound falls like ρ², and across simplices it keeps
the true slopes of f − A instead of the hats' |node values|.
"""

from __future__ import annotations

import itertools
import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..assumptions import TARGET_RTOL
from ..lipschitz import UNIT_ROUNDOFF, gamma
from .kernels import _box_ends, formula_gradient, formula_values, _target_terms, row_max, row_sum
from .report import is_formula
from .._config import kernel_jit

MAX_N = 4  # the bound takes n! · 2^n pieces per box: 384 at n = 4, 3,840 at n = 5 (there the network's affine
# form is used); Φ(c) from the pieces (KuhnPieces.evaluate_centres) costs O(n²) at any n


def _grid(nodes: int, n: int):
    """(k, strides) of the (k+1)^n sub-grid nodes of a cell, last coordinate fastest (cpwl.nodes)."""
    k = round(nodes ** (1 / n)) - 1
    return k, (k + 1) ** np.arange(n - 1, -1, -1)


class KuhnPieces(NamedTuple):
    """Per cell: node values (L, (k+1)^n), output offset (L,), cell map z = scale·(x − lo), and η (L,)."""

    values: jax.Array
    offset: jax.Array
    scale: jax.Array
    lo: jax.Array
    eta: jax.Array

    def evaluate_centres(self, cell, centre, lip):
        """Φ at the points ``centre`` (N, n) of cells ``cell`` from the pieces, and a bound of |fl − Φ|
        (the point kernel's δ; ``lip``: the cells' Λ). The piece of the computed z_f is chosen exactly
        (floor and comparisons of floats), t = z_f − j is exact (Sterbenz), so the value is K(z_f) up to
        the sum's rounding; |K(z_f) − K(z)| <= Λ max_i |z_f − z|_i / s_i + 2η (Λ bounds Φ's slopes, exactly
        K's for n <= 6), and |Φ − K| <= η. The δ returned adds 2η more, for the point bound's variation
        term: |Φ(x) − Φ(c)| <= Λρ + 2η."""
        N, n = centre.shape
        k, strides = _grid(self.values.shape[1], n)
        scale = self.scale[cell]
        z = (centre - self.lo[cell]) * scale
        j = jnp.clip(jnp.floor(z), 0, k - 1)
        t = z - j
        rank = _ranks(t)  # π: t_π(1) >= ... >= t_π(n), ties by axis (no sort: n² comparisons)
        raised = rank[:, None, :] < np.arange(n + 1)[:, None]  # (N, n+1, n): axis i in π(1..p)
        flat = row_sum(j.astype(jnp.int32) * strides.astype(np.int32))
        index = flat[:, None] + row_sum(jnp.where(raised, strides.astype(np.int32), 0))  # (N, n+1)
        nodes = self.values[cell[:, None], index]
        t_sorted = row_sum(jnp.where(rank[:, None, :] == np.arange(n)[:, None], t[:, None, :], 0.0))  # t_π(p)
        terms = jnp.diff(nodes, axis=-1) * t_sorted
        phi = self.offset[cell] + nodes[:, 0] + row_sum(terms)
        err = (gamma(n + 2) * (jnp.abs(self.offset[cell]) + jnp.abs(nodes[:, 0]) + row_sum(jnp.abs(terms)))
               + lip * row_max(3 * UNIT_ROUNDOFF * jnp.abs(z) / scale) + 5 * self.eta[cell])
        return phi, err * (1 + gamma(4))

    def centre_error(self, lip) -> np.ndarray:
        """Per cell, a bound of the δ of :meth:`evaluate_centres` at any point of the cell (host arrays):
        Σ|terms| <= 2n max|V| + |V(j)|, |z|/s <= k/s = hi − lo (up to rounding)."""
        n = self.scale.shape[1]
        k, _ = _grid(self.values.shape[1], n)
        size = np.abs(self.offset) + (2 * n + 1) * np.max(np.abs(self.values), axis=1)
        z_err = 3 * UNIT_ROUNDOFF * np.max(k / self.scale, axis=1) * (1 + gamma(4))
        return (gamma(n + 2) * size + lip * z_err + 5 * self.eta) * (1 + gamma(8))


def _ranks(t):
    """Per row of t (N, n), the position of each axis in the order of decreasing t, ties by axis: an
    exact permutation from float comparisons."""
    n = t.shape[-1]
    axis = np.arange(n)
    ahead = (t[:, None, :] > t[:, :, None]) | ((t[:, None, :] == t[:, :, None]) & (axis < axis[:, None]))
    return row_sum(ahead.astype(jnp.int32))


def construction_rounding(experts, lo, hi, k: int) -> np.ndarray:
    """η_l (L,): a bound of |Φ_l − K_l| on cell l for checked cpwl experts (module docstring, and
    :func:`kuhn_pieces`): the fused first layer's rounding carried to the output, and the cell map's
    rounding at the faces."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    L, n = lo.shape
    host = jax.tree_util.tree_map(np.asarray, experts)
    last = np.broadcast_to(host.layers[-1][0][..., 0], (L, host.layers[-1][0].shape[-2]))
    w1 = np.broadcast_to(host.layers[0][0], (L,) + host.layers[0][0].shape[-2:])
    size = np.maximum(np.abs(lo), np.abs(hi))
    pre = gamma(n + 2) * (np.abs(np.broadcast_to(host.layers[0][1], w1.shape[::2])) +
                          3 * np.einsum("li,lij->lj", size, np.abs(w1)))
    v = np.abs(last)  # backward through the hidden layers: |W| and the slopes' max(1, |a|)
    for l in range(len(host.layers) - 2, 0, -1):
        a, w = np.maximum(1.0, np.abs(np.asarray(host.slopes[l]))), np.abs(host.layers[l][0])
        v = (a * v) @ w.T if w.ndim == 2 else np.einsum("le,lde->ld", a * v, w)
    v = np.maximum(1.0, np.abs(np.asarray(host.slopes[0]))) * v if host.slopes else v
    eta = np.sum(v * pre, axis=1) + 6 * np.sum(np.abs(last), axis=1) * gamma(4) * k
    return eta * (1 + gamma(8))


def kuhn_pieces(experts, lo, hi, k: int) -> KuhnPieces | None:
    """The pieces of a stack of cpwl experts (L,) on cells [lo, hi] already checked by
    ``experts.cpwl.matches``; None for n = 1 (the experts are ramps there).

    η_l bounds |Φ_l − K_l| on the cell (:func:`construction_rounding`): the expert is the exact
    construction except for the rounding of its fused first layer (cell map times the hats' first
    layer: weights and biases off by at most γ_{n+2}(|b| + 3 Σ_i max(|lo_i|, |hi_i|)|W_i|) per neuron),
    carried to the output by the ∞ → |·| Lipschitz bound of the remaining layers; plus the cell map's
    own rounding at the faces (z(hi) = k(1 ± 2u): the hats are 2-Lipschitz, so 6 Σ|V| γ_4 k covers K
    and A beyond z = k).
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    L, n = lo.shape
    if n < 2:
        return None
    host = jax.tree_util.tree_map(np.asarray, experts)
    values = np.broadcast_to(host.layers[-1][0][..., 0], (L, (k + 1) ** n))
    offset = np.broadcast_to(host.layers[-1][1], (L, 1))[:, 0]
    eta = construction_rounding(host, lo, hi, k)
    return KuhnPieces(values, offset, k / (hi - lo), lo, eta)  # numpy: the evaluator pads them and puts them on the device


def _tables(n: int, k: int):
    """Static tables: the node strides; per (sub-cube mask m, permutation π) the flat offsets of the path's
    n + 1 nodes from the box's base sub-cube; per π the rank of each axis and the pairs it orders."""
    _, strides = _grid((k + 1) ** n, n)
    bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1  # (M, n)
    perms = np.array(list(itertools.permutations(range(n))))  # (P, n): π(p)
    rank = np.argsort(perms, axis=1)  # (P, n): the step p at which axis i is raised
    member = rank[:, None, :] < np.arange(n + 1)[None, :, None]  # (P, n+1, n): axis i in π(1..p)
    offsets = (bits[:, None, None, :] + member[None]) @ strides  # (M, P, n+1)
    before = rank[:, :, None] < rank[:, None, :]  # (P, n, n): axis i comes before axis i' in π
    return strides, bits, rank, offsets, before


@partial(kernel_jit, static_argnums=0)
def kuhn_kernel(target, pieces: KuhnPieces, slot_cell, slot_point, point_lane, centre, radius, fc, grad):
    """The Kuhn-piece upper bound of boxes (N, n) (module docstring), with the calling convention of
    the second-bound kernels (:func:`.evaluator.second_bound_kernel`); inf for a box spanning more than
    two sub-cubes along an axis."""
    N, n = centre.shape
    k, _ = _grid(pieces.values.shape[1], n)
    strides, bits, rank, offsets, before = (jnp.asarray(t) for t in _tables(n, k))
    cell = slot_cell[point_lane // slot_point.shape[1]]
    scale, lo = pieces.scale[cell], pieces.lo[cell]

    def to_z(x):  # z = s(x − lo) and a bound of its rounding (two roundings)
        z = (x - lo) * scale
        return z, 3 * UNIT_ROUNDOFF * jnp.abs(z)

    box_lo, box_hi = _box_ends(centre, radius)
    (zl, el), (zh, eh), (zc, ec) = to_z(box_lo), to_z(box_hi), to_z(centre)
    zl, zh = jnp.clip(zl - el, 0, k), jnp.clip(zh + eh, 0, k)
    base = jnp.clip(jnp.floor(zl), 0, k - 1)  # (N, n)
    applies = jnp.all(zh <= base + 2, axis=-1)
    j = base[:, None, :] + bits  # (N, M, n): the sub-cubes met
    reach = jnp.all((bits == 0) | (zh[:, None] > base[:, None] + 1), axis=-1)  # (N, M)
    a, b = jnp.clip(zl[:, None] - j, 0, 1), jnp.clip(zh[:, None] - j, 0, 1)
    meets = jnp.all(~before[None, None] | (a[:, :, None, None, :] <= b[:, :, None, :, None]), axis=(-1, -2))
    meets = meets & reach[..., None]  # (N, M, P)
    flat = base.astype(jnp.int32) @ strides.astype(jnp.int32)
    index = jnp.clip(flat[:, None, None, None] + offsets[None], 0, pieces.values.shape[1] - 1)
    nodes = pieces.values[cell[:, None, None, None], index]  # (N, M, P, n+1)
    steps = jnp.diff(nodes, axis=-1)
    g_z = jnp.take_along_axis(steps, jnp.broadcast_to(rank[None, None], steps.shape), axis=-1)  # (N, M, P, n)
    t = zc[:, None, None] - j[:, :, None]
    value = pieces.offset[cell][:, None, None] + nodes[..., 0] + jnp.sum(g_z * t, -1)  # A(c)
    g = g_z * scale[:, None, None]
    spread = jnp.sum(jnp.abs(g) * radius[:, None, None], -1)  # the range of A − A(c) on the box
    # rounding of A(c): the sum, t's (zc's and the subtraction's), the steps' and g's
    value_err = (gamma(n + 2) * (jnp.abs(pieces.offset[cell])[:, None, None] + jnp.abs(nodes[..., 0]) +
                                 jnp.sum(jnp.abs(g_z * t), -1))
                 + jnp.sum(jnp.abs(g_z) * (ec[:, None, None] + UNIT_ROUNDOFF * jnp.abs(t)), -1) + gamma(n + 3) * spread)
    R = radius[:, None, None]
    if is_formula(target):
        f_lo, f_hi, defined, c_lo, c_hi = formula_values(target, centre, radius, grad)
        d_lo, d_hi = formula_gradient(target, centre, radius, grad)
        f_lo, f_hi, c_lo, c_hi = (v[:, None, None] for v in (f_lo, f_hi, c_lo, c_hi))
        slope = jnp.maximum(jnp.abs(d_lo[:, None, None] - g), jnp.abs(d_hi[:, None, None] - g)) * R
        mean_value = jnp.maximum(c_hi - value, value - c_lo) + jnp.sum(jnp.where(jnp.isfinite(slope), slope, jnp.inf), -1)
        natural = jnp.maximum(f_hi - value + spread, value + spread - f_lo)
        piece = jnp.where(defined[:, None, None], jnp.minimum(natural, mean_value), jnp.inf)
        scale_terms = jnp.abs(f_lo) + jnp.abs(f_hi) + jnp.abs(value) + spread
    else:
        omega, taylor = _target_terms(target, grad, radius)
        gap = jnp.abs(fc[:, None, None] - value)
        piece = gap + spread + omega[:, None, None]
        scale_terms = jnp.abs(fc)[:, None, None] + jnp.abs(value) + spread + omega[:, None, None]
        if grad is not None:
            first = gap + jnp.sum(jnp.abs(grad[:, None, None] * R - g * R), -1) + taylor[:, None, None]
            piece = jnp.minimum(piece, first)
            scale_terms = scale_terms + jnp.sum(jnp.abs(grad) * radius, -1)[:, None, None] + taylor[:, None, None]
    piece = piece + value_err + TARGET_RTOL * scale_terms
    upper = jnp.max(jnp.where(meets, piece, -jnp.inf), axis=(1, 2))
    upper = jnp.where(applies & jnp.isfinite(upper), upper + pieces.eta[cell] * (1 + TARGET_RTOL), jnp.inf)
    return (upper,)


def lane_bytes(n: int) -> int:
    """Memory of one box in :func:`kuhn_kernel` (an estimate: about 12 arrays of (M, P, n + 1) floats and
    the (M, P, n, n) pair tests), M·P = 2^n n! pieces."""
    return 8 * 2**n * math.factorial(n) * (12 * (n + 1) + n * n)
