"""Interval arithmetic and elementary functions, rounded outward (docs/theory.md §9); see :mod:`moe_approx.intervals`."""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
import jax.scipy.special as jsp

from .rounding import _HALF_PI_HI, _HUGE_ANGLE, _INV_PI, _INV_TWO_PI, TRANSCENDENTAL_ULPS, Interval, _nan_where, outward

def point(x) -> Interval:
    """The degenerate interval [x, x] (x exactly representable)."""
    x = jnp.asarray(x, dtype=jnp.float64)
    return x, x


def neg(a: Interval) -> Interval:
    """−[a, b] = [−b, −a] (exact)."""
    return -a[1], -a[0]


def add(a: Interval, b: Interval) -> Interval:
    """[a_lo + b_lo, a_hi + b_hi], rounded outward."""
    return outward(a[0] + b[0], a[1] + b[1])


def sub(a: Interval, b: Interval) -> Interval:
    """[a_lo − b_hi, a_hi − b_lo], rounded outward."""
    return outward(a[0] - b[1], a[1] - b[0])


def _corners(a: Interval, b: Interval):
    """The endpoint pairs (a_lo, b_lo), (a_lo, b_hi), (a_hi, b_lo), (a_hi, b_hi), stacked."""
    x = jnp.stack(jnp.broadcast_arrays(a[0], a[0], a[1], a[1]))
    y = jnp.stack(jnp.broadcast_arrays(b[0], b[1], b[0], b[1]))
    return x, y


def _hull(p):
    """(min, max) over the leading axis of a small stack, as elementwise trees (XLA's reduce over
    a leading axis of 2–4 is many times slower than elementwise min/max)."""
    lo, hi = p[0], p[0]
    for k in range(1, p.shape[0]):
        lo, hi = jnp.minimum(lo, p[k]), jnp.maximum(hi, p[k])
    return lo, hi


def mul(a: Interval, b: Interval) -> Interval:
    """Min and max of the four endpoint products, rounded outward; 0·(±∞) = 0 (an interval holds
    real numbers, an infinite end is a limit)."""
    x, y = _corners(a, b)
    p = x * y
    p = jnp.where(jnp.isnan(p) & ~jnp.isnan(x) & ~jnp.isnan(y), 0.0, p)
    return outward(*_hull(p))


def div(a: Interval, b: Interval) -> Interval:
    """a / b: the four endpoint quotients when 0 ∉ b, else the whole line (rounded outward)."""
    x, y = _corners(a, b)
    q = x / y
    both_inf = jnp.isinf(x) & jnp.isinf(y)  # ∞/∞: any value
    lo, hi = outward(_hull(jnp.where(both_inf, -jnp.inf, q))[0], _hull(jnp.where(both_inf, jnp.inf, q))[1])
    zero = (b[0] <= 0) & (b[1] >= 0)
    return jnp.where(zero, -jnp.inf, lo), jnp.where(zero, jnp.inf, hi)


def abs_(a: Interval) -> Interval:
    """|[lo, hi]|: [0, max(−lo, hi)] when lo < 0 < hi (exact)."""
    lo, hi = a
    mag_lo = jnp.where(lo >= 0, lo, jnp.where(hi <= 0, -hi, 0.0))
    return mag_lo, jnp.maximum(-lo, hi)


def minimum(*args: Interval) -> Interval:
    """min of intervals: [min lo, min hi] (exact)."""
    lo, hi = args[0]
    for a in args[1:]:
        lo, hi = jnp.minimum(lo, a[0]), jnp.minimum(hi, a[1])
    return lo, hi


def maximum(*args: Interval) -> Interval:
    """max of intervals: [max lo, max hi] (exact)."""
    lo, hi = args[0]
    for a in args[1:]:
        lo, hi = jnp.maximum(lo, a[0]), jnp.maximum(hi, a[1])
    return lo, hi


def integer_power(a: Interval, m: int) -> Interval:
    """x^m, m an integer: monotone for odd m; for even m the minimum is 0 when 0 ∈ a; m < 0 is 1/x^|m|."""
    if m == 0:
        return point(jnp.ones_like(a[0]))
    if m < 0:
        return div(point(jnp.ones_like(a[0])), integer_power(a, -m))
    ulps = m + 2  # m − 1 roundings of ≤ ½ ulp each, compounded
    lo, hi = a
    if m % 2:
        return outward(lo**m, hi**m, ulps)
    mag_lo, mag_hi = abs_(a)
    lo, hi = outward(mag_lo**m, mag_hi**m, ulps)
    return jnp.maximum(lo, 0.0), hi


def _domain(a: Interval, low: float = 0.0) -> Interval:
    """The part of a in [low, ∞); empty (NaN) where a lies below low."""
    return _nan_where(a[1] < low, (jnp.maximum(a[0], low), a[1]))


def sqrt(a: Interval) -> Interval:
    """√x on a ∩ [0, ∞) (IEEE sqrt is correctly rounded: one ulp)."""
    r = jnp.sqrt(jnp.stack(_domain(a)))
    lo, hi = outward(r[0], r[1])
    return jnp.maximum(lo, 0.0), hi


def _monotone(fn: Callable, a: Interval, low=-jnp.inf, high=jnp.inf, ulps=TRANSCENDENTAL_ULPS) -> Interval:
    """[fn(lo), fn(hi)] for a nondecreasing fn, widened by ``ulps`` and clamped to [low, high]."""
    v = fn(jnp.stack(jnp.broadcast_arrays(*a)))
    lo, hi = outward(v[0], v[1], ulps)
    return jnp.maximum(lo, low), jnp.minimum(hi, high)


