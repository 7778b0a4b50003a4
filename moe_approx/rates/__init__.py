"""Rates derived from the constructions (THEORY.md §6–7), in SymPy.

Everything family-specific comes from the family module (``experts.get(name)``, interface in
``experts/__init__.py``): ``num_params``, ``num_nonzero``, ``depth``, ``width`` and
``error_bound`` are called with SymPy symbols, or with numbers where a family's closed forms do
not take symbols (then the result says ``method="numeric fit"``). No count formula is retyped here.

MoE model (THEORY.md §2, §6): K cells per side, L = K^n experts of one architecture, side
h = 1/K; MoE error = ``error_bound(alpha, C, 1/K, n, **size)``; active parameters = one expert's
parameter count + the router thresholds on one root-to-leaf path; total = L·(parameter count) + all
router thresholds (:func:`router_params`).

Parameter count: the family's ``num_nonzero`` (:data:`PARAM_COUNT`), the count of Petersen &
Voigtlaender 2018 that THEORY.md §2 and §6 use (the constant expert has one parameter). Stored
dense counts (``num_params``) of hat-sum experts grow like (k+1)^(n+1) or faster because their
hidden layers are block-diagonal matrices; the nonzero count grows like (k+1)^n, the count the
rates of §6 are about. ``MixtureOfExperts.total_nonzero`` measures the same count.

Trade-off r (THEORY.md §6): the expert sizes grow along a path size_i = t^(w_i) chosen so that
the error falls fastest per parameter; t is the largest integer with num_nonzero ≤ ε^(−r), and K
the smallest integer with MoE error ≤ ε. Exponents are powers of 1/ε; logarithmic factors are
dropped from exponents (they stay in the asymptotic expressions).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import numpy as np
import sympy as sp

from .. import experts
from ..partition import grid_router_params
from ..mlp import check_activation

# --- symbols ----------------------------------------------------------------------------------
eps = sp.Symbol("epsilon", positive=True)
r = sp.Symbol("r", nonnegative=True)
C = sp.Symbol("C", positive=True)
alpha = sp.Symbol("alpha", positive=True)
n = sp.Symbol("n", positive=True, integer=True)
delta = sp.Symbol("delta", positive=True)
h = sp.Symbol("h", positive=True)
K = sp.Symbol("K", positive=True, integer=True)
_t = sp.Symbol("t", positive=True)

BYTES_PER_PARAM = 8  # float64
PARAM_COUNT = "num_nonzero"  # the family closed form the rates count as parameters
_INTERFACE = ("SIZE_DEFAULTS", "depth", "width", "num_params", "num_nonzero", "error_bound")
_RAY_WEIGHTS = (0, 1, 2)


# --- validation -------------------------------------------------------------------------------
def _rational(x, name):
    """A user number as an exact SymPy Rational (floats read as their decimal repr: 1e-3 = 1/1000)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, Fraction, sp.Rational, sp.Float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    if isinstance(x, (float, sp.Float, np.floating)):
        if not math.isfinite(x):
            raise ValueError(f"{name} must be finite, got {x!r}")
        return sp.Rational(repr(float(x)))
    return sp.Rational(x.numerator, x.denominator) if isinstance(x, Fraction) else sp.Rational(x)


def _check_eps(value):
    e = _rational(value, "eps")
    if e <= 0:
        raise ValueError(f"eps must be > 0, got {value!r}")
    return e


def _check_n(value, allow_symbol=False):
    if value is None and allow_symbol:
        return n
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"n must be an integer >= 1{' or None (symbolic)' if allow_symbol else ''}, got {value!r}")
    return int(value)


def _check_alpha(value, allow_symbol=False):
    if value is None and allow_symbol:
        return alpha
    a = _rational(value, "alpha")
    if not 0 < a <= 1:
        raise ValueError(f"alpha must be in (0, 1]{' or None (symbolic)' if allow_symbol else ''}, got {value!r}")
    return a


def _check_constant(value):
    c = _rational(value, "C")
    if c <= 0:
        raise ValueError(f"C must be > 0, got {value!r}")
    return c


