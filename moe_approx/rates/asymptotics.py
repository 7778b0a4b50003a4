"""Asymptotic rates of a family: growth path, leading powers, exponents of 1/ε (docs/theory.md §6).

Trade-off r: the expert sizes grow along a path size_i = t^(w_i) chosen so that the error falls
fastest per parameter; t is the largest integer with num_nonzero <= ε^(−r), and K the smallest
integer with MoE error <= ε. Exponents are powers of 1/ε; logarithmic factors are dropped from
exponents (they stay in the asymptotic expressions).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
import sympy as sp

from ..mlp import check_activation
from ._validate import _check_alpha, _check_n, _params, _rational, _resolve
from .counts import RouterCost, router_params, size_symbols
from .symbols import _RAY_WEIGHTS, PARAM_COUNT, C, _t, eps, h, r
from .vc import vc_bhlm, vc_momlp



# --- leading powers ---------------------------------------------------------------------------
def _fit_power(g, to_zero=False):
    """Fit g(x) ≈ c·x^p as x → ∞ (or x → 0+) from values at x = 2^±k: (p as Rational, c as Float).

    Used only for families whose closed forms do not take SymPy symbols. p is rounded to a
    fraction with denominator <= 12 and must agree between two scales.
    """
    for ks in ((64, 128, 256), (16, 32, 64)):
        try:
            xs = [mpmath.mpf(2) ** (-k if to_zero else k) for k in ks]
            args = xs if to_zero else [2**k for k in ks]
            vals = [mpmath.mpf(g(x)) for x in args]
        except (OverflowError, ValueError, ZeroDivisionError):
            continue
        if not all(mpmath.isfinite(v) and v > 0 for v in vals):
            continue
        slopes = [mpmath.log(vals[i + 1] / vals[i]) / mpmath.log(xs[i + 1] / xs[i]) for i in (0, 1)]
        p = Fraction(float(slopes[1])).limit_denominator(12)
        if abs(float(slopes[1]) - p) < 0.01 and abs(float(slopes[0]) - p) < 0.03:
            coeff = vals[2] / xs[2] ** (mpmath.mpf(p.numerator) / p.denominator)
            return sp.Rational(p.numerator, p.denominator), sp.Float(coeff, 15)
    raise ValueError("could not fit a power law to the family's values")


def _power(expr, var, to_zero=False):
    """Leading power and coefficient of a SymPy expression: expr ~ c·var^p."""
    point = (0, "+") if to_zero else (sp.oo,)
    if not expr.has(var):
        return sp.Integer(0), expr
    if isinstance(expr, (sp.Max, sp.Min)):  # leads as its leading argument (largest or smallest power)
        terms = sorted((_power(arg, var, to_zero) for arg in expr.args), key=lambda pc: (pc[0], pc[1]))
        return terms[-1] if isinstance(expr, sp.Max) != to_zero else terms[0]
    p = sp.simplify(sp.limit(sp.log(expr) / sp.log(var), var, *point))
    c = sp.simplify(sp.limit(expr / var**p, var, *point))
    if p.has(sp.oo, sp.nan, sp.zoo) or c.has(sp.oo, sp.nan, sp.zoo) or c == 0:
        raise ValueError(f"{expr} is not asymptotically a power of {var}")
    return p, c


def eps_exponent(expr, r_max=None):
    """The power of 1/ε that leads ``expr`` as ε → 0 (log factors count as power 0).

    Exponent of a product = sum, of a power = power × exponent, of a sum or Max = the largest;
    terms are compared for r in [0, r_max] (see :func:`_max`).

    Parameters
    ----------
    expr : sympy.Expr
        An expression in ``rates.eps`` (and possibly r, C, n, alpha).
    r_max : sympy.Expr or None
        Upper end of the trade-off range used to compare r-dependent exponents.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ValueError
        When ``expr`` is not a power law in ε (e.g. exp(1/ε)).

    Examples
    --------
    >>> from moe_approx.rates import eps, eps_exponent, r
    >>> import sympy as sp
    >>> eps_exponent(3 * eps**-2 * sp.log(1 / eps) + 1 / eps)
    2
    >>> eps_exponent(eps**(r - 2) + eps**-r, r_max=1)  # 2 - r >= r on [0, 1]
    2 - r
    """
    expr = sp.sympify(expr)
    rec = lambda e: eps_exponent(e, r_max)
    if not expr.has(eps):
        return sp.Integer(0)
    if expr == eps:
        return sp.Integer(-1)
    if isinstance(expr, sp.Mul):
        return sp.Add(*[rec(f) for f in expr.args])
    if isinstance(expr, sp.Pow) and not expr.exp.has(eps):
        return expr.exp * rec(expr.base)
    if isinstance(expr, (sp.Add, sp.Max)):
        return _max([rec(f) for f in expr.args], r_max)
    if isinstance(expr, sp.log):
        return sp.Integer(0)
    if isinstance(expr, (sp.ceiling, sp.floor)):
        return rec(expr.args[0])
    raise ValueError(f"no power law in eps for {expr}")


def _dominates(y, x, r_max):
    """y >= x for every r in [0, r_max]: SymPy's sign, or both endpoints when y − x is affine in r."""
    d = sp.simplify(y - x)
    if d.is_nonnegative:
        return True
    if r_max is None or d.has(sp.Max, sp.Min) or sp.diff(d, r, 2) != 0:
        return False
    return all(sp.simplify(d.subs(r, v)).is_nonnegative for v in (0, r_max))


