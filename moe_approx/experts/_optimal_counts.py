"""The optimal expert's closed forms (docs/theory.md §4.4, §6): depth, width, parameters, nonzeros
and the error bound, the single source of truth for :mod:`moe_approx.rates`."""

from __future__ import annotations

import sympy as sp

from .._checks import check_int
from ..mlp import check_activation
from ._optimal_layers import _SEL_WIDTH, QUANT_MARGIN, Segment, grid_side, num_blocks


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