def _resolve(family):
    """(name, module) for a family name or a module-like object with the family interface."""
    if isinstance(family, str):
        module = experts.get(family)
    else:
        module = family
    missing = [a for a in _INTERFACE if not hasattr(module, a)]
    if missing:
        raise TypeError(f"family must be a name in {list(experts.FAMILY_NAMES)} or a module with {list(_INTERFACE)}; missing {missing}")
    return getattr(module, "__name__", repr(module)).rsplit(".", 1)[-1], module


def _family_list(family):
    """``"all"``: every family for (α, C)-Hölder targets (families with ``NEEDS_SMOOTHNESS`` read
    (α, C) as their top derivatives' and are left out; name them to include them)."""
    if isinstance(family, str) and family == "all":
        return experts.holder_families()
    if isinstance(family, (list, tuple)):
        return list(family)
    return [family]


def _params(module, n_val, activation, **sizes):
    """One expert's parameter count as the rates count it (:data:`PARAM_COUNT`)."""
    return getattr(module, PARAM_COUNT)(n_val, activation, **sizes)


# --- router -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RouterCost:
    """Thresholds of the grid router: ``active`` on one root-to-leaf path, ``total`` stored."""

    active: object
    total: object


def router_params(n, K) -> RouterCost:
    """Router parameters of a K^n grid (THEORY.md §2), as ``GridPartition`` reports them.

    The router searches each coordinate among its K − 1 cell boundaries by bisection: one input
    touches ``active = n·⌈log₂ K⌉`` thresholds; the thresholds of one axis are shared by every
    branch, so ``total = n·(K − 1)`` are stored. Accepts integers or SymPy expressions.
    """
    if not (isinstance(n, sp.Basic) or isinstance(K, sp.Basic)):
        n = _check_n(n)
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"K (cells per side) must be an integer >= 1, got {K!r}")
        K = int(K)
    return RouterCost(*grid_router_params(n, K))


# --- closed forms of one expert ---------------------------------------------------------------
def size_symbols(family) -> dict:
    """SymPy symbols (positive integers) named after the family's size keywords."""
    _, module = _resolve(family)
    return {s: sp.Symbol(s, positive=True, integer=True) for s in module.SIZE_DEFAULTS}


def _interpolate(fn, names, max_degree=8):
    """Exact polynomial through integer values of ``fn(**sizes)``, verified at further points."""
    syms = dict(zip(names, (sp.Symbol(s, positive=True, integer=True) for s in names)))

    def fit(fixed, rest, degree):  # Lagrange interpolation in one size at a time
        if not rest:
            return sp.Integer(fn(**fixed))
        name = rest[0]
        return sp.interpolate([(x, fit({**fixed, name: x}, rest[1:], degree)) for x in range(1, degree + 2)], syms[name])

    for degree in range(max_degree + 1):
        poly = sp.expand(fit({}, names, degree))
        checks = [dict(zip(names, p)) for p in itertools.product((degree + 3, 2 * degree + 7, 61), repeat=len(names))]
        if all(poly.subs({syms[k]: v for k, v in c.items()}) == fn(**c) for c in checks):
            return poly
    raise ValueError(f"not a polynomial of degree <= {max_degree} in {names}")


@dataclass(frozen=True)
class ClosedForms:
    """Depth, width, stored and nonzero parameters of one expert, per activation.

    ``forms[(quantity, activation)]`` is a SymPy expression in ``n`` and the size symbols;
    ``method`` is ``"symbolic"`` (the family's closed forms evaluated on symbols) or
    ``"interpolated"`` (exact polynomial through the family's integer values at this numeric n,
    verified at further sizes).
    """

    family: str
    n: object
    forms: dict
    method: str