def _max(xs, r_max=None):
    """Max of exponents, dropping those dominated on r in [0, r_max]."""
    out = []
    for x in (sp.simplify(x) for x in xs):
        if any(_dominates(y, x, r_max) for y in out):
            continue
        out = [y for y in out if not _dominates(x, y, r_max)] + [x]
    return out[0] if len(out) == 1 else sp.Max(*out)


# --- the growth path --------------------------------------------------------------------------
def _ray_sizes(module, weights, t):
    """Sizes on the growth path: size_i = t^(w_i) for growing sizes, the default for the others."""
    return {s: (t**w if w else d) for (s, d), w in zip(module.SIZE_DEFAULTS.items(), weights)}


def _choose_ray(module, n_num, alpha_num, activation):
    """Growth weights w ∈ {0,1,2}^d maximizing q/p (error ~ t^−q, params ~ t^p), from values."""
    best, fa = None, mpmath.mpf(alpha_num.p) / alpha_num.q
    for weights in itertools.product(_RAY_WEIGHTS, repeat=len(module.SIZE_DEFAULTS)):
        if not any(weights):
            continue
        try:
            p, _ = _fit_power(lambda t: _params(module, n_num, activation, **_ray_sizes(module, weights, t)))
            q, _ = _fit_power(lambda t: module.error_bound(fa, 1, mpmath.mpf(1), n_num, **_ray_sizes(module, weights, t)))
        except Exception:  # a path the family rejects (e.g. a size with an upper limit) is not a growth path
            continue
        q = -q
        if p > 0 and q > 0:
            key = (q / p, -sum(weights))
            if best is None or key > best[0]:
                best = (key, weights)
    return best[1] if best else None


@dataclass(frozen=True)
class Rate:
    """Rates of one family at dimension n and Hölder exponent α (docs/theory.md §6), from :func:`rate`.

    Attributes
    ----------
    family, activation : str
    n, alpha : int, Rational or Symbol
    method : str
        ``"symbolic"`` or ``"numeric fit"`` (closed forms that need numbers: powers fitted).
    growth : dict
        Size keyword → weight w; sizes grow as t^w along the growth path (empty: fixed-size
        experts). The weights in {0, 1, 2} maximizing q/p are chosen from the family's values (at
        n = 3, α = 1 when n or α is symbolic).
    powers : dict
        Leading powers in t of params, depth, width and of the error (error ~ h^a·t^(−q)).
    r_max : sympy.Expr
        r ranges over [0, r_max] = [0, p/q] (0 when nothing grows).
    asymptotic : dict
        Per quantity of :data:`QUANTITIES`, a ceiling-free expression in (ε, r, C).
    exponent : dict
        The power of 1/ε leading each asymptotic expression (expressions in r).
    exact : dict or None
        The integer design with ceilings and floors as SymPy expressions in (ε, r, C), or
        ``None`` where SymPy could not solve for the sizes (then use :func:`design`).
    exact_in_sizes : dict or None
        The same with the sizes left free, K solved for.
    note : str
    substituted : dict
        The values put in place of a symbolic n or alpha (``numeric_at`` of :func:`rate`), else empty.
    """

    family: str
    n: object
    alpha: object
    activation: str
    method: str
    growth: dict
    powers: dict
    r_max: object
    asymptotic: dict
    exponent: dict
    exact: dict | None
    exact_in_sizes: dict | None
    note: str = ""
    substituted: dict = dataclasses.field(default_factory=dict)

    def frontier(self, eps_value, C_value=1, r_max=0.0, num: int = 50):
        """The leading-order trade-off r ↦ (active params, experts L) at ε, on ``num`` values of r in
        [0, r_max] (one at r = 0 when r_max = 0): numpy arrays (active, L)."""
        values = {eps: sp.Rational(repr(float(eps_value))), C: C_value}
        active = sp.lambdify(r, self.asymptotic["active params"].subs(values), "numpy")
        experts = sp.lambdify(r, self.asymptotic["experts L"].subs(values), "numpy")
        rs = np.linspace(0, r_max, num) if r_max > 0 else np.zeros(1)
        return np.broadcast_to(active(rs), rs.shape), np.broadcast_to(experts(rs), rs.shape)


