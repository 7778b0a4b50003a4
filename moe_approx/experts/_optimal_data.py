"""The optimal expert's data (docs/theory.md §4.4): quantized target values along the snake path,
packed into blocks, and the network of one cell (the 3^n copies side by side, then the median)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np

from ._optimal_layers import (OFFSETS, QUANT_MARGIN, BlockData, Copy, Expr, _extraction_layers, _index_layers, _Layer,
                              _median_layers, _selection_layers, num_blocks)


def snake_order(n: int, M: int) -> np.ndarray:
    """Cube multi-indices (N^n, n), N = M + 1, in snake order: position s holds the cube whose
    digits d_k = i_k, or M − i_k when i_1 + … + i_{k−1} is odd, spell s in base N.

    Parameters
    ----------
    n : int
        Dimension.
    M : int
        N − 1.

    Returns
    -------
    numpy.ndarray
        Shape (N^n, n); consecutive rows are face neighbours (docs/theory.md §4.4).

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx.experts import optimal
    >>> optimal.snake_order(2, 2).tolist()
    [[0, 0], [0, 1], [0, 2], [1, 2], [1, 1], [1, 0], [2, 0], [2, 1], [2, 2]]
    >>> bool(np.all(np.abs(np.diff(optimal.snake_order(3, 3), axis=0)).sum(axis=1) == 1))
    True
    """
    N = M + 1
    digits = np.stack(np.unravel_index(np.arange(N**n), (N,) * n), axis=-1)
    cubes = np.empty_like(digits)
    prefix = np.zeros(N**n, dtype=np.int64)
    for k in range(n):
        cubes[:, k] = np.where(prefix % 2 == 1, M - digits[:, k], digits[:, k])
        prefix += cubes[:, k]
    return cubes


def _cube_centres(M: int, offset: float) -> np.ndarray:
    """Centres in [0, 1] of the cubes t = M u − o ∈ [i − 1, i), i = 0..M, clipped to [0, 1]."""
    i = np.arange(M + 1)
    return 0.5 * (np.maximum(0.0, (i - 1 + offset) / M) + np.minimum(1.0, (i + offset) / M))


def _copy_offsets(n):
    return list(itertools.product(OFFSETS, repeat=n))


def _block_data(target, lo, hi, M, B, exact):
    """Per copy: block start values and encodings; per cell: q and the output constant."""
    n = target.n
    L, A, N = lo.shape[0], num_blocks(n, M, B), (M + 1) ** n
    side = hi - lo
    q = target.constant * (side.max(axis=1) / M) ** target.alpha * (1 + QUANT_MARGIN)
    g0 = np.asarray(target(0.5 * (lo + hi)), dtype=np.float64)
    cubes = snake_order(n, M)
    values = []
    for offsets in _copy_offsets(n):
        centres = np.stack([_cube_centres(M, float(o))[cubes[:, k]] for k, o in enumerate(offsets)], axis=-1)
        x = lo[:, None, :] + centres[None] * side[:, None, :]
        g = np.asarray(target(np.clip(x, lo[:, None, :], hi[:, None, :])), dtype=np.float64)
        values.append(np.floor((g - g0[:, None]) / q[:, None]).astype(np.int64))
    w = np.stack(values)  # (copies, L, N)
    w = np.concatenate([w, np.repeat(w[..., -1:], A * B - N, axis=-1)], axis=-1).reshape(w.shape[:2] + (A, B))
    steps = np.zeros_like(w)
    v = w[..., 0]
    cumulative = [v]
    for m in range(1, B):  # |Δv| <= 1 holds in exact arithmetic; the clip only guards float rounding of f
        steps[..., m] = np.clip(w[..., m] - v, -1, 1)
        v = v + steps[..., m]
        cumulative.append(v)
    real = (np.arange(A * B) < N).reshape(A, B)
    steps[..., ~real] = 0
    v_all = np.stack(cumulative, axis=-1)
    vmin = np.where(real, v_all, np.iinfo(np.int64).max).min(axis=(0, 2, 3))  # (L,)
    start = v_all[..., 0] - vmin[None, :, None] + 1  # (copies, L, A), >= 1: no stored start is 0
    powers = [4 ** (B - 1 - m) for m in range(1, B)]
    code = sum(((steps[..., m].astype(object) + 2) * powers[m - 1] for m in range(1, B)), np.zeros(start.shape, object))
    if exact:
        scale = Fraction(1, 4 ** (B - 1))
        y = np.vectorize(lambda c: Fraction(int(c)) * scale, otypes=[object])(code)
        start = start.astype(object)
        q_out = np.array([Fraction(float(v)) for v in q], dtype=object)
        const = np.array([Fraction(float(qq)) * (int(vm) - Fraction(1, 2)) + Fraction(float(g)) for qq, vm, g in zip(q, vmin, g0)],
                         dtype=object)
    else:
        y = code.astype(np.float64) * 0.25 ** (B - 1)  # code < 4^(B−1) <= 2^52: exact
        start = start.astype(np.float64)
        q_out, const = q, q * (vmin - 0.5) + g0
    return BlockData(y, start, q_out, const)


def _network(target, lo, hi, activation, M, B, exact):
    """The expert of every cell [lo[i], hi[i]] as (hidden layers, output expression)."""
    n = target.n
    A = num_blocks(n, M, B)
    data = _block_data(target, lo, hi, M, B, exact)
    if exact:
        lo_q = np.array([[Fraction(float(v)) for v in row] for row in lo], dtype=object)
        inv_side = np.array([[1 / (Fraction(float(b)) - Fraction(float(a))) for a, b in zip(r0, r1)] for r0, r1 in zip(lo, hi)],
                            dtype=object)
    else:
        lo_q, inv_side = lo, 1.0 / (hi - lo)
    u = [Expr({k: inv_side[:, k]}, -lo_q[:, k] * inv_side[:, k]) for k in range(n)]
    copies = []
    for c, offsets in enumerate(_copy_offsets(n)):
        offsets = offsets if exact else tuple(float(o) for o in offsets)
        index = _index_layers(n, M, B, offsets, u)
        y_data = list(data.y[c].T) if B > 1 else None  # B = 1: nothing to extract
        select, y_sel, s_sel, b_sel = _selection_layers(A, index.a, index.b, y_data, list(data.start[c].T), activation)
        extract, value = _extraction_layers(B, y_sel, s_sel, b_sel)
        copies.append(Copy(index.layers + select + extract, value))
    layers, values = _side_by_side(copies)
    median, mid = _median_layers(values)
    return layers + median, mid * data.q + data.const


def _side_by_side(copies):
    """Copies with identical layer shapes as one network (block-diagonal layers)."""
    first = copies[0].layers
    merged = [_Layer() for _ in range(len(first))]
    for copy in copies:
        for l, layer in enumerate(copy.layers):
            shift = len(merged[l - 1]) - len(first[l - 1]) if l else 0
            base = len(merged[l])
            for expr, kind in zip(layer.exprs, layer.kinds):
                merged[l].add(Expr({i + shift: v for i, v in expr.terms.items()}, expr.const), kind)
            assert len(merged[l]) == base + len(layer)
    last = len(first[-1])
    values = [Expr({i + c * last: v for i, v in copy.value.terms.items()}, copy.value.const) for c, copy in enumerate(copies)]
    return merged, values