def closed_forms(family, n=None, **fixed) -> ClosedForms:
    """The family's own closed forms as SymPy expressions (symbolic n where the family allows).

    ``fixed``: size keywords held at numbers; a family's optional ``NUMERIC_SIZES`` (sizes its
    closed forms need as numbers, e.g. yarotsky's ``degree``) are held at their defaults unless
    given. The other sizes are symbols."""
    name, module = _resolve(family)
    n_val = _check_n(n, allow_symbol=True)
    fixed = {**{s: module.SIZE_DEFAULTS[s] for s in getattr(module, "NUMERIC_SIZES", ())}, **fixed}
    syms = {s: v for s, v in size_symbols(module).items() if s not in fixed}
    fixed = experts.check_size(module, fixed)
    fixed = {s: fixed[s] for s in fixed if s not in syms}
    forms, method = {}, "symbolic"
    for activation in ("relu", "prelu"):
        for quantity in ("depth", "width", "num_params", "num_nonzero"):
            fn = getattr(module, quantity)
            try:
                forms[(quantity, activation)] = sp.sympify(fn(n_val, activation, **syms, **fixed))
            except Exception as exc:  # a family whose closed forms need numbers
                if isinstance(n_val, sp.Basic):
                    raise ValueError(f"{name}.{quantity} does not accept a symbolic n ({exc}); pass a numeric n") from exc
                forms[(quantity, activation)] = _interpolate(lambda **s: fn(n_val, activation, **s, **fixed), list(syms))
                method = "interpolated"
    return ClosedForms(name, n_val, forms, method)


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
    """Rates of one family at dimension n and Hölder exponent α (THEORY.md §6).

    ``growth``: size keyword → weight w, sizes grow as t^w (empty: fixed-size experts); the
    weights in {0, 1, 2} maximizing q/p are chosen from the family's values (at n = 3, α = 1
    when n or α is symbolic).
    ``powers``: leading powers in t of params, depth, width and of the error (error ~ h^a·t^(−q)).
    ``r_max``: r ranges over [0, r_max] = [0, p/q] (0 when nothing grows).
    ``asymptotic``: ceiling-free expressions in (ε, r, C); ``exponent``: the power of 1/ε leading
    each one (expressions in r); ``exact``: the integer design with ceilings and floors as SymPy
    expressions in (ε, r, C), or ``None`` where SymPy could not solve for the sizes
    (``exact_in_sizes``: the same with the sizes left free, K solved for).
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


QUANTITIES = ("cells per side K", "experts L", "params per expert", "active params", "total params",
              "depth", "width", "VC MoMLP (paper)", "VC one network (BHLM)")


def _assemble(n_val, P, J, W, K_val, exact):
    """The MoE's quantities from one expert's P, J, W and K cells per side (THEORY.md §2, §7).

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


def rate(family, n=None, alpha=None, activation="relu") -> Rate:
    """Derive the rates of ``family`` (name or module) at ``n`` and ``alpha`` (None = symbolic)."""
    name, module = _resolve(family)
    return _rate(name, module, _check_n(n, True), _check_alpha(alpha, True), check_activation(activation))


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
            raise ValueError(f"{name}: closed forms do not take SymPy symbols ({exc}); pass numeric n and alpha") from exc
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
    """[0, r_max]: active parameters ≍ ε^(−r) is reachable for exactly these r (THEORY.md §6)."""
    return (sp.Integer(0), rate(family, n, alpha, activation).r_max)


def _check_r(value, rt: Rate):
    rr = _rational(value, "r")
    if not 0 <= rr <= rt.r_max:
        raise ValueError(f"r must be in [0, {rt.r_max}] for family {rt.family!r} at n={rt.n}, alpha={rt.alpha}, got {value!r}")
    return rr


# --- VC dimension and sample complexity (THEORY.md §7) -----------------------------------------
def vc_momlp(num_experts, n, depth, width):
    """Paper claim 3: VCdim(MoMLP) = Õ(L·max{nL, J·W}); returns L·max{nL, JW} (logs, constants omitted)."""
    L, J, W = (sp.sympify(x) for x in (num_experts, depth, width))
    return L * sp.Max(n * L, J * W)


