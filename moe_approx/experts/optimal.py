"""Optimal-rate deep experts by bit extraction (docs/theory.md §4.4).

Yarotsky 2018 (arXiv:1802.03620); Shen, Yang, Zhang 2020 (arXiv:1906.05497) and 2022
(arXiv:2103.00502). On the unit cube of a cell (coordinates u = (x − lo)/(hi − lo)):

1. Index (step functions). N = M + 1 cubes per side: cube i ∈ {0..M} of coordinate k is
   t_k = M·u_k − o ∈ [i − 1, i) (clipped to [0, 1]), o the copy's offset. The step
   σ(8(t − j) + 1) − σ(8(t − j)) is exact except on the *trifling band* t ∈ (j − 1/8, j), of width
   1/(8M) in u. n = 1 uses two scales (A − 1 coarse steps, then B − 1 fine steps on t − aB);
   n ≥ 2 uses M steps per coordinate.
2. Snake order (n ≥ 2): coordinate k runs backwards when i_1 + … + i_{k−1} is odd, so consecutive
   path positions s are face neighbours. The parities are alternating sums of the same steps.

Sizes: A blocks of B cubes; :func:`grid_side` picks N = M + 1 = max(2, ⌊(A·B)^(1/n)⌋) cubes per
side, so P ≍ A + B (plus O(M) index steps, ≤ A + B for n ≥ 2) and error ≍ 1/M ≍ (A·B)^(−1/n):
with A ≍ B that is P^(−2/n).

3. Blocks: s = a·B + b, ⌈N^n / B⌉ <= A blocks of B cubes. Per block: its start value and one
   dyadic y = Σ_m (d_m + 2)·4^(−m) encoding its B − 1 increments d_m ∈ {−1, 0, 1}. Selection by
   indicators [a = j] (a deep chain; one nonzero term per sum: exact); extraction of the base-4
   digits D ∈ {1, 2, 3} of y, two layers per digit: D = 1 + [y ≥ 1/2] + [y ≥ 3/4] from the integer
   pre-activations 2^(K_m)(y − c), K_m = 2(B − m), then y ← 4y − D; the running sum adds
   [b ≥ m]·(D − 2) through u·d = σ(d + u − 1) − σ(−d + u − 1).
4. Median: 3^n copies with offsets o ∈ {1/4, 1/2, 3/4} per coordinate, whose bands are disjoint;
   mid(a, b, c) = max(min(a, b), min(max(a, b), c)) nested over the coordinates
   (Shen–Yang–Zhang 2022) is exact everywhere: per coordinate at most one offset is in its band.

Values: v = ⌊(f(c) − f(cell centre))/q⌋ at the cube centres c with q = C (h/M)^α (1 + 2^−20)
(h the cell's largest side), so snake neighbours differ by at most 1; the output is
q·(v + 1/2) + const and the error is at most q·(1/2 + 2^−α) (:func:`error_bound`).

Float64 limit (:data:`MAX_BLOCK_FLOAT64` = 27): y has K_1 = 2(B − 1) significant bits (its
leading digit is nonzero), and the extraction's pre-activations 2^(K_m)·(4y_prev − D − c) and the
update 4y − D are integers up to 2^(K_1) resp. dyadics with K_m bits; all are exact iff
2(B − 1) ≤ 53, so B ≤ 27 (B = 28 needs 54 bits: the last digit is rounded away). Larger blocks:
:func:`build_exact` and :func:`moe_approx.exact.evaluate_exact`.
In exact arithmetic every stage is exact off the band. In float64 a step of a real argument,
σ(z + 1) − σ(z), is 1 only up to rounding, so a, b and s are integers up to ~1e-12; the
indicators have a dead zone, I = σ(1 − σ(4|a − j| − 1)), which makes them exactly 0 or 1, so the
encoding y and every extracted digit are exact (integer pre-activations below 2^53, or one
nonzero dyadic term); only the running sum and the output carry the ~1e-12·q rounding.

ReLU carries values through σ(t) = t, valid because every carried quantity is ≥ 0 off the band
(values are stored relative to their minimum); PReLU carries with slope 1 and builds |a − j| with
one slope −1 neuron. In the band the copies compute finite garbage, which the median discards.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import sympy as sp

from .._checks import check_int
from ..mlp import MLP, check_activation
from ..targets import holder_constants
from . import check_cells

SIZE_DEFAULTS = {"A": 4, "B": 4}
MAX_BLOCK_FLOAT64 = 27
SIZE_LIMITS = {"B": MAX_BLOCK_FLOAT64}  # largest sizes build() accepts (float64); rates.budget_solve stays within
OFFSETS = (Fraction(1, 4), Fraction(1, 2), Fraction(3, 4))
STEP_SCALE = 8  # steps rise over t ∈ [j − 1/8, j]: band width 1/(8M) in cell coordinates
QUANT_MARGIN = 2.0**-20  # q = C (h/M)^α (1 + margin): float rounding of f cannot break |Δv| <= 1

_SEL_WIDTH = {"relu": 8, "prelu": 7}  # a, b, y, S, P, Q, Z, I  /  a, b, y, S, |a − j|, Z, I


# --- a small sparse network builder ------------------------------------------------------------
class Expr:
    """An affine expression Σ coef·neuron + const over the previous layer; a coefficient is a
    scalar (shared by all cells) or an array of shape (L,) (one value per cell)."""

    __slots__ = ("terms", "const")

    def __init__(self, terms=None, const=0):
        self.terms, self.const = dict(terms or {}), const

    def __add__(self, other):
        other = other if isinstance(other, Expr) else Expr(const=other)
        terms = dict(self.terms)
        for k, v in other.terms.items():
            terms[k] = terms[k] + v if k in terms else v
        return Expr(terms, self.const + other.const)

    __radd__ = __add__

    def __mul__(self, factor):
        const = 0 if isinstance(self.const, int) and self.const == 0 else self.const * factor
        return Expr({k: v * factor for k, v in self.terms.items()}, const)

    __rmul__ = __mul__

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other if isinstance(other, Expr) else -other)

    def __rsub__(self, other):
        return (-self) + other


def _var(i: int) -> Expr:
    return Expr({i: 1})


class _Layer:
    """One hidden layer: neurons σ_kind(expr) with kind 'relu' (slope 0), 'carry' (slope 1 with
    PReLU, 0 with ReLU) or 'abs' (slope −1, PReLU only)."""

    def __init__(self):
        self.exprs, self.kinds = [], []

    def add(self, expr: Expr, kind: str = "relu") -> Expr:
        self.exprs.append(expr)
        self.kinds.append(kind)
        return _var(len(self.exprs) - 1)

    def __len__(self):
        return len(self.exprs)


def _step_pair(layer: _Layer, t: Expr) -> Expr:
    """[t ≥ 0] = σ(8t + 1) − σ(8t): exact off the band t ∈ (−1/8, 0); exact for integer t."""
    return layer.add(STEP_SCALE * t + 1) - layer.add(STEP_SCALE * t)


def _int_step(layer: _Layer, t: Expr) -> Expr:
    """[t ≥ 0] = σ(t + 1) − σ(t) for integer t."""
    return layer.add(t + 1) - layer.add(t)


class Segment(NamedTuple):
    """A run of hidden layers in the closed-form counts: widths of its ``first`` and ``last``
    layers, the ``inner_params`` (weights and biases) between its own layers, its number of
    ``layers`` and of ``neurons``."""

    first: object
    last: object
    inner_params: object
    layers: object
    neurons: object


class IndexLayers(NamedTuple):
    """The index stage of one copy: its ``layers``, the block ``a`` and the position ``b`` in the block."""

    layers: list
    a: Expr
    b: Expr


class Copy(NamedTuple):
    """One shifted copy of the expert: its hidden ``layers`` and its output expression ``value``."""

    layers: list
    value: Expr


class BlockData(NamedTuple):
    """Data of every copy and cell: block encodings ``y`` and ``start`` values (copies, L, A), the
    quantum ``q`` and the output constant ``const`` (L,)."""

    y: np.ndarray
    start: np.ndarray
    q: np.ndarray
    const: np.ndarray


# --- one copy: index, selection, extraction ------------------------------------------------------
def _iroot(x: int, n: int) -> int:
    """⌊x^(1/n)⌋ for integers, exactly (Newton's method on Python ints)."""
    if x < 2 or n == 1:
        return x
    r = 1 << -(-x.bit_length() // n)  # >= the root
    while True:
        s = ((n - 1) * r + x // r ** (n - 1)) // n
        if s >= r:
            return r
        r = s


def grid_side(n, A, B):
    """M: the expert splits its cell into N = M + 1 = max(2, ⌊(A·B)^(1/n)⌋) cubes per side, so
    that N^n <= A·B cubes fill at most A blocks of B (exactly A when A·B is an n-th power).

    Parameters
    ----------
    n, A, B : int or sympy.Expr
        Dimension, blocks, cubes per block.

    Returns
    -------
    int or sympy.Expr

    Examples
    --------
    >>> from moe_approx.experts import optimal
    >>> optimal.grid_side(1, 4, 4), optimal.grid_side(2, 4, 4), optimal.grid_side(2, 1, 1)
    (15, 3, 1)
    """
    if any(isinstance(v, sp.Basic) for v in (n, A, B)):
        return sp.Max(2, sp.floor((A * B) ** sp.Rational(1, n))) - 1
    return max(2, _iroot(int(A) * int(B), int(n))) - 1


def num_blocks(n, M, B):
    """A = ⌈(M + 1)^n / B⌉ blocks of B cubes on the snake path.

    Parameters
    ----------
    n, M, B : int or sympy.Expr

    Returns
    -------
    int or sympy.Expr

    Examples
    --------
    >>> from moe_approx.experts import optimal
    >>> optimal.num_blocks(2, optimal.grid_side(2, 5, 4), 4)     # N = 4: 16 cubes in 4 blocks
    4
    """
    if any(isinstance(v, sp.Basic) for v in (n, M, B)):
        return sp.ceiling((M + 1) ** n / B)
    return -(-((M + 1) ** n) // B)


def _index_layers(n, M, B, offsets, u):
    """Layers computing the block a and the position b in the block (docs/theory.md §4.4 steps 1–3)."""
    A = num_blocks(n, M, B)
    if n == 1:  # two scales: a from A − 1 coarse steps, b from B − 1 fine steps on t − aB
        t = M * u[0] - offsets[0]
        coarse, narrow, fine = _Layer(), _Layer(), _Layer()
        t_plus_1 = coarse.add(t + 1, "carry")  # t + 1 >= 1 − o > 0
        a = sum((_step_pair(coarse, t - (j * B - 1)) for j in range(1, A)), Expr())
        t_plus_1, a = narrow.add(t_plus_1, "carry"), narrow.add(a, "carry")  # keeps wide layers apart
        a_carried = fine.add(a, "carry")
        tau = t_plus_1 - 1 - B * a
        b = sum((_step_pair(fine, tau - (m - 1)) for m in range(1, B)), Expr())
        return IndexLayers([coarse, narrow, fine], a_carried, b)
    steps, parity_steps, snake, split = _Layer(), _Layer(), _Layer(), _Layer()
    index, parity = [], []
    for k in range(n):
        t = M * u[k] - offsets[k]
        s_k = [_step_pair(steps, t - j) for j in range(M)]
        index.append(sum(s_k, Expr()))
        parity.append(sum((s if j % 2 == 0 else -s for j, s in enumerate(s_k)), Expr()))
    index = [parity_steps.add(e, "carry") for e in index]
    prefix = [Expr()]  # parity of i_1 + ... + i_{k-1}: parity of the small integer Σ_{l<k} par_l
    for k in range(1, n):
        total = sum(parity[:k], Expr())
        prefix.append(sum((_int_step(parity_steps, total - j) * (1 if j % 2 else -1) for j in range(1, k + 1)), Expr()))
    digits = [snake.add(index[0], "carry")]
    for k in range(1, n):  # snake digit i + p (M − 2i), as u·w = σ(w − M(1−u)) − σ(−w − M(1−u))
        w = M - 2 * index[k]
        i_k = snake.add(index[k], "carry")
        digits.append(i_k + snake.add(w - M + M * prefix[k]) - snake.add(-w - M + M * prefix[k]))
    s = sum((digits[k] * (M + 1) ** (n - 1 - k) for k in range(n)), Expr())
    s_carried = split.add(s, "carry")
    a = sum((_int_step(split, s - j * B) for j in range(1, A)), Expr())
    return IndexLayers([steps, parity_steps, snake, split], a, s_carried - B * a)


def _selection_layers(A, a, b, y_data, v_data, activation):
    """A + 3 layers selecting block a's encoding y and start value S by exact indicators.

    Layer r holds a, b, the running y and S, |a − r| (as P = σ(a − r), Q = σ(r − a), or one
    PReLU neuron), the dead zone Z = σ(4|a − r + 1| − 1) and I = σ(1 − Z_prev) = [a = r − 2]; y and
    S add data[r − 3]·I_prev. The dead zone makes I exactly 0 or 1 even when float rounding of
    the steps leaves a within 1/4 of an integer, so y is selected exactly.
    """
    layers, prev = [], None
    for r in range(A + 3):
        layer = _Layer()
        y_expr, s_expr = (prev["y"], prev["S"]) if prev else (Expr(), Expr())
        if r >= 3 and y_data is not None:
            y_expr = y_expr + prev["I"] * y_data[r - 3]
        if r >= 3:
            s_expr = s_expr + prev["I"] * v_data[r - 3]
        cur = {"a": layer.add(a, "carry"), "b": layer.add(b, "carry"),
               "y": layer.add(y_expr, "carry"), "S": layer.add(s_expr, "carry")}
        if activation == "relu":
            cur["P"], cur["Q"] = layer.add(a - r), layer.add(r - a)
            distance = prev["P"] + prev["Q"] if prev else None
        else:
            cur["abs"] = layer.add(a - r, "abs")
            distance = prev["abs"] if prev else None
        cur["Z"] = layer.add(4 * distance - 1 if prev else Expr())
        cur["I"] = layer.add(1 - prev["Z"] if prev else Expr())
        layers.append(layer)
        a, b, prev = cur["a"], cur["b"], cur
    return layers, prev["y"], prev["S"], prev["b"]


def _extraction_layers(B, y, S, b):
    """2(B − 1) layers: per base-4 digit m ∈ {1, 2, 3} (never 0, so no stored y is 0),
    D = 1 + [y ≥ 1/2] + [y ≥ 3/4] from integer pre-activations 2^(2(B−m))(y − c); then y ← 4y − D
    and S ← S + [b ≥ m]·(D − 2)."""
    layers = []
    for m in range(1, B):
        K = 2 * (B - m)
        odd, even = _Layer(), _Layer()
        y_odd, b_odd, s_odd = odd.add(y, "carry"), odd.add(b, "carry"), odd.add(S, "carry")
        D = 1 + _int_step(odd, (2**K) * y - 2 ** (K - 1)) + _int_step(odd, (2**K) * y - 3 * 2 ** (K - 2))
        u = _int_step(odd, b - m)
        y_even, b_even, s_even = even.add(y_odd, "carry"), even.add(b_odd, "carry"), even.add(s_odd, "carry")
        digit = even.add(D)
        plus, minus = even.add(D - 2 + u - 1), even.add(-(D - 2) + u - 1)
        layers += [odd, even]
        y, b, S = 4 * y_even - digit, b_even, s_even + plus - minus
    return layers, S


def _median_layers(values):
    """Nested mid(a, b, c) = max(min(a, b), min(max(a, b), c)) over consecutive triples: 3 layers
    per level (Shen–Yang–Zhang 2022); inputs are >= 0 off the band, so ReLU carries them."""
    layers = []
    while len(values) > 1:
        first, second, third = _Layer(), _Layer(), _Layer()
        out = []
        for a, b, c in zip(values[0::3], values[1::3], values[2::3]):
            a1, a_minus_b, b_minus_a, c1 = first.add(a, "carry"), first.add(a - b), first.add(b - a), first.add(c, "carry")
            low, high = a1 - a_minus_b, a1 + b_minus_a
            low2, c2, c_minus_high = second.add(low, "carry"), second.add(c1, "carry"), second.add(c1 - high)
            mid_candidate = c2 - c_minus_high  # min(max(a, b), c)
            low3 = third.add(low2, "carry")
            out.append(low3 + third.add(mid_candidate - low2))
        layers += [first, second, third]
        values = out
    return layers, values[0]


# --- data: quantized values along the snake path -------------------------------------------------
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


_SLOPES = {"relu": {"relu": 0, "carry": 0}, "prelu": {"relu": 0, "carry": 1, "abs": -1}}


def _assemble(layers, out: Expr, n: int, activation: str, L: int, dtype) -> MLP:
    """Dense (W, b) per layer; a layer with any per-cell coefficient is stacked (L, ...), others shared."""
    weights, slopes = [], []
    d_in = n
    for exprs in [layer.exprs for layer in layers] + [[out]]:
        per_cell = any(isinstance(v, np.ndarray) for e in exprs for v in (*e.terms.values(), e.const))
        shape = (L,) if per_cell else ()
        W = np.zeros(shape + (d_in, len(exprs)), dtype=dtype)
        b = np.zeros(shape + (len(exprs),), dtype=dtype)
        for j, e in enumerate(exprs):
            for i, v in e.terms.items():
                W[..., i, j] = v
            b[..., j] = e.const
        weights.append((W, b))
        d_in = len(exprs)
    for layer in layers:
        slopes.append(np.array([_SLOPES[activation][k] for k in layer.kinds], dtype=dtype))
    return MLP(tuple(weights), tuple(slopes), activation)


def structural_nonzero(layers, out: Expr, activation: str) -> int:
    """Nonzero parameters fixed by the construction: every scalar coefficient that is not 0, every
    per-cell (data) coefficient, and for PReLU the nonzero slopes.

    Parameters
    ----------
    layers : list
        The hidden layers as written by the construction.
    out : Expr
        The output expression.
    activation : {"relu", "prelu"}

    Returns
    -------
    int
    """
    count = 0
    for e in [e for layer in layers for e in layer.exprs] + [out]:
        count += sum(isinstance(v, np.ndarray) or v != 0 for v in (*e.terms.values(), e.const))
    if activation == "prelu":
        count += sum(_SLOPES["prelu"][k] != 0 for layer in layers for k in layer.kinds)
    return count


def _check_build(target, lo, hi, activation, A, B):
    holder_constants(target, "expert='optimal' (its quantisation step C (h/M)^α, docs/theory.md §4.4)")
    activation = check_activation(activation)
    check_int(A, "A")
    check_int(B, "B")
    lo, hi = check_cells(lo, hi, target.n)
    return activation, lo, hi


def build(target, lo, hi, *, activation: str = "relu", A: int = 4, B: int = 4) -> MLP:
    """One optimal-rate expert per cell [lo[i], hi[i]] (docs/theory.md §4.4), float64 weights.

    Parameters
    ----------
    target : HolderTarget
    lo, hi : array_like
        Cell corners, shape (L, n).
    activation : {"relu", "prelu"}, default "relu"
    A : int, default 4
        Blocks.
    B : int, default 4
        Cubes per block, at most 27 in float64.

    Returns
    -------
    MLP
        A stack (L,); error at most :func:`error_bound` (q(1/2 + 2^−α)).

    Raises
    ------
    ValueError
        For B > 27: float64 cannot hold a block's 2(B − 1) encoded bits nor extract them exactly;
        use :func:`build_exact` with :func:`moe_approx.exact.evaluate_exact`. Also for sizes < 1,
        malformed cells or an unknown activation.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import optimal
    >>> f = targets.get("kink", n=1)
    >>> nets = optimal.build(f, np.zeros((1, 1)), np.ones((1, 1)), A=4, B=4)
    >>> x = np.linspace(0, 1, 2001)[None, :, None]
    >>> err = np.abs(optimal.evaluate(nets, x) - np.asarray(f(x)))
    >>> bool(err.max() <= optimal.error_bound(1.0, 1.0, 1.0, 1, A=4, B=4))
    True
    >>> optimal.build(f, np.zeros((1, 1)), np.ones((1, 1)), B=28)
    Traceback (most recent call last):
    ...
    ValueError: B=28 exceeds float64's range for the optimal expert ...
    """
    activation, lo, hi = _check_build(target, lo, hi, activation, A, B)
    if B > MAX_BLOCK_FLOAT64:
        raise ValueError(
            f"B={B} exceeds float64's range for the optimal expert (B <= {MAX_BLOCK_FLOAT64}: a block encodes "
            f"2(B-1) = {2 * (B - 1)} bits, more than the 53 of a float64 significand); build it with "
            f"moe_approx.experts.optimal.build_exact and evaluate it with moe_approx.exact.evaluate_exact")
    layers, out = _network(target, lo, hi, activation, grid_side(target.n, A, B), B, exact=False)
    return _assemble(layers, out, target.n, activation, lo.shape[0], np.float64)


def build_exact(target, lo, hi, *, activation: str = "relu", A: int = 4, B: int = 4) -> MLP:
    """The same experts with exact rational weights (object arrays of ``Fraction``), any B >= 2.

    Only :func:`moe_approx.exact.evaluate_exact` evaluates them.

    Parameters
    ----------
    target, lo, hi, activation, A, B
        As in :func:`build`, without the limit on B.

    Returns
    -------
    MLP
        With ``Fraction`` weights.

    Raises
    ------
    ValueError
        For sizes < 1, malformed cells or an unknown activation.

    Examples
    --------
    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from moe_approx import exact, targets
    >>> from moe_approx.experts import optimal
    >>> f = targets.get("kink", n=1)
    >>> net = optimal.build_exact(f, np.zeros((1, 1)), np.ones((1, 1)), A=2, B=2)
    >>> isinstance(net.layers[0][0][0, 0, 0], Fraction)
    True
    >>> x = np.array([[[0.1], [0.6]]])
    >>> bool(np.all(np.abs(exact.evaluate_exact(net, x).astype(float) - np.asarray(f(x))) <= optimal.error_bound(1.0, 1.0, 1.0, 1, A=2, B=2)))
    True
    """
    activation, lo, hi = _check_build(target, lo, hi, activation, A, B)
    layers, out = _network(target, lo, hi, activation, grid_side(target.n, A, B), B, exact=True)
    return _assemble(layers, out, target.n, activation, lo.shape[0], object)


def evaluate(net: MLP, x) -> np.ndarray:
    """``net(x)[..., 0]`` with a numpy loop over layers (no compilation; deep nets are cheap here).

    A stack (L,) maps x of shape (L, P, n) to (L, P); a single network (..., n) to (...).

    Parameters
    ----------
    net : MLP
    x : array_like

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import calculus
    >>> from moe_approx.experts import optimal
    >>> optimal.evaluate(calculus.maximum(2), np.array([[1.0, 3.0]]))
    array([3.])
    """
    h = np.asarray(x, dtype=np.float64)
    for l, (W, b) in enumerate(net.layers):
        W, b = np.asarray(W), np.asarray(b)
        h = h @ W + (b[..., None, :] if b.ndim > 1 else b)
        if l < len(net.slopes):
            a = np.asarray(net.slopes[l])
            a = a[..., None, :] if a.ndim > 1 else a
            h = np.maximum(h, 0.0) + a * np.minimum(h, 0.0)
    return h[..., 0]


# --- closed forms (the single source of truth for ``rates``) ----------------------------------------
def _numeric_n(n) -> int:
    if isinstance(n, sp.Basic):
        raise TypeError("the optimal family's closed forms need a numeric n (its index stage differs for n = 1)")
    return check_int(n, "n")


def _sizes(n, A, B):
    """(n, M, blocks) after validating the size keywords."""
    n = _numeric_n(n)
    for name, v in (("A", A), ("B", B)):
        if not isinstance(v, sp.Basic):
            check_int(v, name)
    M = grid_side(n, A, B)
    return n, M, num_blocks(n, M, B)


def _segments(n, activation, A, B):
    """The hidden layers as :class:`Segment` runs, input and output included as empty runs."""
    n, M, A = _sizes(n, A, B)
    activation = check_activation(activation)
    c = 3**n
    index = [2 * A - 1, 2, 2 * B - 1] if n == 1 else [2 * n * M, n**2, 3 * n - 2, 2 * A - 1]

    def run(w, r=1):
        return Segment(w, w, (r - 1) * (w + 1) * w, r, r * w)

    segments = [Segment(n, n, 0, 0, 0)] + [run(c * w) for w in index] + [run(c * _SEL_WIDTH[activation], A + 3)]
    odd, even = 9 * c, 6 * c  # extraction: B − 1 pairs of layers (none for B = 1: a lookup table)
    if isinstance(B, sp.Basic) or B > 1:
        segments.append(Segment(odd, even, (B - 1) * (odd + 1) * even + (B - 2) * (even + 1) * odd, 2 * (B - 1),
                                (B - 1) * (odd + even)))
    segments += [run(k * 3 ** (n - level)) for level in range(1, n + 1) for k in (4, 3, 2)]
    return segments + [Segment(1, 1, 0, 0, 0)]


def _blend(count):
    """A closed form valid for every B >= 1: B = 1 (no extraction layers) is its own case, so a
    symbolic B gets e·count(B) + (1 − e)·count(1) with e = min(B − 1, 1)."""

    def closed_form(n, activation="relu", A=4, B=4):
        if not isinstance(B, sp.Basic):
            return count(n, activation, A, B)
        e = sp.Min(B - 1, 1)
        return e * count(n, activation, A, B) + (1 - e) * count(n, activation, A, 1)

    closed_form.__name__, closed_form.__doc__ = count.__name__.lstrip("_"), count.__doc__
    return closed_form


@_blend
def _depth(n, activation="relu", A=4, B=4):
    """Affine maps: index (3 for n = 1, else 4) + selection A + 3 + extraction 2(B − 1) + median 3n + 1,
    with A the blocks in use, :func:`num_blocks`.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import optimal
    >>> net = optimal.build(targets.get("cone", n=2), np.zeros((1, 2)), np.ones((1, 2)), A=4, B=4)
    >>> optimal.depth(2, A=4, B=4) == net.depth == 4 + (4 + 3) + 2 * 3 + (3 * 2 + 1)
    True
    """
    return sum(s.layers for s in _segments(n, activation, A, B)) + 1


@_blend
def _width(n, activation="relu", A=4, B=4):
    """Largest hidden layer (3^n copies side by side).

    Examples
    --------
    >>> from moe_approx.experts import optimal
    >>> optimal.width(1, "relu", A=4, B=4) == 3 * 9      # the extraction's odd layers, 9 per copy
    True
    """
    widths = [w for s in _segments(n, activation, A, B)[1:-1] for w in (s.first, s.last)]
    return sp.Max(*widths) if any(isinstance(w, sp.Basic) for w in widths) else max(widths)


@_blend
def _num_params(n, activation="relu", A=4, B=4):
    """Stored weights and biases, Σ (d_l + 1)·d_{l+1}, plus one slope per hidden neuron for PReLU.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import optimal
    >>> net = optimal.build(targets.get("kink", n=1), np.zeros((1, 1)), np.ones((1, 1)), activation="prelu")
    >>> optimal.num_params(1, "prelu") == net.num_params
    True
    """
    seg = _segments(n, activation, A, B)
    total = sum(s.inner_params for s in seg) + sum((a.last + 1) * b.first for a, b in zip(seg, seg[1:]))
    return total + (sum(s.neurons for s in seg) if activation == "prelu" else 0)


@_blend
def _num_nonzero(n, activation="relu", A=4, B=4):
    """Structural nonzeros, layer by layer as :func:`_network` writes them (data values count as
    nonzero; a built expert can only have fewer). Symbolic in A and B for numeric n.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import optimal
    >>> net = optimal.build(targets.get("kink", n=1), np.zeros((1, 1)), np.ones((1, 1)))
    >>> optimal.num_nonzero(1) >= int(net.num_nonzero[0])
    True
    >>> optimal.num_nonzero(2, "relu", A=1, B=1)              # docs/theory.md §6
    1567
    """
    n, relu = _numeric_n(n), check_activation(activation) == "relu"
    n, M, A = _sizes(n, A, B)
    c = 3**n
    if n == 1:
        index = (4 * A - 2) + (2 * A - 1) + (6 * B - 5)  # coarse, narrow, fine
        first_select = 2 * B + 1 if relu else 2 * B
        index_slopes = 4
    else:
        steps = 4 * n * M
        parity = 2 * n * M + 4 * M * (n - 1) * n * (2 * n - 1) // 6 + (n - 1) ** 2
        snake = 2 * n**2 + 2 * n - 3
        split = (3 * n - 2) + 2 * (A - 1) * (3 * n - 1)
        if not isinstance(B, sp.Basic) and B == 1:  # the step σ(s − jB + 1) at j = 1 has bias 0
            split -= sp.Min(A - 1, 1) if isinstance(A, sp.Basic) else int(A > 1)
        index = steps + parity + snake + split
        first_select = 8 * (A - 1) + 1 if relu else 6 * (A - 1) + 1
        index_slopes = 2 * n + 1
    select = first_select + (26 + 15 * A if relu else 20 + 12 * A)  # layers 1, 2, then A with data
    if not isinstance(B, sp.Basic) and B == 1:
        select -= A  # no encodings to select
    # odd layers: digit 1: 14, digits 2..B−1: 22; even layers: 21
    extract = 43 * B - 51 if isinstance(B, sp.Basic) or B > 1 else 0
    # level 1: 28 per triple (16 when B = 1: its inputs have 1 term, not 3), later levels 22, output 3
    median = 39 * 3 ** (n - 1) - 8 - (12 * 3 ** (n - 1) if extract == 0 else 0)
    total = c * (index + select + extract) + median
    if not relu:
        total += c * (index_slopes + 5 * (A + 3) + 6 * (B - 1)) + 5 * (3**n - 1) // 2
    return total


depth, width, num_params, num_nonzero = _depth, _width, _num_params, _num_nonzero


def error_bound(alpha, constant, side, n, A=4, B=4):
    """q·(1/2 + 2^−α) with q = C (h/M)^α (1 + 2^−20), M = :func:`grid_side` (docs/theory.md §4.4): the
    output q(v + 1/2) is within q/2 of f at the cube centre, which is within C (h/(2M))^α of f(x).

    Parameters
    ----------
    alpha, constant : float or sympy.Expr
        The target's Hölder pair (α, C).
    side : float or sympy.Expr
        Cell side h (the largest side).
    n : int
    A, B : int or sympy.Expr, default 4

    Returns
    -------
    float or sympy.Expr

    Examples
    --------
    >>> from moe_approx.experts import optimal
    >>> M = optimal.grid_side(1, 4, 4)
    >>> optimal.error_bound(1.0, 1.0, 1.0, 1, A=4, B=4) == (1 / M) * (1 + 2.0 ** -20) * (0.5 + 0.5)
    True
    """
    M = grid_side(n, A, B)
    symbolic = any(isinstance(v, sp.Basic) for v in (alpha, constant, side, M))
    margin = 1 + (sp.Rational(1, 2**20) if symbolic else QUANT_MARGIN)
    half = sp.Rational(1, 2) if symbolic else 0.5
    return constant * (side / M) ** alpha * margin * (half + 2 ** (-alpha))
