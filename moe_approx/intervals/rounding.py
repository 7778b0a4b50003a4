"""Outward rounding and float enclosures of exact constants (docs/theory.md §9); see :mod:`moe_approx.intervals`."""

from __future__ import annotations

import math
from fractions import Fraction

import jax.numpy as jnp
import numpy as np
import sympy as sp

from .. import _config  # noqa: F401  (float64)

TRANSCENDENTAL_ULPS = 16
"""Relative widening (in ulps) of each endpoint of a transcendental function (see module docstring)."""

TINY = 2.0**-1000
"""Absolute widening of every endpoint: covers subnormal results flushed to zero."""

_EPS = 2.0**-52  # ulp(y) ≤ |y|·2^−52 for every normal y
_MAX = float(np.finfo(np.float64).max)
_HUGE_ANGLE = 2.0**40  # beyond this, sin/cos give [−1, 1] and tan the whole line

Interval = tuple  # (lo, hi)


# --- outward rounding ------------------------------------------------------------------------


def down(y, ulps: int = 0):
    """A float64 ≤ every real within ``ulps`` relative ulps (plus TINY) of the computed value y.

    y·(1 ∓ ulps·2^−52) − TINY (so at least y − ulps·ulp(y) − TINY), then one ``nextafter`` toward
    −∞ (so at least one ulp below y). −∞ stays −∞; +∞ (an overflowed result) becomes a finite
    bound just below max float.
    """
    y = jnp.asarray(y, dtype=jnp.float64)
    if not ulps:
        return jnp.nextafter(y - TINY, -jnp.inf)
    y = y * jnp.where(y >= 0, 1.0 - ulps * _EPS, 1.0 + ulps * _EPS)
    return jnp.minimum(jnp.nextafter(y - TINY, -jnp.inf), _MAX * (1.0 - ulps * _EPS))


def up(y, ulps: int = 0):
    """A float64 ≥ every real within ``ulps`` relative ulps (plus TINY) of y (mirror of :func:`down`)."""
    return -down(-jnp.asarray(y, dtype=jnp.float64), ulps)


def outward(lo, hi, ulps: int = 0) -> Interval:
    """(down(lo), up(hi)) computed as one stacked operation (half the traced operations)."""
    d = down(jnp.stack(jnp.broadcast_arrays(lo, -hi)), ulps)
    return d[0], -d[1]


def _nan_where(mask, a: Interval) -> Interval:
    return jnp.where(mask, jnp.nan, a[0]), jnp.where(mask, jnp.nan, a[1])


# --- constants -------------------------------------------------------------------------------


def _float_end(value: Fraction, toward: float) -> float:
    """value rounded to a float64, or ±max float / ±TINY where it overflows or is (almost) subnormal."""
    if abs(value) > Fraction(_MAX):
        return math.copysign(_MAX, 1 if value > 0 else -1) if (value > 0) == (toward < 0) else toward
    if 0 < abs(value) < Fraction(TINY):  # XLA treats subnormals as 0: round to 0 or ±TINY
        return math.copysign(TINY, 1 if value > 0 else -1) if (value > 0) == (toward > 0) else 0.0
    return float(value)  # correctly rounded (Python's int / int)


def _float_enclosure(lo: Fraction, hi: Fraction) -> tuple[float, float]:
    """The tightest float64 interval containing the rational interval [lo, hi] (up to TINY near 0)."""
    f_lo, f_hi = _float_end(lo, -math.inf), _float_end(hi, math.inf)
    if math.isfinite(f_lo) and Fraction(f_lo) > lo:
        f_lo = math.nextafter(f_lo, -math.inf)
    if math.isfinite(f_hi) and Fraction(f_hi) < hi:
        f_hi = math.nextafter(f_hi, math.inf)
    return f_lo, f_hi


def _mpf_fraction(mpf_tuple) -> Fraction:
    """The exact rational value of an mpmath (sign, mantissa, exponent, bits) tuple."""
    sign, man, expo, _ = mpf_tuple
    value = Fraction(int(man)) * (Fraction(2) ** int(expo))
    return -value if sign else value


def constant_enclosure(value) -> tuple[float, float]:
    """A float64 interval containing the real SymPy number atom ``value``.

    Integers and rationals: the tightest enclosure (exact rational comparison). A Float stands for
    the decimal it was typed as, within one ulp of its binary value. π, E and the other SymPy
    number symbols: an mpmath value at 256 bits ± 2^−240 relative, then the tightest enclosure.
    """
    value = sp.sympify(value)
    if isinstance(value, sp.Rational):
        exact = Fraction(int(value.p), int(value.q))
        return _float_enclosure(exact, exact)
    if isinstance(value, sp.Float):
        exact = _mpf_fraction(value._mpf_)
        lo, hi = _float_enclosure(exact, exact)
        return math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)
    if isinstance(value, sp.NumberSymbol):
        mid = _mpf_fraction(value.evalf(80)._mpf_)  # 80 digits ≈ 266 bits
        rad = abs(mid) * Fraction(1, 2**240) + Fraction(1, 2**1000)
        return _float_enclosure(mid - rad, mid + rad)
    raise TypeError(f"value must be a real SymPy number atom, got {value!r}")


_PI = constant_enclosure(sp.pi)
_HALF_PI_HI = _PI[1] / 2.0  # exact: halving a float
_INV_PI = _float_enclosure(1 / Fraction(_PI[1]), 1 / Fraction(_PI[0]))
_INV_TWO_PI = _float_enclosure(1 / (2 * Fraction(_PI[1])), 1 / (2 * Fraction(_PI[0])))
