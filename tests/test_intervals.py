"""Interval enclosures (moe_approx.intervals, docs/theory.md §9) against arb and dense sampling.

For every supported atom, on random boxes: the JAX enclosure contains the exact range (computed
with python-flint's arb at 200 bits from the endpoints and the critical points inside the box),
is at most a few ulps wider than it (monotonicity and extrema are exact), is at most a few
times wider than arb's own ball enclosure, and contains dense float samples. Random expression
trees (hypothesis): the enclosure contains arb's exact values at sample points and corners.
"""

from __future__ import annotations

import math
import zlib
from functools import reduce

import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from flint import arb, ctx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moe_approx import intervals as iv
from moe_approx.intervals.rounding import TRANSCENDENTAL_ULPS
from moe_approx.formula import variables

X1, X2 = variables(2)
PREC = 200
HALF, THIRD = sp.Rational(1, 2), sp.Rational(1, 3)


@pytest.fixture(autouse=True, scope="module")
def _arb_precision():
    old, ctx.prec = ctx.prec, PREC
    yield
    ctx.prec = old


class Uncertain(Exception):
    """arb cannot decide a condition at this point (never happens at float points in practice)."""


def _cond(c, env, balls):
    """(may, must) of a SymPy condition under arb."""
    if c is sp.true:
        return True, True
    if c is sp.false:
        return False, False
    if isinstance(c, (sp.And, sp.Or)):
        parts = [_cond(a, env, balls) for a in c.args]
        agg = all if isinstance(c, sp.And) else any
        return agg(p[0] for p in parts), agg(p[1] for p in parts)
    if isinstance(c, sp.Not):
        may, must = _cond(c.args[0], env, balls)
        return not must, not may
    if isinstance(c, sp.ITE):
        (may_a, must_a), (may_b, must_b), (may_c, must_c) = (_cond(x, env, balls) for x in c.args)
        return (may_a and may_b) or (not must_a and may_c), (must_a and must_b) or (not may_a and must_c)
    a, b = to_arb(c.lhs, env, balls), to_arb(c.rhs, env, balls)
    if isinstance(c, (sp.StrictGreaterThan, sp.GreaterThan)):
        a, b = b, a
    if isinstance(c, (sp.StrictLessThan, sp.StrictGreaterThan)):
        return not (a >= b), bool(a < b)
    if isinstance(c, (sp.LessThan, sp.GreaterThan)):
        return not (a > b), bool(a <= b)
    raise NotImplementedError(c)


_ARB_UNARY = {
    sp.exp: arb.exp, sp.log: arb.log, sp.sin: arb.sin, sp.cos: arb.cos, sp.tan: arb.tan,
    sp.tanh: arb.tanh, sp.atan: arb.atan, sp.erf: arb.erf, sp.Abs: abs, sp.sign: arb.sgn, sp.cot: arb.cot,
}


def to_arb(e, env, balls=False):
    """Evaluate a SymPy tree in arb (independent of moe_approx.intervals). ``balls``: Piecewise unions
    the branches that may apply; otherwise an undecidable condition raises Uncertain."""
    if isinstance(e, sp.Symbol):
        return env[e]
    if isinstance(e, sp.Integer):
        return arb(int(e))
    if isinstance(e, sp.Rational):
        return arb(int(e.p)) / arb(int(e.q))
    if isinstance(e, sp.Float):
        return arb(float(e))
    if e is sp.pi:
        return arb.pi()
    if e is sp.E:
        return arb(1).exp()
    if isinstance(e, sp.Add):
        return reduce(lambda a, b: a + b, [to_arb(a, env, balls) for a in e.args])
    if isinstance(e, sp.Mul):
        return reduce(lambda a, b: a * b, [to_arb(a, env, balls) for a in e.args])
    if isinstance(e, sp.Pow):
        base = to_arb(e.base, env, balls)
        if e.exp.is_Integer:
            m = int(e.exp)
            return base**m if m >= 0 else 1 / base ** (-m)
        if e.exp == HALF:
            return base.sqrt()
        if e.exp == THIRD:
            return arb(0) if base.is_zero() else base.root(3)
        return base ** to_arb(e.exp, env, balls)
    if isinstance(e, (sp.Min, sp.Max)):
        pick = arb.min if isinstance(e, sp.Min) else arb.max
        return reduce(pick, [to_arb(a, env, balls) for a in e.args])
    if isinstance(e, sp.Heaviside):
        return (to_arb(e.args[0], env, balls).sgn() + 1) / 2
    if isinstance(e, sp.DiracDelta):  # at points only: 0 away from the origin
        arg = to_arb(e.args[0], env, balls)
        if arg.contains(0):
            raise Uncertain(e)
        return arb(0)
    if isinstance(e, sp.Piecewise):
        possible = []
        for branch, cond in e.args:
            may, must = _cond(cond, env, balls)
            if not balls and may and not must:
                raise Uncertain(cond)
            if may:
                possible.append(branch)
            if must:
                break
        return reduce(arb.union, [to_arb(b, env, balls) for b in possible])
    if e.func in _ARB_UNARY:
        return _ARB_UNARY[e.func](to_arb(e.args[0], env, balls))
    raise NotImplementedError(e.func)


