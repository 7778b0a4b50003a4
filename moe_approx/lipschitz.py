"""Per-cell constants of experts: Lipschitz bounds and float64 rounding bounds (docs/theory.md §5).

For an expert Φ_l on its cell Q_l = [lo, hi]:

- ``Λ_l`` bounds its Lipschitz constant with respect to ‖·‖_∞, i.e. sup_{x∈Q_l} ‖∇Φ_l(x)‖_1.
  For any (P)ReLU MLP (``weight_bound``): the ℓ1 norm of the row vector
  |W_J| D_{J−1} |W_{J−1}| ⋯ D_1 |W_1|, with D_j = diag(max |σ_a'|) over each pre-activation's interval
  on the cell (interval bound propagation, Gowal et al. 2018): 0 on ReLU neurons that are off on the
  whole cell, 1 or |a| where the sign is fixed, max(1, |a|) where it changes. A family may know its
  constant exactly (``lipschitz`` in its module, e.g. cpwl from its node values); the smaller is used.
- ``δ_l`` bounds |fl(Φ_l(x)) − Φ_l(x)| for every x ∈ Q_l: each affine layer adds the dot-product
  rounding bound γ_{d+2}(|W|ᵀ M + |b|) (Higham 2002, §3.1; M bounds |layer input| on the cell), carried
  forward through |W| and the activations' Lipschitz constants max(1, |a|).

Both are computed once per cell in numpy float64, vectorised over cells, in chunks of cells (no
compilation: a jitted version cost a few tenths of a second per stack shape on a first call). The
rounding bounds hold for any summation order, BLAS's included.
"""

from __future__ import annotations

import jax
import numpy as np

from .boxes import covering_box
from .mlp import index_stack

UNIT_ROUNDOFF = 2.0**-53
CELLS_PER_CALL = 2**12


def cell_bucket(cells: int) -> int:
    """The cell count a jitted kernel is compiled for: ``cells`` rounded up to 64·4^k while that is at most
    CELLS_PER_CALL, else to a power of two; the rounds of ``approximate`` then share a few kernel shapes."""
    k = (cells - 1).bit_length()
    return max(64, 1 << k + k % 2) if k + k % 2 <= CELLS_PER_CALL.bit_length() - 1 else 1 << k


def gamma(k) -> float:
    """γ_k = k u / (1 − k u): relative rounding bound of a k-term float64 dot product."""
    return k * UNIT_ROUNDOFF / (1 - k * UNIT_ROUNDOFF)


def _layer_product(h, w):
    """h (S, d) times W ((d, e) shared or (S, d, e) per cell)."""
    return h @ w if w.ndim == 2 else np.matmul(h[:, None, :], w)[:, 0]


def _lift(v, S):
    return np.broadcast_to(v, (S,) + v.shape[-1:])


def _cell_constants(net, centre, radius):
    """(Λ, δ, Λ_axes) for a stack of experts (S,) on the cells centre ± radius (S, n), covering boxes
    (module docstring). numpy: computed once per cell, it would cost a compilation per stack shape in JAX."""
    S = centre.shape[0]
    err = np.zeros_like(centre)
    derivs = []
    for l, (w, b) in enumerate(net.layers):
        wa, d_in = np.abs(w), w.shape[-2]
        g = gamma(d_in + 2)
        mag = np.abs(centre) + radius
        rounding = g * (_layer_product(mag, wa) + np.abs(_lift(b, S)))
        centre = _layer_product(centre, w) + _lift(b, S)
        radius = (_layer_product(radius, wa) + rounding) * (1 + 4 * g)  # the interval covers the rounding too
        err = (_layer_product(err, wa) + rounding) * (1 + 4 * g)
        if l < len(net.slopes):
            a = _lift(net.slopes[l], S)
            lo_z, hi_z = centre - radius, centre + radius
            derivs.append(np.where(lo_z >= 0, 1.0, np.where(hi_z <= 0, np.abs(a), np.maximum(1.0, np.abs(a)))))
            s_lo = np.maximum(lo_z, 0.0) + a * np.minimum(lo_z, 0.0)
            s_hi = np.maximum(hi_z, 0.0) + a * np.minimum(hi_z, 0.0)
            crossing = (lo_z < 0) & (hi_z > 0)
            top = np.maximum(np.maximum(s_lo, s_hi), np.where(crossing, 0.0, -np.inf))
            bottom = np.minimum(np.minimum(s_lo, s_hi), np.where(crossing, 0.0, np.inf))
            centre, radius = 0.5 * (top + bottom), 0.5 * (top - bottom) * (1 + 4 * UNIT_ROUNDOFF)
            err = np.maximum(1.0, np.abs(a)) * err
    # backward: v = |W_J| (column), then v <- |W_l| (D_l v) down to the input
    v = np.abs(_lift(net.layers[-1][0][..., 0], S))
    for l in range(len(net.slopes) - 1, -1, -1):
        w = np.abs(net.layers[l][0])
        v = derivs[l] * v
        v = v @ w.T if w.ndim == 2 else np.matmul(w, v[:, :, None])[..., 0]
    depth, width = len(net.layers), max(max(w.shape[-2:]) for w, _ in net.layers)
    inflate = 1 + gamma(depth * (width + 2))
    return np.sum(v, axis=-1) * inflate, err[:, 0] * inflate, v * inflate


def cell_constants(experts, lo, hi, family=None, size=None, axes: bool = False):
    """(Λ, δ): per-cell Lipschitz bound (‖·‖_∞ → |·|) and rounding bound of a stack of experts (L,).

    With ``axes``: (Λ, δ, Λ_axes), Λ_axes (L, n) the per-axis bounds sup_cell |∂_i Φ_l| (the entries
    of the row vector whose ℓ1 norm is Λ; docs/theory.md §5, per-axis bounds).
    ``family``: the expert family module (or None); if it defines ``lipschitz(experts, lo, hi, **size)``
    (and ``axis_lipschitz``) its constants are used where smaller than the weight bounds.
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    L = lo.shape[0]
    lip, err, lip_axes = np.empty(L), np.empty(L), np.empty(lo.shape)
    host = jax.tree_util.tree_map(np.asarray, experts)
    for start in range(0, L, CELLS_PER_CALL):
        idx = np.arange(start, min(L, start + CELLS_PER_CALL))
        lip[idx], err[idx], lip_axes[idx] = _cell_constants(index_stack(host, idx), *covering_box(lo[idx], hi[idx]))
    for name, bound in (("lipschitz", lip), ("axis_lipschitz", lip_axes)):
        exact = getattr(family, name, None)
        known = None if exact is None else exact(host, lo, hi, **(size or {}))
        if known is not None:
            np.minimum(bound, known, out=bound)
    return (lip, err, lip_axes) if axes else (lip, err)
