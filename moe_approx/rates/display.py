"""Rate expressions made readable: leading terms, log₂, plain text (docs/theory.md §6).

Display only: nothing here changes a value. :func:`tidy` drops terms of strictly lower order in
1/ε; :func:`with_log2` prints SymPy's ``log(x)/log(2)`` as log₂(x); :func:`text` is the one-line
plain text of the reprs (ε, α, ^ and ·).
"""

from __future__ import annotations

import sympy as sp

from .asymptotics import eps_exponent
from .symbols import eps, r


class Log2(sp.Function):
    """log₂(x), unevaluated, for display (``sympy.log(x, 2)`` evaluates to log(x)/log(2))."""

    def _latex(self, printer, exp=None):
        tex = rf"\log_2\left({printer._print(self.args[0])}\right)"
        return tex if exp is None else rf"{tex}^{{{exp}}}"

    def _sympystr(self, printer):
        return f"log2({printer._print(self.args[0])})"


def with_log2(expr):
    """``expr`` with every log(x)/log(2) written log₂(x) (unchanged where a log(2) would remain).

    Examples
    --------
    >>> import sympy as sp
    >>> K = sp.Symbol("K", positive=True)
    >>> print(with_log2(2 * sp.log(K, 2) + 1))
    2*log2(K) + 1
    """
    if not isinstance(expr, sp.Basic) or not expr.has(sp.log(2)):
        return expr
    inverse = sp.Pow(sp.log(2), -1)

    def log_factor(term):
        return next((f for f in term.args if isinstance(f, sp.log) and f.args[0] != 2), None)

    def is_ratio(e):  # c·log(x)/log(2)
        return isinstance(e, sp.Mul) and inverse in e.args and log_factor(e) is not None

    def to_log2(e):
        g = log_factor(e)
        return sp.Mul(*[f for f in e.args if f not in (g, inverse)]) * Log2(g.args[0])

    return expr.replace(is_ratio, to_log2)


def text(x) -> str:
    """One-line plain text: ε, α, log₂ as log2, ``^`` for powers, ``·`` for products; [a, b] intervals."""
    if isinstance(x, sp.Interval):
        return f"[{text(x.start)}, {text(x.end)}]"
    if not isinstance(x, sp.Basic):
        return str(x)
    out = sp.sstr(with_log2(x)).replace("**", "^").replace("*", "·")
    return out.replace("epsilon", "ε").replace("alpha", "α")


def fmt(x) -> str:
    """Plain text of a value in SymPy's syntax (``sympify`` reads it), ε printed as ε, [a, b] intervals."""
    if isinstance(x, sp.Interval):
        return f"[{fmt(x.start)}, {fmt(x.end)}]"
    return sp.sstr(x).replace("epsilon", "ε") if isinstance(x, sp.Basic) else str(x)


def eps_power(expo) -> str:
    """'ε^-2', 'ε^-(2 - r)', or 'ε^0 (bounded up to log factors)' for an exponent of 1/ε."""
    if expo is None:
        return "(no exponent)"
    expo = fold_max(expo)
    if expo == 0:
        return "ε^0 (bounded up to log factors)"
    out = fmt(expo)
    return f"ε^-{out}" if expo.is_Atom else f"ε^-({out})"


def fold_max(expr):
    """a + Max(b, c) → Max(a + b, a + c), so an exponent reads as one Max (display only)."""
    expr = sp.sympify(expr)
    if isinstance(expr, sp.Add):
        maxes = [a for a in expr.args if isinstance(a, sp.Max)]
        if len(maxes) == 1:
            rest = expr - maxes[0]
            return sp.Max(*[sp.expand(a + rest) for a in maxes[0].args])
    return expr


def _round_floats(expr, digits=3):
    """Floats to ``digits`` significant digits; floats equal to an integer become that integer."""
    reps = {}
    for f in expr.atoms(sp.Float):
        reps[f] = sp.Integer(round(f)) if abs(f - round(f)) <= 1e-12 * max(1, abs(f)) else sp.Float(f, digits)
    return expr.xreplace(reps)


def _strictly_above(y, x, r_max):
    """y > x for every r in [0, r_max] (affine in r: both endpoints)."""
    d = sp.simplify(y - x)
    if d.is_positive:
        return True
    if r_max is None or not d.is_polynomial(r) or sp.degree(d, r) > 1 or d.free_symbols - {r}:
        return False
    return all(sp.simplify(d.subs(r, v)).is_positive for v in (0, r_max))


def _leading(expr, r_max=None):
    """``expr`` without the terms of strictly lower order in 1/ε on all of r ∈ [0, r_max]."""
    expr = sp.powsimp(sp.sympify(expr), force=True)
    if not expr.has(eps):
        return expr
    if isinstance(expr, sp.Mul):
        return sp.Mul(*[_leading(f, r_max) for f in expr.args])
    if isinstance(expr, sp.Pow):
        return _leading(expr.base, r_max) ** expr.exp
    if isinstance(expr, sp.log):
        return sp.log(_leading(expr.args[0], r_max))
    if not isinstance(expr, sp.Add):
        return expr
    terms = list(expr.args)
    try:
        powers = [eps_exponent(t, r_max) for t in terms]
    except ValueError:
        return expr
    keep = [t for t, p in zip(terms, powers) if not any(_strictly_above(q, p, r_max) for q in powers)]
    return sp.Add(*keep)


def tidy(expr, r_max=None):
    """A rate expression made to fit a page: powers merged (``sympy.powsimp``), terms of strictly
    lower order in 1/ε dropped (on r ∈ [0, r_max]), a + Max(b, c) folded into Max(a + b, a + c),
    floats to 3 significant digits.

    Parameters
    ----------
    expr : sympy.Expr or None
    r_max : sympy.Expr or None
        Terms are compared on r ∈ [0, r_max] (``None``: only where SymPy decides for every r).

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> import sympy as sp
    >>> from moe_approx.rates import C, eps, r, tidy
    >>> tidy(8 * C**2 * eps**-r * eps**(r - 2) + 4 * C * eps**(r / 2 - 1) - 2, r_max=2)
    8*C**2/epsilon**2
    >>> tidy(-r + sp.Max(r, 2 - r) + 2)
    Max(2, 4 - 2*r)
    """
    if expr is None or not isinstance(expr, sp.Basic) or expr is sp.nan:
        return expr
    return _round_floats(fold_max(sp.powsimp(_leading(expr, r_max), force=True)))