def _ulp_tol(value: float, ulps: int = 64) -> float:
    return ulps * 2.0**-52 * abs(value) + 1e-280


# --- one atom at a time --------------------------------------------------------------------------


def _crit_periodic(offset, period, value):
    """Critical points offset + k·period inside [lo, hi] (decided in arb), with their known value."""

    def crit(lo, hi):
        pi = arb.pi()
        out = []
        for k in range(math.floor((lo - 4) / 6.2), math.ceil((hi + 4) / 6.2) + 1):
            c = offset * pi + k * period * pi
            if arb(lo) <= c and c <= arb(hi):
                out.append(arb(value))
            elif not (c < arb(lo) or c > arb(hi)):
                raise Uncertain(c)
        return out

    return crit


def _crit_zero(value=0):
    return lambda lo, hi: [arb(value)] if lo < 0 < hi else []


def _pole(offset, period):
    def hit(lo, hi):
        pi = arb.pi()
        return any(
            not (offset * pi + k * period * pi < arb(lo) or offset * pi + k * period * pi > arb(hi))
            for k in range(math.floor(lo / 3) - 2, math.ceil(hi / 3) + 3)
        )

    return hit


# name: (expr, domain of the random boxes, critical values inside a box, unbounded on the box)
ATOMS = {
    "add": (X1 + X2, (-10, 10), None, None),
    "sub": (X1 - X2, (-10, 10), None, None),
    "mul": (X1 * X2, (-10, 10), None, None),
    "div": (X1 / X2, (-10, 10), None, lambda lo, hi: lo[1] <= 0 <= hi[1]),
    "square": (X1**2, (-3, 3), _crit_zero(), None),
    "cube": (X1**3, (-3, 3), None, None),
    "fourth": (X1**4, (-3, 3), _crit_zero(), None),
    "inverse": (1 / X1, (-3, 3), None, lambda lo, hi: lo[0] <= 0 <= hi[0]),
    "inverse_square": (X1**-2, (-3, 3), None, lambda lo, hi: lo[0] <= 0 <= hi[0]),
    "sqrt": (sp.sqrt(X1), (0, 10), None, None),
    "cbrt": (sp.cbrt(X1), (0, 10), None, None),
    "real_power": (X1 ** sp.Rational(3, 4), (0, 10), None, None),
    "irrational_power": (X1 ** sp.sqrt(2), (0, 10), None, None),
    "negative_real_power": (X1 ** sp.Rational(-3, 2), (0, 10), None, lambda lo, hi: lo[0] == 0),
    "abs": (sp.Abs(X1), (-5, 5), _crit_zero(), None),
    "min": (sp.Min(X1, X2), (-5, 5), None, None),
    "max": (sp.Max(X1, X2), (-5, 5), None, None),
    "exp": (sp.exp(X1), (-50, 50), None, None),
    "log": (sp.log(X1), (0, 100), None, lambda lo, hi: lo[0] == 0),
    "sin": (sp.sin(X1), (-20, 20), lambda lo, hi: _crit_periodic(0.5, 2, 1)(lo, hi) + _crit_periodic(1.5, 2, -1)(lo, hi), None),
    "cos": (sp.cos(X1), (-20, 20), lambda lo, hi: _crit_periodic(0, 2, 1)(lo, hi) + _crit_periodic(1, 2, -1)(lo, hi), None),
    "tan": (sp.tan(X1), (-10, 10), None, lambda lo, hi: _pole(0.5, 1)(lo[0], hi[0])),
    "cot": (sp.cot(X1), (-10, 10), None, lambda lo, hi: _pole(0, 1)(lo[0], hi[0])),
    "tanh": (sp.tanh(X1), (-25, 25), None, None),
    "atan": (sp.atan(X1), (-50, 50), None, None),
    "erf": (sp.erf(X1), (-7, 7), None, None),
    "sign": (sp.sign(X1), (-2, 2), None, None),
    "heaviside": (sp.Heaviside(X1), (-2, 2), None, None),
}


