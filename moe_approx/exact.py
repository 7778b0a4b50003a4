"""Exact (or fixed-precision) evaluation of an explicit network (docs/theory.md §4.4, precision).

The optimal-rate experts store Θ(B) bits per weight; past B = 27 float64 cannot hold them.
:func:`evaluate_exact` evaluates the same weights in exact rational arithmetic: every float64 is
a dyadic rational, and :func:`moe_approx.experts.optimal.build_exact` stores ``Fraction`` weights.
Each layer keeps its activations as integers over one common denominator, and multiplies only
the nonzero weights (the deep experts are sparse), so the cost is one big-integer operation per
nonzero weight and point. ``precision=p`` instead rounds every operation to p bits (mpmath).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import reduce

import mpmath
import numpy as np

from ._checks import check_int
from .mlp import MLP, index_stack


def _fractions(a) -> np.ndarray:
    """An array of exact ``Fraction`` values (floats are converted exactly)."""
    a = np.asarray(a)
    out = np.empty(a.shape, dtype=object)
    for idx, v in np.ndenumerate(a):
        out[idx] = v if isinstance(v, Fraction) else Fraction(v.item() if hasattr(v, "item") else v)
    return out


def _lcm_denominator(a: np.ndarray) -> int:
    return reduce(math.lcm, (v.denominator for v in a.flat), 1)


def _sparse_columns(W: np.ndarray):
    """For each output neuron j: (rows with a nonzero weight, those weights)."""
    return [(np.flatnonzero(W[:, j] != 0), W[W[:, j] != 0, j]) for j in range(W.shape[1])]


def _matvec(H: np.ndarray, columns, P: int) -> np.ndarray:
    out = np.zeros((P, len(columns)), dtype=object)
    for j, (rows, w) in enumerate(columns):
        if rows.size:
            out[:, j] = (H[:, rows] * w).sum(axis=1)
    return out


def _exact_single(net: MLP, x: np.ndarray) -> np.ndarray:
    """Integers H over a common denominator E through every layer; returns Fractions."""
    xf = _fractions(x)
    E = _lcm_denominator(xf)
    H = np.vectorize(lambda v: v.numerator * (E // v.denominator), otypes=[object])(xf)
    for l, (W, b) in enumerate(net.layers):
        W, b = _fractions(W), _fractions(b)
        Dw, Db = _lcm_denominator(W), _lcm_denominator(b)
        W_int = np.vectorize(lambda v: v.numerator * (Dw // v.denominator), otypes=[object])(W)
        b_int = np.vectorize(lambda v: v.numerator * (Db // v.denominator), otypes=[object])(b)
        new_E = math.lcm(E * Dw, Db)
        H = _matvec(H, _sparse_columns(W_int), H.shape[0]) * (new_E // (E * Dw)) + b_int * (new_E // Db)
        E = new_E
        if l < len(net.slopes):
            a = _fractions(net.slopes[l])
            Da = _lcm_denominator(a)
            a_int = np.vectorize(lambda v: v.numerator * (Da // v.denominator), otypes=[object])(a)
            H = np.where(H > 0, H * Da, H * a_int)
            E *= Da
        g = reduce(math.gcd, H.flat, E)
        if g > 1:
            H, E = H // g, E // g
    return np.vectorize(lambda v: Fraction(v, E), otypes=[object])(H[:, 0])


def _precision_single(net: MLP, x: np.ndarray, precision: int) -> np.ndarray:
    """Every operation rounded to ``precision`` bits (mpmath)."""
    with mpmath.workprec(precision):
        conv = np.vectorize(lambda v: mpmath.mpf(v) if not isinstance(v, Fraction) else mpmath.mpf(v.numerator) / v.denominator,
                            otypes=[object])
        H = conv(np.asarray(x, dtype=object))
        for l, (W, b) in enumerate(net.layers):
            W, b = conv(np.asarray(W, dtype=object)), conv(np.asarray(b, dtype=object))
            H = _matvec(H, _sparse_columns(W), H.shape[0]) + b
            if l < len(net.slopes):
                a = conv(np.asarray(net.slopes[l], dtype=object))
                H = np.where(H > 0, H, H * a)
        return H[:, 0]


def evaluate_exact(net: MLP, x, precision: int | None = None) -> np.ndarray:
    """``net(x)[..., 0]`` in exact rational arithmetic (``precision=None``: ``Fraction`` results)
    or with every operation rounded to ``precision`` bits (mpmath ``mpf`` results).

    ``net`` may hold float64 or ``Fraction`` weights; a stack (L,) takes x of shape (L, P, n),
    a single network x of shape (P, n). Slow by design: meant for small point sets.

    Parameters
    ----------
    net : MLP
        float64 or ``Fraction`` weights.
    x : array_like
        Points: (P, n), or (L, P, n) for a stack (L,); floats are converted exactly.
    precision : int, optional
        Bits per operation (>= 2, mpmath); None for exact rationals.

    Returns
    -------
    numpy.ndarray
        Object array of ``Fraction`` (exact) or ``mpmath.mpf`` values, shape (P,) or (L, P).

    Raises
    ------
    TypeError
        If ``net`` is not an MLP.
    ValueError
        If ``x`` has the wrong shape or ``precision`` < 2.

    Examples
    --------
    Yarotsky's square in exact arithmetic: f_3(1/16) − (1/16)² = 2^−8 exactly.

    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from moe_approx.exact import evaluate_exact
    >>> from moe_approx.experts import yarotsky
    >>> value = evaluate_exact(yarotsky.square_network(3), np.array([[1 / 16]]))[0]
    >>> value - Fraction(1, 256), value
    (Fraction(1, 256), Fraction(1, 128))
    >>> float(evaluate_exact(yarotsky.square_network(3), np.array([[1 / 16]]), precision=20)[0])
    0.0078125
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be an MLP, got {type(net).__name__}")
    if precision is not None:
        precision = check_int(precision, "precision", minimum=2)
    x = np.asarray(x, dtype=object)
    stacked = net.batch_shape != ()
    if x.ndim != (3 if stacked else 2) or x.shape[-1] != net.in_dim or (stacked and x.shape[0] != net.batch_shape[0]):
        want = f"({net.batch_shape[0]}, P, {net.in_dim})" if stacked else f"(P, {net.in_dim})"
        raise ValueError(f"x must have shape {want}, got {x.shape}")
    single = _exact_single if precision is None else (lambda n_, x_: _precision_single(n_, x_, precision))
    if not stacked:
        return single(net, x)
    return np.stack([single(index_stack(net, i), x[i]) for i in range(x.shape[0])])