QUANTITIES = ("cells per side K", "experts L", "params per expert", "active params", "total params",
              "depth", "width", "VC MoMLP (paper)", "VC one network (BHLM)")


def _assemble(n_val, P, J, W, K_val, exact):
    """The MoE's quantities from one expert's P, J, W and K cells per side (docs/theory.md §2, §7).

    ``exact``: K is an integer expression and the router is counted exactly (:func:`router_params`);
    otherwise K is ceiling-free and ⌈log₂ K⌉ is replaced by log₂ K.
    """
    L = K_val**n_val
    router = router_params(n_val, K_val) if exact else RouterCost(n_val * sp.log(K_val, 2), n_val * (K_val - 1))
    total = L * P + router.total
    return {
        "cells per side K": K_val, "experts L": L, "params per expert": P, "active params": P + router.active,
        "total params": total, "depth": J, "width": W,
        "VC MoMLP (paper)": vc_momlp(L, n_val, J, W), "VC one network (BHLM)": vc_bhlm(total, J),
    }


NUMERIC_AT = (2, 1)  # (n, alpha) of a family whose closed forms need numbers, when they are left symbolic


class NeedsNumbers(ValueError):
    """A family's closed forms do not take SymPy symbols for n or alpha."""


def rate(family, n=None, alpha=None, activation="relu", numeric_at=NUMERIC_AT) -> Rate:
    """Derive the rates of ``family`` at ``n`` and ``alpha`` (docs/theory.md §6, §7).

    Parameters
    ----------
    family : str or module
    n : int or None
        Dimension >= 1; ``None`` = symbolic where the family's closed forms take a symbol.
    alpha : float or None
        Hölder exponent in (0, 1]; ``None`` = symbolic where the family's closed forms take a symbol.
    activation : {"relu", "prelu"}
    numeric_at : (int, float)
        The (n, alpha) put in place of a symbolic n or alpha that the family's closed forms refuse
        (as few as needed, alpha first); ``Rate.n``/``Rate.alpha`` and ``Rate.note`` say which.

    Returns
    -------
    Rate
        Growth path, r range, and per quantity of :data:`QUANTITIES` the asymptotic expression in
        (ε, r, C) and the exponent of 1/ε.

    Raises
    ------
    ValueError
        For an unknown family or activation, n < 1, alpha outside (0, 1] (also in ``numeric_at``).

    Examples
    --------
    >>> from moe_approx import rates
    >>> rt = rates.rate("cpwl", 2, 1)
    >>> rt.growth, rt.r_max
    ({'k': 1}, 2)
    >>> rt.exponent["experts L"], rt.exponent["active params"], rt.exponent["total params"]
    (2 - r, r, 2)
    """
    name, module = _resolve(family)
    n_val, a_val, activation = _check_n(n, True), _check_alpha(alpha, True), check_activation(activation)
    if not isinstance(numeric_at, (tuple, list)) or len(numeric_at) != 2:
        raise TypeError(f"numeric_at must be a pair (n, alpha), got {numeric_at!r}")
    n_num, a_num = _check_n(numeric_at[0]), _check_alpha(numeric_at[1])
    n_opts = [n_val] if isinstance(n_val, int) else [n_val, n_num]
    a_opts = [a_val] if a_val.is_number else [a_val, a_num]
    tries = [(n_try, a_try) for n_try in n_opts for a_try in a_opts]
    for i, (n_try, a_try) in enumerate(tries):
        try:
            rt = _rate(name, module, n_try, a_try, activation)
        except NeedsNumbers:
            if i == len(tries) - 1:
                raise
            continue
        subs = {s: v for s, v, asked in (("n", n_try, n_val), ("alpha", a_try, a_val)) if v is not asked}
        if subs:
            note = f"{substitution_note(subs)}; {rt.note}" if rt.note else substitution_note(subs)
            rt = dataclasses.replace(rt, note=note, substituted=subs)
        return rt


