"""The optimal expert's layers (docs/theory.md §4.4): a small sparse network builder, the stages of
one copy (index, selection, extraction, median) and the assembly into an :class:`~moe_approx.MLP`.

The construction is described in :mod:`moe_approx.experts.optimal`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import numpy as np
import sympy as sp

from ..mlp import MLP

MAX_BLOCK_FLOAT64 = 27
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