def vc_bhlm(num_params, depth):
    """Bartlett–Harvey–Liaw–Mehrabian 2019: VCdim = O(P·J·log P) for a piecewise-linear network with
    P parameters and depth J (returns P·J·log P; the absolute constant of their explicit upper-bound
    theorem is not encoded: that statement still has to be read from the paper)."""
    P = sp.sympify(num_params)
    return P * sp.sympify(depth) * sp.log(P)


def sample_complexity(d, eps_, delta_):
    """Agnostic PAC sample complexity from VC dimension d (Shalev-Shwartz & Ben-David 2014, Thm 6.8):
    C₁(d + log(1/δ))/ε² ≤ m(ε, δ) ≤ C₂(d + log(1/δ))/ε² with absolute constants C₁, C₂ that the
    theorem does not specify; returns (d + log(1/δ))/ε²."""
    return (sp.sympify(d) + sp.log(1 / sp.sympify(delta_))) / sp.sympify(eps_) ** 2


def paper_claims(n=None, alpha=None) -> dict:
    """The abstract's claims (THEORY.md §1) as expressions, to set beside each family.

    ``"active params"``: O(ε^−1) loaded (claim 1; v1: O(ε^−1 log ε^−1) with routing);
    ``"one MLP params"``: O(ε^(−n/(2α))), the optimal deep-ReLU rate (claim 2 states n/2 for α = 1);
    ``"VC MoMLP"``: Õ(L·max{nL, JW}) in symbols L, J, W (claim 3).
    """
    n_val, a_val = _check_n(n, True), _check_alpha(alpha, True)
    L, J, W = sp.symbols("L J W", positive=True)
    return {
        "active params": 1 / eps,
        "active params (v1, with routing)": sp.log(1 / eps) / eps,
        "one MLP params": eps ** (-n_val / (2 * a_val)),
        "VC MoMLP": vc_momlp(L, n_val, J, W),
    }


# --- concrete designs -------------------------------------------------------------------------
def _le(x, y) -> bool:
    """x <= y, decided exactly by SymPy when the floats are within 1e-9 (relative) of a tie."""
    fx, fy = float(x), float(y)
    if abs(fx - fy) > 1e-9 * max(abs(fx), abs(fy)):
        return fx <= fy
    d = sp.simplify(sp.sympify(x) - sp.sympify(y))
    return bool(d.is_zero or d.evalf(100) < 0)


def _error(module, a_val, c_val, K_val, n_val, sizes):
    """error_bound on cells of side 1/K: exact SymPy number where the family allows, else float."""
    try:
        return sp.sympify(module.error_bound(a_val, c_val, sp.Rational(1, K_val), n_val, **sizes))
    except Exception:
        return float(module.error_bound(float(a_val), float(c_val), 1.0 / K_val, n_val, **sizes))


def _reaches(module, a_val, c_val, K_val, n_val, sizes, e) -> bool:
    x = module.error_bound(float(a_val), float(c_val), 1.0 / K_val, n_val, **sizes)
    if abs(float(x) - float(e)) > 1e-9 * float(e):
        return float(x) <= float(e)
    return _le(_error(module, a_val, c_val, K_val, n_val, sizes), e)


def _min_cells(module, e, n_val, a_val, c_val, sizes, K_cap=2**200):
    """Smallest K with error_bound(α, C, 1/K, n, **sizes) <= ε (the bound is nondecreasing in the side);
    ``None`` if no K <= K_cap reaches ε."""
    hi = 1
    while not _reaches(module, a_val, c_val, hi, n_val, sizes, e):
        if hi >= K_cap:
            return None
        hi = min(2 * hi, K_cap)
    lo = hi // 2  # fails (or 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _reaches(module, a_val, c_val, mid, n_val, sizes, e) else (mid, hi)
    return hi


@dataclass(frozen=True)
class Design:
    """An integer MoE design: sizes, K cells per side, and its exact counts (THEORY.md §2)."""

    family: str
    activation: str
    sizes: dict
    cells_per_side: int
    num_experts: int
    expert_params: int
    router: RouterCost
    active_params: int
    total_params: int
    depth: int
    width: int
    error_bound: float
    vc_momlp: int

    @property
    def active_bytes(self) -> int:
        return BYTES_PER_PARAM * self.active_params


