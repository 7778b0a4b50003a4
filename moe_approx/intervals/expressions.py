"""Interval evaluation of SymPy expression trees, compiled with JAX (docs/theory.md §9); see :mod:`moe_approx.intervals`."""

from __future__ import annotations

from typing import Callable, Sequence

import jax.numpy as jnp
import jax.scipy.special as jsp
import sympy as sp

from .arithmetic import (abs_, add, atan, cbrt, cos, cot, div, erf, exp, heaviside, integer_power, log, maximum,
                         minimum, mul, neg, real_power, sign, sin, sqrt, tan, tanh)
from .rounding import Interval, _nan_where, constant_enclosure
from .._config import kernel_jit

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

    return kernel_jit(enclosure) if jit else enclosure


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

    return kernel_jit(enclosure) if jit else enclosure


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