def substitution_note(subs: dict) -> str:
    """'n = 2 in place of a symbol: ...' for the values :func:`rate` put in place of symbols."""
    if not subs:
        return ""
    values = ", ".join(f"{k} = {v}" for k, v in subs.items())
    return f"{values} in place of {'a symbol' if len(subs) == 1 else 'symbols'}: the family's closed forms need numbers"


@functools.lru_cache(maxsize=None)
def _rate(name, module, n_val, a_val, activation) -> Rate:
    n_num = n_val if isinstance(n_val, int) else 3  # numeric stand-ins to choose the growth path
    a_num = a_val if a_val.is_number else sp.Integer(1)
    weights = _choose_ray(module, n_num, a_num, activation) if module.SIZE_DEFAULTS else None
    growth = dict(zip(module.SIZE_DEFAULTS, weights)) if weights else {}
    try:
        return _rate_symbolic(name, module, n_val, a_val, activation, growth, weights)
    except Exception as exc:  # closed forms that need numbers
        if not (isinstance(n_val, int) and a_val.is_number):
            raise NeedsNumbers(f"{name}: closed forms do not take SymPy symbols ({exc}); pass numeric n and alpha") from exc
        return _rate_numeric(name, module, n_val, a_val, activation, growth, weights, f"{type(exc).__name__}: {exc}")


def _asymptotics(n_val, powers, growth, r_max):
    """Ceiling-free quantities at trade-off r: t = (ε^−r/c_P)^(1/p), K = (c_e·t^−q/ε)^(1/a)."""
    (p, c_P), (q, c_e), a = powers["params"], powers["error"], powers["h in error"]
    t_eps = (eps**-r / c_P) ** (1 / p) if growth else sp.Integer(1)
    lead = {k: sp.powsimp(powers[k][1] * t_eps ** powers[k][0], force=True) for k in ("params", "depth", "width")}
    K_eps = sp.powsimp(sp.simplify((c_e * t_eps**-q / eps) ** (1 / a)), force=True)
    asym = _assemble(n_val, lead["params"], lead["depth"], lead["width"], K_eps, exact=False)
    return asym, {k: sp.simplify(eps_exponent(v, r_max)) for k, v in asym.items()}