def _design(name, module, sizes, K_val, n_val, a_val, c_val, activation) -> Design:
    P = int(_params(module, n_val, activation, **sizes))
    J, W = int(module.depth(n_val, activation, **sizes)), int(module.width(n_val, activation, **sizes))
    router = router_params(n_val, K_val)
    L = K_val**n_val
    return Design(name, activation, dict(sizes), K_val, L, P, router, P + router.active, L * P + router.total, J, W,
                  float(module.error_bound(float(a_val), float(c_val), 1.0 / K_val, n_val, **sizes)), int(vc_momlp(L, n_val, J, W)))


def cells_for(family, eps_, n, alpha, C=1, **size) -> int:
    """The smallest K (cells per side) whose MoE error bound is <= eps with experts of ``size``."""
    name, module = _resolve(family)
    e, n_val, a_val, c_val = _check_eps(eps_), _check_n(n), _check_alpha(alpha), _check_constant(C)
    sizes = experts.check_size(module, size)
    K_val = _min_cells(module, e, n_val, a_val, c_val, sizes)
    if K_val is None:
        raise ValueError(f"{name} with sizes {sizes} does not reach eps={eps_} on any grid with K <= 2^200")
    return K_val


def design(family, eps_, r_, n, alpha, C=1, activation="relu") -> Design:
    """The integer design at trade-off r: sizes on the growth path with the largest t such that
    num_nonzero <= ε^(−r) (t = 1 if none), then the smallest K reaching ε (THEORY.md §6)."""
    name, module = _resolve(family)
    e, n_val, a_val, c_val = _check_eps(eps_), _check_n(n), _check_alpha(alpha), _check_constant(C)
    rt = rate(module, n_val, a_val, activation)
    rr = _check_r(r_, rt)
    weights = tuple(rt.growth.values()) if rt.growth else None
    sizes = lambda t: _ray_sizes(module, weights, t) if weights else dict(module.SIZE_DEFAULTS)
    budget = e**-rr
    fits = lambda t: _le(sp.Integer(_params(module, n_val, activation, **sizes(t))), budget)
    t_val = 1
    if weights and fits(2):
        hi = 2
        while fits(2 * hi):
            hi *= 2
        lo, hi = hi, 2 * hi  # fits(lo), not fits(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
        t_val = lo
    K_val = _min_cells(module, e, n_val, a_val, c_val, sizes(t_val))
    if K_val is None:
        raise ValueError(f"{name} with sizes {sizes(t_val)} does not reach eps={eps_} on any grid with K <= 2^200")
    return _design(name, module, sizes(t_val), K_val, n_val, a_val, c_val, activation)


# --- budget solver ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BudgetResult:
    """Best design under a loaded-memory budget; ``reasons[family]`` says why a family does not fit."""

    eps: object
    budget_params: int
    objective: str
    best: Design | None
    per_family: dict
    reasons: dict = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return self.best is not None

    @property
    def reason(self) -> str:
        return "" if self.feasible else "; ".join(f"{k}: {v}" for k, v in self.reasons.items())


def _size_grid(module, n_val, activation, budget, max_candidates):
    """All size dicts with num_nonzero <= budget (nondecreasing in every size).

    The first size keyword varies fastest; it stops growing once one more step changes neither the
    count nor the error bound (a size the construction does not use at the others, such as the
    sawtooth depth m of a degree-1 Taylor expert, which has no products)."""
    names = list(module.SIZE_DEFAULTS)[::-1]
    count = lambda values: _params(module, n_val, activation, **dict(zip(names, values)))
    error = lambda values: float(module.error_bound(1.0, 1.0, 0.5, n_val, **dict(zip(names, values))))
    fits = lambda values: count(values) <= budget
    out = []

    def walk(prefix):
        if len(prefix) == len(names):
            out.append(dict(zip(names, prefix)))
            if len(out) > max_candidates:
                raise ValueError(f"more than {max_candidates} size candidates fit the budget; lower the budget or raise max_candidates")
            return
        last = len(prefix) == len(names) - 1
        v = 1
        while fits(prefix + [v] + [1] * (len(names) - len(prefix) - 1)):
            walk(prefix + [v])
            if last and count(prefix + [v + 1]) == count(prefix + [v]) and error(prefix + [v + 1]) == error(prefix + [v]):
                break
            v += 1

    if fits([1] * len(names)):
        walk([])
    return out