def _random_boxes(rng, domain, n, count):
    """Boxes of log-uniform widths (1e-12 to the whole domain) inside the domain, some touching its ends."""
    low, high = domain
    width = (high - low) * 10.0 ** rng.uniform(-12, 0, size=(count, n))
    lo = low + rng.uniform(0, 1, size=(count, n)) * (high - low - width)
    lo[: count // 8] = low  # boxes at the lower end of the domain (0 for sqrt, log, powers)
    lo[count // 8 : count // 4] = np.round(lo[count // 8 : count // 4])  # integer ends (0 for abs, ...)
    return lo, np.minimum(lo + width, high)


def _corners(lo, hi, n):
    return [tuple((hi if (k >> i) & 1 else lo)[i] for i in range(n)) for k in range(2**n)]


@pytest.mark.parametrize("name", sorted(ATOMS))
def test_atom_enclosure_against_arb_and_samples(name):
    expr, domain, critical, unbounded = ATOMS[name]
    symbols = (X1, X2) if X2 in expr.free_symbols else (X1,)
    n = len(symbols)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    lo, hi = _random_boxes(rng, domain, n, 48)
    f_lo, f_hi = (np.asarray(a) for a in iv.compile_enclosure(expr, symbols, jit=False)(jnp.asarray(lo), jnp.asarray(hi)))
    fn = iv.compile_point(expr, symbols)
    samples = lo[:, None, :] + rng.uniform(0, 1, size=(len(lo), 64, n)) * (hi - lo)[:, None, :]
    values = np.asarray(fn(jnp.asarray(samples)))
    checked = 0
    for b in range(len(lo)):
        assert f_lo[b] <= f_hi[b], (name, lo[b], hi[b])
        inside = values[b][np.isfinite(values[b])]
        assert np.all((f_lo[b] <= inside) & (inside <= f_hi[b])), (name, lo[b], hi[b], f_lo[b], f_hi[b])
        if unbounded is not None and unbounded(lo[b], hi[b]):
            assert f_lo[b] == -np.inf or f_hi[b] == np.inf, (name, lo[b], hi[b])
            continue
        vals = [to_arb(expr, {s: arb(float(c[i])) for i, s in enumerate(symbols)}) for c in _corners(lo[b], hi[b], n)]
        if critical is not None:
            vals += critical(lo[b, 0], hi[b, 0])
        exact_lo, exact_hi = reduce(arb.min, vals), reduce(arb.max, vals)
        # contains the exact range ...
        assert arb(float(f_lo[b])) <= exact_lo and arb(float(f_hi[b])) >= exact_hi, (name, lo[b], hi[b])
        # ... and is only a few ulps wider (monotonicity and extrema are exact)
        e_lo, e_hi = float(exact_lo.mid()), float(exact_hi.mid())
        assert f_lo[b] >= e_lo - _ulp_tol(e_lo) and f_hi[b] <= e_hi + _ulp_tol(e_hi), (name, lo[b], hi[b])
        # ... and at most a few times wider than arb's own ball enclosure of the box
        box = {s: arb(float(lo[b, i])).union(arb(float(hi[b, i]))) for i, s in enumerate(symbols)}
        ball = to_arb(expr, box, balls=True)
        if ball.is_finite():
            arb_width = float(ball.upper()) - float(ball.lower())
            assert f_hi[b] - f_lo[b] <= 4 * arb_width + _ulp_tol(max(abs(e_lo), abs(e_hi))), (name, lo[b], hi[b])
        checked += 1
    assert checked >= len(lo) // 2  # the unbounded cases must not swallow the test


def test_sin_cos_extrema_near_critical_points():
    """Boxes ending one ulp before or after ±π/2, π, 3π/2, 2π: the extremum is included iff it may lie inside."""
    pts = np.array([np.pi / 2, np.pi, 3 * np.pi / 2, 2 * np.pi, -np.pi / 2])
    lo = np.concatenate([pts - 0.1, np.nextafter(pts, np.inf)])[:, None]
    hi = np.concatenate([np.nextafter(pts, -np.inf), pts + 0.1])[:, None]
    for expr in (sp.sin(X1), sp.cos(X1)):
        f_lo, f_hi = (np.asarray(a) for a in iv.compile_enclosure(expr, (X1,))(jnp.asarray(lo), jnp.asarray(hi)))
        for b in range(len(lo)):
            exact = [to_arb(expr, {X1: arb(float(v))}) for v in (lo[b, 0], hi[b, 0])]
            assert arb(float(f_lo[b])) <= reduce(arb.min, exact) and arb(float(f_hi[b])) >= reduce(arb.max, exact)
            assert f_hi[b] - f_lo[b] <= 0.11  # never the whole [−1, 1] on these short boxes


def test_piecewise_union_of_possible_branches():
    expr = sp.Piecewise((X1**2, X1 < HALF), (1 - X1, True))
    rng = np.random.default_rng(7)
    lo, hi = _random_boxes(rng, (-1, 2), 1, 64)
    f_lo, f_hi, defined = (np.asarray(a) for a in iv.compile_enclosure(expr, (X1,), with_defined=True)(jnp.asarray(lo), jnp.asarray(hi)))
    assert defined.all()
    for b in range(len(lo)):
        a, c = lo[b, 0], hi[b, 0]
        vals = []
        if a < 0.5:  # branch 1 on [a, min(c, 1/2)), closure
            left = [a, min(c, 0.5)] + ([0.0] if a < 0 < c else [])
            vals += [arb(float(t)) ** 2 for t in left]
        if c >= 0.5:
            vals += [1 - arb(float(max(a, 0.5))), 1 - arb(float(c))]
        assert arb(float(f_lo[b])) <= reduce(arb.min, vals) and arb(float(f_hi[b])) >= reduce(arb.max, vals)
    # a box on one side of the switch uses only that branch: x² on [0, 0.25] is within [0, 1/16]
    one = iv.compile_enclosure(expr, (X1,))(jnp.array([[0.0]]), jnp.array([[0.25]]))
    assert float(one[1][0]) <= 0.0625 * (1 + 1e-15)


@pytest.mark.parametrize("value", [sp.pi, sp.E, THIRD, sp.Rational(-22, 7), sp.Integer(3), sp.Float("0.1"), sp.GoldenRatio])
def test_constants_enclosed_tightly(value):
    lo, hi = iv.constant_enclosure(value)
    exact = arb(str(value)) if isinstance(value, sp.Float) else to_arb(value, {}) if value is not sp.GoldenRatio else (1 + arb(5).sqrt()) / 2
    assert arb(lo) <= exact and exact <= arb(hi)
    assert math.nextafter(math.nextafter(lo, math.inf), math.inf) >= hi  # at most 2 ulps wide
    if isinstance(value, sp.Integer):
        assert lo == hi == int(value)


def test_constants_beyond_the_float_range():
    assert iv.constant_enclosure(sp.Integer(10) ** 400) == (np.finfo(float).max, math.inf)
    assert iv.constant_enclosure(-sp.Integer(10) ** 400) == (-math.inf, -np.finfo(float).max)
    # (almost) subnormal constants: XLA reads subnormals as 0, so the enclosure reaches ±TINY
    assert iv.constant_enclosure(sp.Rational(1, 10**400)) == (0.0, iv.TINY)
    assert iv.constant_enclosure(-sp.Rational(1, 10**305)) == (-iv.TINY, 0.0)


def test_outward_rounding_is_at_least_one_ulp_and_covers_flushed_subnormals():
    y = jnp.array([1.0, -3.5, 0.0, 1e-310, jnp.inf, -jnp.inf])
    d, u = np.asarray(iv.down(y)), np.asarray(iv.up(y))
    finite = np.isfinite(np.asarray(y))
    assert np.all(d[finite] < np.asarray(y)[finite]) and np.all(u[finite] > np.asarray(y)[finite])
    assert d[2] <= -iv.TINY and u[2] >= iv.TINY  # a result flushed to 0 may have been ±2^-1022
    assert d[5] == -np.inf and u[4] == np.inf and np.isfinite(d[4]) and np.isfinite(u[5])
    # relative widening: 16 ulps for transcendental functions
    assert np.asarray(iv.up(jnp.array(1.0), iv.TRANSCENDENTAL_ULPS)) >= 1 + 16 * 2.0**-52


def test_whole_line_and_zero_times_infinity():
    whole = (jnp.array([-jnp.inf]), jnp.array([jnp.inf]))
    zero = (jnp.array([0.0]), jnp.array([0.0]))
    lo, hi = iv.mul(zero, whole)
    assert float(lo[0]) <= 0 <= float(hi[0]) and np.isfinite([lo[0], hi[0]]).all()
    lo, hi = iv.div((jnp.array([1.0]), jnp.array([2.0])), (jnp.array([-1.0]), jnp.array([0.0])))
    assert float(lo[0]) == -np.inf and float(hi[0]) == np.inf


# --- random expression trees (hypothesis) ------------------------------------------------------


_LEAVES = st.sampled_from([X1, X2, X1, X2, sp.Rational(1, 3), sp.Integer(2), sp.Rational(-5, 4), sp.pi / 4])
_UNARY = [
    sp.sin, sp.cos, sp.tanh, sp.atan, sp.erf, sp.Abs,
    lambda e: sp.exp(sp.sin(e)),
    lambda e: sp.log(1 + e**2),
    lambda e: sp.sqrt(sp.Abs(e)),
    lambda e: sp.cbrt(sp.Abs(e)),
    lambda e: sp.Abs(e) ** sp.Rational(3, 4),
    lambda e: e**2,
    lambda e: e**3,
    lambda e: sp.tan(e),
]
_BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (1 + b**2),
    lambda a, b: sp.Min(a, b),
    lambda a, b: sp.Max(a, b),
    lambda a, b: sp.Piecewise((a, b < HALF), (a * b, True)),
]


def _inside(v, lo, hi) -> bool:
    """The exact value (an arb ball of radius ~2^-200) is not certainly outside [lo, hi]: a real
    violation, at least a float's rounding error, is always certain; a ball may straddle an end
    only when the value is within 2^-200 of it (erf(27) = 1 − 1e-319, say)."""
    return not (v < arb(float(lo))) and not (v > arb(float(hi)))


@st.composite
def _trees(draw):
    """Random compositions of 2 to 9 supported operations, built as a stack machine (so that the
    trees are not mostly leaves, as st.recursive's would be)."""
    stack = [draw(_LEAVES)]
    for _ in range(draw(st.integers(2, 9))):
        if len(stack) >= 2 and draw(st.booleans()):
            b, a = stack.pop(), stack.pop()
            stack.append(draw(st.sampled_from(_BINARY))(a, b))
        else:
            stack.append(draw(st.sampled_from(_UNARY))(stack.pop()))
        if draw(st.integers(0, 2)) == 0:
            stack.append(draw(_LEAVES))
    return reduce(lambda a, b: a + b, stack)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=_trees(), seed=st.integers(0, 2**31 - 1), log_width=st.floats(-8, 0))
