"""Rigorous interval enclosures of SymPy formulas, vectorised over boxes in JAX (docs/theory.md §9).

An interval is a pair ``(lo, hi)`` of float64 arrays of one shape; a box in R^n is a pair of
arrays (..., n). Every operation returns an interval that contains the exact range of the
operation over its argument intervals (natural interval extension, Moore 1966; IEEE 1788 set
semantics), rounded outward:

- ``+ − × ÷`` and ``sqrt`` are correctly rounded in IEEE 754 (error ≤ ½ ulp), so one step of
  ``nextafter`` toward ∓∞ per computed endpoint encloses the exact value;
- transcendental functions (exp, log, sin, cos, tan, tanh, arctan, erf, cbrt, real powers) are
  not correctly rounded in XLA: each endpoint is widened by :data:`TRANSCENDENTAL_ULPS` relative
  ulps before the ``nextafter`` step (largest error measured against arb at 200 bits on CPU,
  benchmarks/bench_ulp_errors.py: tanh 6 ulps near ±1, cbrt 3, exp 2, the others ≤ 1; CUDA's
  libdevice documents ≤ 2 ulps for its double-precision functions), and clamped to the
  function's true range;
- every widening also subtracts/adds :data:`TINY` = 2^−1000, which covers results flushed to
  zero (XLA flushes subnormals: exp(−708.4) returns 0, not 2.2e−308);
- integer powers x^m, computed by repeated multiplication, get |m| + 2 ulps.

Monotonicity and extrema are exact: even powers and ``abs`` reach 0 inside an interval that
contains 0; sin/cos reach ±1 where the interval contains a critical point (decided on an
enclosure of x/(2π), so a doubtful case includes the extremum); tan and division by an interval
that contains 0 give the whole line; Piecewise is the union of the branches whose condition may
hold and whose predecessors need not hold.

Domains follow SymPy's real semantics: sqrt, cbrt, real powers and log take the part of the
argument interval inside their domain (x ≥ 0, x > 0 for log); on request
(``compile_enclosure(..., with_defined=True)``) a flag says on which boxes every such argument
lies inside its domain (and no denominator may vanish), so a caller can tell a formula that is
undefined somewhere on a box.

The compiled functions (:func:`compile_enclosure`, :func:`compile_gradient_enclosure`) take
``(lo, hi)`` of shape (..., n), are jitted, and return arrays (...) and (..., n). In derivative
mode (the gradient formulas of SymPy's ``diff``) sign, Heaviside and DiracDelta whose argument
may vanish on a box, and Piecewise with more than one possible branch, give the whole line:
the gradient enclosure is finite only where f is differentiable on the whole box.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import sympy as sp

from . import _config  # noqa: F401  (float64)

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


# --- arithmetic ------------------------------------------------------------------------------


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


# --- SymPy expression trees ------------------------------------------------------------------

_UNARY = {
    sp.exp: exp,
    sp.log: log,
    sp.sin: sin,
    sp.cos: cos,
    sp.tan: tan,
    sp.cot: cot,
    sp.tanh: tanh,
    sp.atan: atan,
    sp.erf: erf,
    sp.Abs: abs_,
}
_NONSMOOTH = (sp.sign, sp.Heaviside, sp.DiracDelta)  # DiracDelta only in derivative formulas
_RELATIONAL = (sp.StrictLessThan, sp.LessThan, sp.StrictGreaterThan, sp.GreaterThan, sp.Equality, sp.Unequality)
_LOGICAL = (sp.And, sp.Or, sp.Not, sp.ITE, sp.logic.boolalg.BooleanTrue, sp.logic.boolalg.BooleanFalse)
_STRUCTURAL = (sp.Add, sp.Mul, sp.Pow, sp.Min, sp.Max, sp.Piecewise, sp.functions.elementary.piecewise.ExprCondPair)

SUPPORTED = (
    "+ − × ÷, integer and real powers, sqrt, cbrt, abs, min, max, exp, log, sin, cos, tan, tanh, "
    "atan (arctan), erf, cot, Piecewise with relational conditions (<, ≤, >, ≥, =, ≠, and, or, not, ITE), "
    "rational and Float constants, pi, E, sign, Heaviside"
)


def unsupported_atoms(expr, symbols: Sequence[sp.Symbol]) -> list[str]:
    """Names of the functions, constants and symbols in a formula ``expr`` that the enclosures cannot handle."""
    allowed_symbols = set(symbols)
    bad = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Symbol):
            if node not in allowed_symbols:
                bad.add(f"symbol {node.name}")
        elif isinstance(node, (sp.Rational, sp.Float)):
            continue
        elif isinstance(node, sp.NumberSymbol):
            if not node.is_real:
                bad.add(str(node))
        elif isinstance(node, sp.Number) or node in (sp.I, sp.nan, sp.zoo):
            bad.add(str(node))
        elif isinstance(node, sp.DiracDelta):
            bad.add("DiracDelta")  # appears in derivative formulas only, never in f
        elif isinstance(node, _STRUCTURAL + _RELATIONAL + _LOGICAL + _NONSMOOTH) or node.func in _UNARY:
            continue
        elif isinstance(node, sp.core.function.AppliedUndef):
            bad.add(f"{node.func.__name__} (undefined function)")
        elif isinstance(node, (sp.Basic,)) and not node.args:
            bad.add(type(node).__name__)
        else:
            bad.add(getattr(node.func, "__name__", type(node).__name__))
    return sorted(bad)


class _Evaluator:
    """Interval evaluation of one SymPy tree at trace time (memoised over shared subexpressions).

    ``derivative=True`` is the mode for gradient formulas (module docstring). ``defined`` collects
    boolean arrays, True where every domain restriction met on the way was satisfied.
    """

    def __init__(self, env: dict, like, derivative: bool = False):
        self.env, self.like, self.derivative = env, like, derivative
        self.memo: dict = {}
        self.defined: list = []

    def const(self, value) -> Interval:
        lo, hi = constant_enclosure(value)
        return jnp.full_like(self.like, lo), jnp.full_like(self.like, hi)

    def __call__(self, expr) -> Interval:
        if expr not in self.memo:
            self.memo[expr] = self._eval(expr)
        return self.memo[expr]

    def _check_domain(self, a: Interval, low=0.0, strict=False):
        self.defined.append(a[0] > low if strict else a[0] >= low)

    def _eval(self, e) -> Interval:
        if isinstance(e, sp.Symbol):
            return self.env[e]
        if isinstance(e, (sp.Rational, sp.Float, sp.NumberSymbol)):
            return self.const(e)
        if isinstance(e, sp.Add):
            terms = [self(t) for t in e.args]
            total = terms[0]
            for t in terms[1:]:
                total = add(total, t)
            return total
        if isinstance(e, sp.Mul):
            return self._mul(e)
        if isinstance(e, sp.Pow):
            return self._pow(e.base, e.exp)
        if isinstance(e, sp.Min):
            return minimum(*[self(a) for a in e.args])
        if isinstance(e, sp.Max):
            return maximum(*[self(a) for a in e.args])
        if isinstance(e, sp.Piecewise):
            return self._piecewise(e)
        if isinstance(e, _NONSMOOTH):
            return self._nonsmooth(e)
        if e.func in _UNARY:
            a = self(e.args[0])
            if e.func is sp.log:
                self._check_domain(a, strict=True)
            return _UNARY[e.func](a)
        raise ValueError(f"unsupported atom {e.func.__name__} in {e}")

    def _mul(self, e) -> Interval:
        num, den = [], []
        for factor in e.args:
            if isinstance(factor, sp.Pow) and factor.exp.is_Integer and factor.exp < 0:
                den.append(self._pow(factor.base, -factor.exp))
            else:
                num.append(factor)
        if num and num[0] == sp.S.NegativeOne:  # −x is exact
            result = neg(self(sp.Mul(*num[1:]))) if len(num) > 1 else self.const(-1)
        else:
            parts = [self(f) for f in num] or [self.const(1)]
            result = parts[0]
            for p in parts[1:]:
                result = mul(result, p)
        for d in den:
            self.defined.append((d[0] > 0) | (d[1] < 0))
            result = div(result, d)
        return result

    def _pow(self, base, expo) -> Interval:
        if expo.is_Integer:
            m = int(expo)
            a = self(base)
            if m < 0:
                self.defined.append((a[0] > 0) | (a[1] < 0))
            return integer_power(a, m)
        if expo.is_number:
            a = self(base)
            self._check_domain(a, strict=bool(expo.is_negative))
            if expo == sp.S.Half:
                return sqrt(a)
            if expo == sp.Rational(1, 3):
                return cbrt(a)
            if expo == -sp.S.Half:
                return div(self.const(1), sqrt(a))
            return real_power(a, self(expo))
        # x^y with a variable exponent: exp(y log x), x > 0
        a = self(base)
        self._check_domain(a, strict=True)
        return exp(mul(self(expo), log(a)))

    def _nonsmooth(self, e) -> Interval:
        a = self(e.args[0])
        if self.derivative:  # differentiable on the box only if the argument cannot vanish
            vanish = (a[0] <= 0) & (a[1] >= 0)
            if isinstance(e, sp.DiracDelta):
                value = (jnp.zeros_like(a[0]), jnp.zeros_like(a[0]))
            elif isinstance(e, sp.sign):
                value = sign(a)
            else:
                value = heaviside(a)
            return jnp.where(vanish, -jnp.inf, value[0]), jnp.where(vanish, jnp.inf, value[1])
        if isinstance(e, sp.sign):
            return sign(a)
        if isinstance(e, sp.Heaviside):
            h0 = 0.5 if len(e.args) < 2 else float(e.args[1])
            return heaviside(a, h0)
        raise ValueError("DiracDelta is supported only in derivative formulas")

    def condition(self, c):
        """(may, must): where the condition may hold somewhere on the box, must hold everywhere."""
        true, false = jnp.ones_like(self.like, dtype=bool), jnp.zeros_like(self.like, dtype=bool)
        if c is sp.true:
            return true, true
        if c is sp.false:
            return false, false
        if isinstance(c, sp.And):
            parts = [self.condition(a) for a in c.args]
            return jnp.all(jnp.stack([p[0] for p in parts]), 0), jnp.all(jnp.stack([p[1] for p in parts]), 0)
        if isinstance(c, sp.Or):
            parts = [self.condition(a) for a in c.args]
            return jnp.any(jnp.stack([p[0] for p in parts]), 0), jnp.any(jnp.stack([p[1] for p in parts]), 0)
        if isinstance(c, sp.Not):
            may, must = self.condition(c.args[0])
            return ~must, ~may
        if isinstance(c, sp.ITE):  # (a ∧ b) ∨ (¬a ∧ c)
            (may_a, must_a), (may_b, must_b), (may_c, must_c) = (self.condition(x) for x in c.args)
            may = (may_a & may_b) | (~must_a & may_c)
            must = (must_a & must_b) | (~may_a & must_c) | (must_b & must_c)
            return may, must
        if isinstance(c, _RELATIONAL):
            (a_lo, a_hi), (b_lo, b_hi) = self(c.lhs), self(c.rhs)
            if isinstance(c, (sp.StrictGreaterThan, sp.GreaterThan)):  # a > b  ⇔  b < a
                (a_lo, a_hi), (b_lo, b_hi) = (b_lo, b_hi), (a_lo, a_hi)
            if isinstance(c, (sp.StrictLessThan, sp.StrictGreaterThan)):
                return a_lo < b_hi, a_hi < b_lo
            if isinstance(c, (sp.LessThan, sp.GreaterThan)):
                return a_lo <= b_hi, a_hi <= b_lo
            may_eq = (a_lo <= b_hi) & (b_lo <= a_hi)
            must_eq = (a_lo == a_hi) & (b_lo == b_hi) & (a_lo == b_lo)
            return (may_eq, must_eq) if isinstance(c, sp.Equality) else (~must_eq, ~may_eq)
        raise ValueError(f"unsupported condition {c}")

    def _piecewise(self, e) -> Interval:
        lo = jnp.full_like(self.like, jnp.inf)
        hi = jnp.full_like(self.like, -jnp.inf)
        earlier_must = jnp.zeros_like(self.like, dtype=bool)
        count = jnp.zeros_like(self.like, dtype=jnp.int32)
        for branch, cond in e.args:
            may, must = self.condition(cond)
            possible = may & ~earlier_must
            b_lo, b_hi = self(branch)
            lo = jnp.where(possible, jnp.minimum(lo, b_lo), lo)
            hi = jnp.where(possible, jnp.maximum(hi, b_hi), hi)
            count = count + possible
            earlier_must = earlier_must | must
        if sp.simplify(sp.Or(*[c for _, c in e.args])) is not sp.true:  # else some branch always applies
            self.defined.append(earlier_must)
        lo, hi = _nan_where(count == 0, (lo, hi))
        if self.derivative:
            lo, hi = jnp.where(count > 1, -jnp.inf, lo), jnp.where(count > 1, jnp.inf, hi)
        return lo, hi


def _env(symbols, lo, hi) -> dict:
    return {s: (lo[..., i], hi[..., i]) for i, s in enumerate(symbols)}


def _defined(ev: _Evaluator):
    out = jnp.ones_like(ev.like, dtype=bool)
    for flag in ev.defined:
        out = out & flag
    return out


def compile_enclosure(expr, symbols: Sequence[sp.Symbol], jit: bool = True, with_defined: bool = False) -> Callable:
    """Jitted (unless ``jit=False``) (lo, hi) of shape (..., n) → (f_lo, f_hi) of shape (...) with
    f(B) ⊆ [f_lo, f_hi], plus ``defined`` (...) if ``with_defined``.

    ``defined`` is True on boxes where every domain restriction of the formula holds on the whole
    box (no log, sqrt or real power of a possibly negative argument, no possibly vanishing
    denominator, some Piecewise branch always taken); elsewhere [f_lo, f_hi] encloses f on the
    part of the box where it is defined.
    """
    symbols = tuple(symbols)

    def enclosure(lo, hi):
        lo, hi = jnp.asarray(lo, jnp.float64), jnp.asarray(hi, jnp.float64)
        ev = _Evaluator(_env(symbols, lo, hi), lo[..., 0])
        f_lo, f_hi = ev(expr)
        shape = lo.shape[:-1]
        out = (jnp.broadcast_to(f_lo, shape), jnp.broadcast_to(f_hi, shape))
        return out + (jnp.broadcast_to(_defined(ev), shape),) if with_defined else out

    return jax.jit(enclosure) if jit else enclosure


def gradient_expressions(expr, symbols: Sequence[sp.Symbol]) -> list:
    """SymPy's partial derivatives ∂f/∂x_i (the symbols must be real for Abs' derivative to be sign)."""
    return [sp.diff(expr, s) for s in symbols]


def compile_gradient_enclosure(expr, symbols: Sequence[sp.Symbol], jit: bool = True) -> Callable:
    """Jitted (unless ``jit=False``) (lo, hi) (..., n) → (g_lo, g_hi) (..., n): ∇f(B) ⊆ [g_lo, g_hi] where f is C¹ on B.

    Components are [−∞, ∞] on boxes where the derivative formula is not valid throughout the box
    (derivative mode, module docstring).
    """
    symbols = tuple(symbols)
    grads = gradient_expressions(expr, symbols)

    def enclosure(lo, hi):
        lo, hi = jnp.asarray(lo, jnp.float64), jnp.asarray(hi, jnp.float64)
        ev = _Evaluator(_env(symbols, lo, hi), lo[..., 0], derivative=True)
        parts = [ev(g) for g in grads]
        shape = lo.shape[:-1]
        g_lo = jnp.stack([jnp.broadcast_to(p[0], shape) for p in parts], axis=-1)
        g_hi = jnp.stack([jnp.broadcast_to(p[1], shape) for p in parts], axis=-1)
        return g_lo, g_hi

    return jax.jit(enclosure) if jit else enclosure


_JAX_MODULES = [{"erf": jsp.erf}, "jax"]


_INT64 = 2**62  # integers beyond this would reach JAX as Python ints that overflow int64


def compile_point(expr, symbols: Sequence[sp.Symbol]) -> Callable:
    """f(x) for x of shape (..., n) → (...), via sympy.lambdify to jax.numpy (traceable, differentiable).

    Integers beyond int64 (10**20) are passed as float64 (their nearest float), as XLA has no
    wider integers.
    """
    symbols = tuple(symbols)
    big = {a: sp.Float(a, precision=53) for a in expr.atoms(sp.Integer) if abs(a) >= _INT64}
    raw = sp.lambdify(symbols, expr.xreplace(big), modules=_JAX_MODULES)

    def fn(x):
        x = jnp.asarray(x, dtype=jnp.float64)
        y = raw(*[x[..., i] for i in range(len(symbols))])
        return jnp.broadcast_to(jnp.asarray(y, dtype=jnp.float64), x.shape[:-1])

    return fn