def budget_solve(eps_, budget, *, n, alpha, C=1, unit="params", families="all", activation="relu",
                 objective="total", max_candidates=100_000) -> BudgetResult:
    """The family and sizes with error bound <= eps and loaded (active) parameters <= budget that
    minimise total parameters (``objective="total"``) or the paper's VC bound L·max{nL, JW}
    (``"vc"``). ``unit="bytes"`` reads the budget in bytes, 8 per float64 parameter.
    Exhaustive over sizes with num_nonzero <= budget; ties go to fewer active parameters."""
    e, n_val, a_val, c_val = _check_eps(eps_), _check_n(n), _check_alpha(alpha), _check_constant(C)
    if unit not in ("params", "bytes"):
        raise ValueError(f"unit must be 'params' or 'bytes', got {unit!r}")
    if objective not in ("total", "vc"):
        raise ValueError(f"objective must be 'total' or 'vc', got {objective!r}")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"budget must be an integer >= 1, got {budget!r}")
    check_activation(activation)
    cap = int(budget) // BYTES_PER_PARAM if unit == "bytes" else int(budget)
    per_family, reasons = {}, {}
    for fam in _family_list(families):
        name, module = _resolve(fam)
        grid = _size_grid(module, n_val, activation, cap, max_candidates)
        if not grid:
            smallest = {s: 1 for s in module.SIZE_DEFAULTS}
            reasons[name] = f"the smallest expert {smallest} has {_params(module, n_val, activation, **smallest)} parameters > budget {cap}"
            continue
        best, closest = None, None
        for sizes in grid:
            P = int(_params(module, n_val, activation, **sizes))
            K_val = _min_cells(module, e, n_val, a_val, c_val, sizes)
            if K_val is None:
                continue
            router = router_params(n_val, K_val)
            L = K_val**n_val
            if P + router.active > cap:
                if closest is None or P + router.active < closest[0]:
                    closest = (P + router.active, P, K_val, sizes)
                continue
            total = L * P + router.total
            if objective == "vc":
                JW = int(module.depth(n_val, activation, **sizes)) * int(module.width(n_val, activation, **sizes))
                score = (L * max(n_val * L, JW), total, P + router.active)
            else:
                score = (total, P + router.active)
            if best is None or score < best[0]:
                best = (score, sizes, K_val)
        if best is not None:
            per_family[name] = (best[0], _design(name, module, best[1], best[2], n_val, a_val, c_val, activation))
        elif closest is not None:
            need, P, K_val, sizes = closest
            reasons[name] = (f"reaching eps needs at best {need} loaded parameters > budget {cap} (expert {sizes}: {P} "
                             f"params, K={K_val} cells per side: router {need - P} thresholds)")
        else:
            reasons[name] = f"no expert with <= {cap} parameters reaches eps on any grid with K <= 2^200"
    overall = min(per_family.values(), key=lambda x: x[0])[1] if per_family else None
    return BudgetResult(e, cap, objective, overall, {k: v[1] for k, v in per_family.items()}, reasons)


# --- tables -----------------------------------------------------------------------------------
_COLUMNS = ("exact", "asymptotic", "exponent", "exponent at r=0", "exponent at r=1", "exponent at r=r_max")