def test_random_trees_contain_arb_values(expr, seed, log_width):
    rng = np.random.default_rng(seed)
    width = 10.0**log_width
    lo = rng.uniform(0, 1 - width, size=(1, 2))
    hi = lo + width
    f_lo, f_hi = (float(np.asarray(a)[0]) for a in iv.compile_enclosure(expr, (X1, X2), jit=False)(jnp.asarray(lo), jnp.asarray(hi)))
    assert not (f_lo > f_hi)
    if math.isnan(f_lo):
        return  # the formula is undefined on the whole box (never for these domain-safe trees)
    points = np.concatenate([lo + rng.uniform(0, 1, size=(12, 2)) * width, np.array(_corners(lo[0], hi[0], 2))])
    for p in points:
        try:
            v = to_arb(expr, {X1: arb(float(p[0])), X2: arb(float(p[1]))})
        except Uncertain:
            continue
        if not v.is_finite():
            continue
        assert _inside(v, f_lo, f_hi), (expr, p, f_lo, f_hi, v)
    # never much wider than arb's ball enclosure of the same tree, exact or at the precision of the
    # enclosure's own widening (2^-48 relative = TRANSCENDENTAL_ULPS ulps per operation): on point-like
    # boxes the width is rounding alone, amplified along the tree (tan near a pole amplifies it 700-fold)
    env = {X1: arb(float(lo[0, 0])).union(arb(float(hi[0, 0]))), X2: arb(float(lo[0, 1])).union(arb(float(hi[0, 1])))}
    ball = to_arb(expr, env, balls=True)
    old, ctx.prec = ctx.prec, 53 - int(math.log2(TRANSCENDENTAL_ULPS))
    try:
        coarse = to_arb(expr, env, balls=True)
    finally:
        ctx.prec = old
    if ball.is_finite() and coarse.is_finite() and math.isfinite(f_hi - f_lo):
        arb_width = max(float(b.upper()) - float(b.lower()) for b in (ball, coarse))
        assert f_hi - f_lo <= 4 * arb_width + 1e-12 * max(1.0, abs(f_lo), abs(f_hi)), (expr, lo, hi)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=_trees(), seed=st.integers(0, 2**31 - 1), log_width=st.floats(-6, -1))