def cbrt(a: Interval) -> Interval:
    """x^(1/3) on a ∩ [0, ∞) (SymPy's principal cube root)."""
    return _monotone(jnp.cbrt, _domain(a), low=0.0)


def real_power(a: Interval, p: Interval) -> Interval:
    """x^p, p a non-integer constant in the interval p, on a ∩ [0, ∞).

    x^p is monotone in x (for fixed p) and in p (for fixed x > 0), so its range over the box
    a × p is spanned by the four corners.
    """
    x, y = _corners(_domain(a), p)
    c = jnp.power(x, y)
    lo, hi = outward(*_hull(c), TRANSCENDENTAL_ULPS)
    return jnp.maximum(lo, 0.0), hi


def exp(a: Interval) -> Interval:
    """e^x (increasing, > 0)."""
    return _monotone(jnp.exp, a, low=0.0)


def log(a: Interval) -> Interval:
    """log x on a ∩ [0, ∞) (increasing; log 0 = −∞)."""
    return _monotone(jnp.log, _domain(a))


def tanh(a: Interval) -> Interval:
    """tanh (increasing, in [−1, 1])."""
    return _monotone(jnp.tanh, a, -1.0, 1.0)


def atan(a: Interval) -> Interval:
    """arctan (increasing, in [−π/2, π/2])."""
    return _monotone(jnp.arctan, a, -_HALF_PI_HI, _HALF_PI_HI)


def erf(a: Interval) -> Interval:
    """erf (increasing, in [−1, 1])."""
    return _monotone(jsp.erf, a, -1.0, 1.0)


def _scale(a: Interval, c: tuple[float, float]) -> Interval:
    """a·[c_lo, c_hi] for a positive constant interval (two products per end), rounded outward."""
    return outward(jnp.minimum(a[0] * c[0], a[0] * c[1]), jnp.maximum(a[1] * c[0], a[1] * c[1]))


def _hits(u: Interval, shift: float):
    """True where [u_lo + shift, u_hi + shift] may contain an integer (rounded outward)."""
    lo, hi = outward(u[0] + shift, u[1] + shift)
    return jnp.floor(hi) >= jnp.ceil(lo)


def _periodic(fn: Callable, a: Interval, max_shift: float, min_shift: float) -> Interval:
    """sin or cos: endpoint values, with ±1 where x/(2π) + shift may be an integer."""
    u = _scale(a, _INV_TWO_PI)  # an enclosure of x/(2π)
    huge = (jnp.abs(a[0]) > _HUGE_ANGLE) | (jnp.abs(a[1]) > _HUGE_ANGLE)
    v = fn(jnp.stack(jnp.broadcast_arrays(*a)))
    lo, hi = outward(*_hull(v), TRANSCENDENTAL_ULPS)
    lo = jnp.where(_hits(u, min_shift) | huge, -1.0, jnp.maximum(lo, -1.0))
    hi = jnp.where(_hits(u, max_shift) | huge, 1.0, jnp.minimum(hi, 1.0))
    return _nan_where(jnp.isnan(a[0]) | jnp.isnan(a[1]), (lo, hi))


def sin(a: Interval) -> Interval:
    """sin: maxima at x = π/2 + 2kπ (x/2π − 1/4 ∈ Z), minima at x = 3π/2 + 2kπ (x/2π − 3/4 ∈ Z)."""
    return _periodic(jnp.sin, a, -0.25, -0.75)


def cos(a: Interval) -> Interval:
    """cos: maxima at x = 2kπ (x/2π ∈ Z), minima at x = π + 2kπ (x/2π − 1/2 ∈ Z)."""
    return _periodic(jnp.cos, a, 0.0, -0.5)


def tan(a: Interval) -> Interval:
    """tan: increasing between poles; the whole line where x/π − 1/2 may be an integer."""
    pole = _hits(_scale(a, _INV_PI), -0.5) | (jnp.abs(a[0]) > _HUGE_ANGLE) | (jnp.abs(a[1]) > _HUGE_ANGLE)
    lo, hi = _monotone(jnp.tan, a)
    return jnp.where(pole, -jnp.inf, lo), jnp.where(pole, jnp.inf, hi)


def cot(a: Interval) -> Interval:
    """cot = 1/tan (SymPy writes tan(x + π/2) as −cot x): decreasing between its poles at kπ,
    the whole line where x/π may be an integer (tan then 1/·: within the transcendental allowance)."""
    pole = _hits(_scale(a, _INV_PI), 0.0) | (jnp.abs(a[0]) > _HUGE_ANGLE) | (jnp.abs(a[1]) > _HUGE_ANGLE)
    neg_lo, neg_hi = _monotone(lambda x: -1.0 / jnp.tan(x), a)  # −cot is increasing
    return jnp.where(pole, -jnp.inf, -neg_hi), jnp.where(pole, jnp.inf, -neg_lo)


def sign(a: Interval) -> Interval:
    """sign (nondecreasing, exact): [sign lo, sign hi]."""
    return jnp.sign(a[0]), jnp.sign(a[1])


def heaviside(a: Interval, at_zero: float = 0.5) -> Interval:
    """Heaviside step H (nondecreasing, exact; H(0) = at_zero)."""
    return jnp.heaviside(a[0], at_zero), jnp.heaviside(a[1], at_zero)