@dataclass(frozen=True)
class RateTable:
    """Rates of one or more families: ``rows`` (tidy dicts) and ``matrix`` (SymPy, one row per
    family and ε-dependent quantity, columns ``col_labels``)."""

    rows: list
    matrix: sp.Matrix
    row_labels: list
    col_labels: tuple = _COLUMNS

    def summary(self) -> list:
        """One dict per family: the THEORY.md §6 columns (exponents are powers of 1/ε)."""
        out = {}
        for row in self.rows:
            fam = out.setdefault(row["family"], {"family": row["family"]})
            if row["quantity"] in ("e(P) at h=1", "experts L at P = eps^-r"):
                fam[row["quantity"]] = row["asymptotic"]
            elif row["quantity"] == "r range":
                fam["r range"] = row["exact"]
            elif row["quantity"] in ("experts L", "active params", "total params", "VC MoMLP (paper)"):
                fam[row["quantity"]] = row["exponent"]
        return [v for k, v in out.items() if k != "paper"]

    def __str__(self):
        cols = ("e(P) at h=1", "r range", "experts L at P = eps^-r", "experts L", "active params", "total params", "VC MoMLP (paper)")
        lines = ["THEORY.md §6 (exponents: powers of 1/epsilon, log factors dropped)"]
        for fam in self.summary():
            lines.append(f"  {fam['family']}: " + "; ".join(f"{c} = {_fmt(fam.get(c))}" for c in cols))
        lines.append("Details")
        for row in self.rows:
            vals = "  ".join(f"{k}={_fmt(row[k])}" for k in ("exact", "asymptotic", "exponent") if row.get(k) is not None)
            vals = vals or "(no SymPy form: the family's closed form needs numbers)"
            lines.append(f"  {row['family']} | {row['quantity']} | {vals}")
        return "\n".join(lines)

    def to_latex(self) -> str:
        return to_latex(self)

    def lambdify(self, family, quantity, which="asymptotic"):
        """A numpy function f(eps, r, C) of one row's expression (for plotting)."""
        for row in self.rows:
            if row["family"] == family and row["quantity"] == quantity and row.get(which) is not None:
                return lambdify(row[which])
        raise ValueError(f"no row with family={family!r}, quantity={quantity!r} and a {which!r} expression")


def _fmt(x):
    return sp.sstr(x) if isinstance(x, sp.Basic) else str(x)


def _at(expr, value, r_max):
    """The exponent at r = value; NaN where value is outside [0, r_max]."""
    if sp.Le(value, r_max) == sp.false:
        return sp.nan
    return sp.simplify(expr.subs(r, value))


P_sym = sp.Symbol("P", positive=True)


def _in_terms_of_P(expr):
    """Rewrite an asymptotic expression at trade-off r in terms of P = ε^(−r) (THEORY.md §6 columns)."""
    sub = expr.subs(r, sp.log(P_sym) / sp.log(1 / eps))
    return sp.simplify(sp.powsimp(sp.expand_power_base(sub, force=True), force=True))


def _expert_error_in_P(rt: Rate):
    """e(P): the expert's error bound on a cell of side h = 1 as a function of its parameters P."""
    (p, c_P), (q, c_e) = rt.powers["params"], rt.powers["error"]
    return sp.simplify(c_e * (P_sym / c_P) ** (-q / p)) if rt.growth else c_e


def _closed_forms_for_table(module, n_val):
    try:
        return closed_forms(module, None)
    except ValueError:
        return closed_forms(module, n_val if isinstance(n_val, int) else None)