def _rate_symbolic(name, module, n_val, a_val, activation, growth, weights):
    sizes_t = _ray_sizes(module, weights, _t) if weights else dict(module.SIZE_DEFAULTS)
    forms = {f: sp.sympify(getattr(module, f)(n_val, activation, **sizes_t)) for f in (PARAM_COUNT, "depth", "width")}
    e_t = sp.sympify(module.error_bound(a_val, C, h, n_val, **sizes_t))
    a, g = _power(e_t, h, to_zero=True)
    if not a.is_positive:
        raise ValueError(f"error bound {e_t} does not vanish as the cell side h -> 0")
    powers = {"h in error": a}
    for key, expr in (("params", forms[PARAM_COUNT]), ("depth", forms["depth"]), ("width", forms["width"]), ("error", g)):
        powers[key] = _power(expr, _t) if growth else (sp.Integer(0), expr)
    q, c_e = powers["error"]
    powers["error"] = (-q, c_e)
    r_max = sp.simplify(powers["params"][0] / -q) if growth else sp.Integer(0)
    asym, exponent = _asymptotics(n_val, powers, growth, r_max)

    exact_in_sizes, exact, note = None, None, ""
    syms = size_symbols(module)
    h_sol = sp.solve(sp.Eq(sp.sympify(module.error_bound(a_val, C, h, n_val, **syms)), eps), h)
    if len(h_sol) == 1:
        K_s = sp.ceiling(1 / h_sol[0])
        P_s, J_s, W_s = (sp.sympify(getattr(module, f)(n_val, activation, **syms)) for f in (PARAM_COUNT, "depth", "width"))
        exact_in_sizes = _assemble(n_val, P_s, J_s, W_s, K_s, exact=True)
        budget = sp.Symbol("B", positive=True)
        t_sol = sp.solve(sp.Eq(forms[PARAM_COUNT], budget), _t) if growth else [None]
        if len(t_sol) == 1:
            t_ex = sp.Max(1, sp.floor(t_sol[0].subs(budget, eps**-r))) if growth else _t
            at = lambda e: e.subs(_t, t_ex)
            K_ex = K_s.subs({syms[s]: at(sp.sympify(v)) for s, v in sizes_t.items()})
            exact = _assemble(n_val, at(forms[PARAM_COUNT]), at(forms["depth"]), at(forms["width"]), K_ex, exact=True)
        else:
            note = f"SymPy found {len(t_sol)} solutions t of num_nonzero = B; exact sizes at r: use design()"
    else:
        note = f"SymPy found {len(h_sol)} solutions h of error_bound = eps; exact K: use design()"
    return Rate(name, n_val, a_val, activation, "symbolic", growth, powers, r_max, asym, exponent, exact, exact_in_sizes, note)


def _fit_or_const(fn, growth):
    """(power, coefficient) of fn(t) along the growth path, fitted; constants stay exact."""
    if not growth or fn(2**16) == fn(2**32):
        return sp.Integer(0), sp.Integer(fn(1))
    return _fit_power(fn)


def _rate_numeric(name, module, n_val, a_val, activation, growth, weights, reason):
    """Fallback: leading powers fitted from the family's values (closed forms that need numbers)."""
    sizes = lambda t: _ray_sizes(module, weights, t) if weights else dict(module.SIZE_DEFAULTS)
    fa = mpmath.mpf(a_val.p) / a_val.q
    a, _ = _fit_power(lambda x: module.error_bound(fa, 1, x, n_val, **sizes(1)), to_zero=True)
    powers = {"h in error": a}
    for key in (PARAM_COUNT, "depth", "width"):
        fn = getattr(module, key)
        powers[{PARAM_COUNT: "params"}.get(key, key)] = _fit_or_const(lambda t: fn(n_val, activation, **sizes(t)), growth)
    err = lambda t: module.error_bound(fa, 1, mpmath.mpf(1), n_val, **sizes(t))
    q, c_e = _fit_power(err) if growth else (sp.Integer(0), sp.Float(err(1), 15))
    powers["error"] = (-q, c_e * C)  # Hölder error bounds are linear in C
    r_max = powers["params"][0] / -q if growth else sp.Integer(0)
    asym, exponent = _asymptotics(n_val, powers, growth, r_max)
    note = f"numeric fit: the closed forms do not take SymPy symbols ({reason}); exact values from design()"
    return Rate(name, n_val, a_val, activation, "numeric fit", growth, powers, r_max, asym, exponent, None, None, note)


def r_range(family, n, alpha, activation="relu") -> tuple:
    """[0, r_max]: active parameters ≍ ε^(−r) is reachable for exactly these r (docs/theory.md §6).

    Parameters
    ----------
    family : str or module
    n : int
    alpha : float
    activation : {"relu", "prelu"}

    Returns
    -------
    tuple of sympy.Expr
        ``(0, r_max)``; r_max = 0 for fixed-size experts.

    Examples
    --------
    >>> from moe_approx import rates
    >>> rates.r_range("optimal", 2, 1), rates.r_range("constant", 2, 1)
    ((0, 1), (0, 0))
    """
    return (sp.Integer(0), rate(family, n, alpha, activation).r_max)


def _check_r(value, rt: Rate):
    rr = _rational(value, "r")
    if not 0 <= rr <= rt.r_max:
        raise ValueError(f"r must be in [0, {rt.r_max}] for family {rt.family!r} at n={rt.n}, alpha={rt.alpha}, got {value!r}")
    return rr