def test_random_tree_gradients_contain_arb_derivatives(expr, seed, log_width):
    """Where the gradient enclosure is finite, it contains arb's values of SymPy's derivative."""
    rng = np.random.default_rng(seed)
    width = 10.0**log_width
    lo = rng.uniform(0, 1 - width, size=(1, 2))
    hi = lo + width
    g_lo, g_hi = (np.asarray(a)[0] for a in iv.compile_gradient_enclosure(expr, (X1, X2), jit=False)(jnp.asarray(lo), jnp.asarray(hi)))
    points = np.concatenate([lo + rng.uniform(0, 1, size=(6, 2)) * width, np.array(_corners(lo[0], hi[0], 2))])
    for i, d in enumerate(iv.gradient_expressions(expr, (X1, X2))):
        if not (np.isfinite(g_lo[i]) and np.isfinite(g_hi[i])):
            continue
        for p in points:
            try:
                v = to_arb(d, {X1: arb(float(p[0])), X2: arb(float(p[1]))})
            except Uncertain:
                continue
            assert _inside(v, g_lo[i], g_hi[i]), (expr, d, p, g_lo[i], g_hi[i], v)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=_trees(), seed=st.integers(0, 2**31 - 1), log_width=st.floats(-6, -1))
def test_random_tree_mean_value_form_contains_arb_values(expr, seed, log_width):
    """f(c) + ∇f(B)·(B − c) ∩ natural (moe_approx.targets.formula) contains arb's exact values in the box."""
    from moe_approx.targets.formula import _mean_value_form

    rng = np.random.default_rng(seed)
    width = 10.0**log_width
    lo = jnp.asarray(rng.uniform(0, 1 - width, size=(1, 2)))
    hi = lo + width
    c = jnp.clip(lo + 0.5 * (hi - lo), lo, hi)
    value = iv.compile_enclosure(expr, (X1, X2), jit=False)
    grad = iv.compile_gradient_enclosure(expr, (X1, X2), jit=False)
    natural = value(lo, hi)
    m_lo, m_hi = (float(np.asarray(a)[0]) for a in _mean_value_form(lo, hi, c, natural, value(c, c), grad(lo, hi)))
    if math.isnan(m_lo) or math.isnan(m_hi):
        return
    assert m_lo >= float(natural[0][0]) and m_hi <= float(natural[1][0])
    points = np.concatenate([np.asarray(lo) + rng.uniform(0, 1, size=(8, 2)) * width, np.array(_corners(np.asarray(lo)[0], np.asarray(hi)[0], 2))])
    for p in points:
        try:
            v = to_arb(expr, {X1: arb(float(p[0])), X2: arb(float(p[1]))})
        except Uncertain:
            continue
        if v.is_finite():
            assert _inside(v, m_lo, m_hi), (expr, p, m_lo, m_hi, v)


# --- refusals ------------------------------------------------------------------------------------


def test_unsupported_atoms_are_named():
    g = sp.Function("g")
    expr = sp.gamma(X1) + sp.floor(X2) + sp.zeta(X1) + g(X2) + sp.Symbol("y") + sp.I * X1
    names = iv.unsupported_atoms(expr, (X1, X2))
    for expected in ("gamma", "floor", "zeta", "g (undefined function)", "symbol y", "I"):
        assert expected in names
    assert iv.unsupported_atoms(sp.sqrt(sp.Abs(X1 - THIRD)) + sp.sin(3 * X2), (X1, X2)) == []