def table(family="all", n=None, alpha=None, activation="relu", paper=True) -> RateTable:
    """The THEORY.md §6 table derived from the family modules.

    Per family: closed forms of one expert (symbolic n where the family allows), the error bound,
    e(P) and L in terms of P = ε^(−r) (the §6 columns), the r range, and for each quantity of
    :data:`QUANTITIES` its exact expression (ceilings), asymptotic expression and exponent of 1/ε,
    also evaluated at r = 0, 1, r_max. ``family``: a name, a module, a list of them, or ``"all"``;
    ``paper=True`` adds the paper's claims (:func:`paper_claims`) as rows of family ``"paper"``.
    """
    rows, mat, labels = [], [], []
    for fam in _family_list(family):
        name, module = _resolve(fam)
        rt = rate(module, n, alpha, activation)
        cf = _closed_forms_for_table(module, rt.n)
        for (quantity, act), expr in cf.forms.items():
            rows.append({"family": name, "quantity": f"{quantity} ({act})", "exact": expr, "kind": f"closed form ({cf.method})"})
        try:
            bound = sp.sympify(module.error_bound(rt.alpha, C, h, rt.n, **size_symbols(module)))
        except Exception:
            bound = None
        rows.append({"family": name, "quantity": "error bound", "exact": bound, "kind": "proven bound (family module)"})
        rows.append({"family": name, "quantity": "e(P) at h=1", "asymptotic": _expert_error_in_P(rt), "kind": "leading order", "method": rt.method})
        rows.append({"family": name, "quantity": "experts L at P = eps^-r", "asymptotic": _in_terms_of_P(rt.asymptotic["experts L"]), "kind": "leading order", "method": rt.method})
        rows.append({"family": name, "quantity": "r range", "exact": sp.Interval(0, rt.r_max), "kind": "derived", "growth": rt.growth, "method": rt.method})
        for q in QUANTITIES:
            ex = rt.exact.get(q) if rt.exact else None
            expo = rt.exponent[q]
            refs = [_at(expo, v, rt.r_max) for v in (0, 1, rt.r_max)]
            kind = "order, up to logs and absolute constants" if q.startswith("VC") else "count"
            rows.append({"family": name, "quantity": q, "exact": ex, "asymptotic": rt.asymptotic[q], "exponent": expo,
                         **dict(zip(_COLUMNS[3:], refs)), "kind": kind, "method": rt.method, "note": rt.note})
            mat.append([ex if ex is not None else sp.nan, rt.asymptotic[q], expo, *refs])
            labels.append(f"{name}: {q}")
    if paper:
        for q, expr in paper_claims(n, alpha).items():
            expo = eps_exponent(expr) if expr.has(eps) else None
            rows.append({"family": "paper", "quantity": q, "asymptotic": expr, "exponent": expo, "kind": "claim (THEORY.md §1)"})
    return RateTable(rows, sp.Matrix(mat) if mat else sp.zeros(0, len(_COLUMNS)), labels)


def _tex_text(s: str) -> str:
    return s.replace("_", r"\_").replace("eps^-r", r"$\varepsilon^{-r}$")


def to_latex(obj) -> str:
    """LaTeX for a SymPy expression, or a ``tabular`` (asymptotic expression, exponent of 1/ε and
    the r range per family) for a :class:`RateTable`."""
    if not isinstance(obj, RateTable):
        return sp.latex(sp.sympify(obj))
    cell = lambda x: "" if x is None or x is sp.nan else f"${sp.latex(x)}$"
    lines = [r"\begin{tabular}{llll}", r"family & quantity & asymptotic & exponent of $1/\varepsilon$ \\", r"\hline"]
    for row in obj.rows:
        if "asymptotic" in row or row["quantity"] == "r range":
            value = row.get("asymptotic", row.get("exact"))
            lines.append(f"{_tex_text(row['family'])} & {_tex_text(row['quantity'])} & {cell(value)} & {cell(row.get('exponent'))} \\\\")
    lines.append(r"\end{tabular}")
    return "\n".join(lines)


_SYMBOLS = {s.name: s for s in (eps, r, C, alpha, n, delta, h, K)}


def lambdify(expr, **values):
    """A numpy function f(eps, r, C) of a rate expression; ``values`` (e.g. n=2, alpha=1) are substituted."""
    unknown = set(values) - set(_SYMBOLS)
    if unknown:
        raise ValueError(f"unknown symbol(s) {sorted(unknown)}; accepted: {sorted(_SYMBOLS)}")
    expr = sp.sympify(expr).subs({_SYMBOLS[k]: v for k, v in values.items()})
    return sp.lambdify((eps, r, C), expr, modules="numpy")


def rates_cli(family, n, alpha, latex: bool = False) -> str:
    """What ``moe-approx rates FAMILY --n N [--alpha A] [--latex]`` prints."""
    tab = table(family, n=n, alpha=alpha)
    return tab.to_latex() if latex else str(tab)
