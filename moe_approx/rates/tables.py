"""Rate tables: tidy rows, a SymPy matrix, plain text and LaTeX (docs/theory.md §6, §7)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ._validate import _check_alpha, _check_n, _family_list, _resolve
from .asymptotics import QUANTITIES, Rate, eps_exponent, rate
from .counts import closed_forms, size_symbols
from .symbols import C, K, alpha, delta, eps, h, n, r
from .vc import paper_claims

# --- tables -----------------------------------------------------------------------------------
_COLUMNS = ("exact", "asymptotic", "exponent", "exponent at r=0", "exponent at r=1", "exponent at r=r_max")


_SUMMARY = ("experts L", "active params", "total params", "VC MoMLP (paper)")


@dataclass(frozen=True)
class RateTable:
    """Rates of one or more families (docs/theory.md §6, §7), as returned by :func:`table`.

    Attributes
    ----------
    rows : list of dict
        Tidy rows: ``family``, ``quantity``, ``kind`` and, where they exist, ``exact`` (integer
        design with ceilings), ``asymptotic`` (ceiling-free) and ``exponent`` (the power of 1/ε
        that leads the quantity, an expression in r), with ``exponent at r=0``, ``r=1``, ``r=r_max``.
    matrix : sympy.Matrix
        One row per family and ε-dependent quantity, columns ``col_labels``.
    row_labels : list of str
    col_labels : tuple of str
    n, alpha : int, Rational or Symbol
        The dimension and Hölder exponent the table was derived at.
    """

    rows: list
    matrix: sp.Matrix
    row_labels: list
    col_labels: tuple = _COLUMNS
    n: object = None
    alpha: object = None

    def summary(self) -> list:
        """One dict per family: e(P), r range, L at P = ε^(−r) (expressions) and, under
        ``"exponent of 1/eps: <quantity>"``, the exponents of :data:`_SUMMARY` (docs/theory.md §6)."""
        out = {}
        for row in self.rows:
            fam = out.setdefault(row["family"], {"family": row["family"]})
            if row["quantity"] in ("e(P) at h=1", "experts L at P = eps^-r"):
                fam[row["quantity"]] = row["asymptotic"]
            elif row["quantity"] == "r range":
                fam["r range"] = row["exact"]
            elif row["quantity"] in _SUMMARY:
                fam[f"exponent of 1/eps: {row['quantity']}"] = row["exponent"]
        return [v for k, v in out.items() if k != "paper"]

    def __str__(self):
        at = lambda name, v: f"{name} = {_fmt(v)}" if v is None or getattr(v, "is_number", True) else f"symbolic {name}"
        lines = [f"Rates at {at('n', self.n)}, {at('alpha', self.alpha)} (docs/theory.md §6, §7). "
                 "'∝ ε^-x' : grows like (1/ε)^x as ε → 0, log factors dropped."]
        for fam in self.summary():
            lines.append(f"{fam['family']}: r in {_fmt(fam.get('r range'))}; expert error on a cell of side 1: "
                         f"e(P) = {_fmt(tidy(fam.get('e(P) at h=1')))}; experts L at P = ε^-r: "
                         f"{_fmt(tidy(fam.get('experts L at P = eps^-r')))}")
            for q in _SUMMARY:
                lines.append(f"  {q:18s} ∝ {_eps_power(fam.get(f'exponent of 1/eps: {q}'))}")
        lines.append("Details (exact: integer design; asymptotic: ceiling-free; exponent of 1/ε)")
        for row in self.rows:
            vals = " | ".join(f"{label}: {_fmt(row[k])}" for k, label in (("exact", "exact"), ("asymptotic", "asymptotic"),
                              ("exponent", "exponent of 1/ε")) if row.get(k) is not None)
            vals = vals or "(no SymPy form: the family's closed form needs numbers)"
            lines.append(f"  {row['family']} | {row['quantity']} | {vals}")
        return "\n".join(lines)

    def records(self) -> list:
        """The rows as JSON-ready dicts: expressions as SymPy strings (``sympy.sympify`` reads them
        back), exponents at r = 0, 1, r_max also as floats (``None`` outside [0, r_max])."""
        out = []
        for row in self.rows:
            rec = {"family": row["family"], "quantity": row["quantity"], "kind": row.get("kind")}
            for key in ("exact", "asymptotic", "exponent"):
                rec[key] = None if row.get(key) is None else sp.sstr(row[key])
            for key in _COLUMNS[3:]:
                if key in row:
                    v = row[key]
                    rec[key] = None if v is sp.nan or not v.is_number else float(v)
            out.append(rec)
        return out

    def to_latex(self) -> str:
        """A booktabs ``tabular``: see :func:`to_latex`."""
        return to_latex(self)

    def lambdify(self, family, quantity, which="asymptotic"):
        """A numpy function f(eps, r, C) of one row's expression (for plotting); see :func:`lambdify`."""
        for row in self.rows:
            if row["family"] == family and row["quantity"] == quantity and row.get(which) is not None:
                return lambdify(row[which])
        raise ValueError(f"no row with family={family!r}, quantity={quantity!r} and a {which!r} expression")


def _fmt(x):
    """Plain text of a value; the symbol ε prints as ε, an interval as [a, b]."""
    if isinstance(x, sp.Interval):
        return f"[{_fmt(x.start)}, {_fmt(x.end)}]"
    return sp.sstr(x).replace("epsilon", "ε") if isinstance(x, sp.Basic) else str(x)


def _eps_power(expo) -> str:
    """'ε^-2', 'ε^-(2 - r)', or 'ε^0 (bounded up to log factors)' for an exponent of 1/ε."""
    if expo is None:
        return "(no exponent)"
    expo = _fold_max(expo)
    if expo == 0:
        return "ε^0 (bounded up to log factors)"
    text = _fmt(expo)
    return f"ε^-{text}" if expo.is_Atom else f"ε^-({text})"


def _fold_max(expr):
    """a + Max(b, c) → Max(a + b, a + c), so an exponent reads as one Max (display only)."""
    expr = sp.sympify(expr)
    if isinstance(expr, sp.Add):
        maxes = [a for a in expr.args if isinstance(a, sp.Max)]
        if len(maxes) == 1:
            rest = expr - maxes[0]
            return sp.Max(*[sp.expand(a + rest) for a in maxes[0].args])
    return expr


def _at(expr, value, r_max):
    """The exponent at r = value; NaN where value is outside [0, r_max]."""
    if sp.Le(value, r_max) == sp.false:
        return sp.nan
    return sp.simplify(expr.subs(r, value))


P_sym = sp.Symbol("P", positive=True)


def _in_terms_of_P(expr):
    """Rewrite an asymptotic expression at trade-off r in terms of P = ε^(−r) (docs/theory.md §6 columns)."""
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


def table(family="all", n=None, alpha=None, activation="relu", paper=True, progress=False) -> RateTable:
    """The docs/theory.md §6 table derived from the family modules.

    Per family: closed forms of one expert (symbolic n where the family allows), the error bound,
    e(P) and L in terms of P = ε^(−r) (the §6 columns), the r range, and for each quantity of
    :data:`QUANTITIES` its exact expression (ceilings), asymptotic expression and exponent of 1/ε,
    also evaluated at r = 0, 1, r_max.

    Parameters
    ----------
    family : "all", str, module or list
        A family name (``experts.FAMILY_NAMES``), a module with the family interface, a list of
        them, or ``"all"`` (the families for Hölder targets).
    n : int or None
        Dimension >= 1; ``None`` leaves it symbolic (families whose closed forms need numbers
        fall back to ``n = 3`` for the growth path only).
    alpha : float or None
        Hölder exponent in (0, 1]; ``None`` leaves it symbolic.
    activation : {"relu", "prelu"}
    paper : bool
        Add the paper's claims (:func:`paper_claims`) as rows of family ``"paper"``.
    progress : bool
        Show a tqdm bar over the families.

    Returns
    -------
    RateTable

    Raises
    ------
    ValueError
        For an unknown family or activation, n < 1, alpha outside (0, 1].
    TypeError
        For an object that is not a family.

    Examples
    --------
    >>> import moe_approx as ma
    >>> tab = ma.rates.table("constant", n=2, alpha=1, paper=False)
    >>> row = next(x for x in tab.rows if x["quantity"] == "total params")
    >>> row["exponent"]  # total params grow like (1/ε)^2
    2
    >>> print(str(tab).splitlines()[2])
      experts L          ∝ ε^-2
    """
    from tqdm.auto import tqdm

    rows, mat, labels = [], [], []
    families = _family_list(family)
    for fam in tqdm(families, desc="rates", unit="family", disable=not progress):
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
        rows.append({"family": name, "quantity": "r range", "exact": sp.Interval(0, rt.r_max), "kind": "derived", "growth": rt.growth,
                     "method": rt.method, "r_max": rt.r_max})
        for q in QUANTITIES:
            ex = rt.exact.get(q) if rt.exact else None
            expo = rt.exponent[q]
            refs = [_at(expo, v, rt.r_max) for v in (0, 1, rt.r_max)]
            kind = "order, up to logs and absolute constants" if q.startswith("VC") else "count"
            rows.append({"family": name, "quantity": q, "exact": ex, "asymptotic": rt.asymptotic[q], "exponent": expo,
                         **dict(zip(_COLUMNS[3:], refs)), "kind": kind, "method": rt.method, "note": rt.note, "r_max": rt.r_max})
            mat.append([ex if ex is not None else sp.nan, rt.asymptotic[q], expo, *refs])
            labels.append(f"{name}: {q}")
    if paper:
        for q, expr in paper_claims(n, alpha).items():
            expo = eps_exponent(expr) if expr.has(eps) else None
            rows.append({"family": "paper", "quantity": q, "asymptotic": expr, "exponent": expo, "kind": "claim (docs/theory.md §1)"})
    return RateTable(rows, sp.Matrix(mat) if mat else sp.zeros(0, len(_COLUMNS)), labels, n=_check_n(n, True),
                     alpha=_check_alpha(alpha, True))


_TEX_QUANTITY = {
    "e(P) at h=1": r"expert error $e(P)$, cell side 1",
    "experts L at P = eps^-r": r"experts $L$ at $P = \varepsilon^{-r}$",
    "r range": r"range of $r$",
    "cells per side K": r"cells per side $K$",
    "experts L": r"experts $L$",
    "params per expert": r"parameters per expert $P$",
    "active params": "active parameters",
    "total params": "total parameters",
    "depth": r"depth $J$",
    "width": r"width $W$",
    "VC MoMLP (paper)": "VC, MoMLP (paper)",
    "VC one network (BHLM)": "VC, one network (BHLM)",
    "active params (v1, with routing)": "active parameters (v1, with routing)",
    "one MLP params": "parameters of one MLP",
    "VC MoMLP": r"VC, MoMLP: $L\max\{nL, JW\}$",
}


def _tex_text(s: str) -> str:
    return _TEX_QUANTITY.get(s, s.replace("_", r"\_"))


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
    return _round_floats(_fold_max(sp.powsimp(_leading(expr, r_max), force=True)))


def to_latex(obj) -> str:
    r"""LaTeX for a SymPy expression, or a booktabs ``tabular`` for a :class:`RateTable`.

    The table has one block per family: the expert error e(P), L at P = ε^(−r), the range of r, then
    per quantity its leading terms (:func:`tidy`: powers merged, terms of strictly lower order in
    1/ε dropped) and the exponent of 1/ε. ε prints as ``\varepsilon`` everywhere. Needs
    ``\usepackage{booktabs}`` in the preamble.

    Parameters
    ----------
    obj : RateTable or sympy.Expr

    Returns
    -------
    str

    Examples
    --------
    >>> import moe_approx as ma
    >>> ma.rates.to_latex(1 / ma.rates.eps**2)
    '\\frac{1}{\\varepsilon^{2}}'
    >>> tex = ma.rates.table("constant", n=2, alpha=1).to_latex()
    >>> tex.splitlines()[3]
    '\\toprule'
    """
    latex = lambda x: sp.latex(x, symbol_names={eps: r"\varepsilon"})
    if not isinstance(obj, RateTable):
        return latex(sp.sympify(obj))
    cell = lambda x: "" if x is None or x is sp.nan else f"${latex(x)}$"
    lines = [r"% rates of the mixture of experts (moe_approx, docs/theory.md \S 6--7); needs \usepackage{booktabs}",
             r"% VC, MoMLP (paper): L max{nL, JW}; VC, one network (BHLM): P J log P; constants and logs omitted",
             r"\begin{tabular}{llll}", r"\toprule",
             rf"family & quantity & leading terms ($n = {latex(sp.sympify(obj.n))}$, $\alpha = {latex(sp.sympify(obj.alpha))}$) "
             r"& exponent of $1/\varepsilon$ \\", r"\midrule"]
    previous = None
    for row in obj.rows:
        if "asymptotic" not in row and row["quantity"] != "r range":
            continue
        if previous is not None and row["family"] != previous:
            lines.append(r"\midrule")
        previous = row["family"]
        r_max = row.get("r_max")
        value = tidy(row.get("asymptotic", row.get("exact")), r_max)
        lines.append(f"{_tex_text(row['family'])} & {_tex_text(row['quantity'])} & {cell(value)} & {cell(tidy(row.get('exponent'), r_max))} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


_SYMBOLS = {s.name: s for s in (eps, r, C, alpha, n, delta, h, K)}


def lambdify(expr, **values):
    """A numpy function f(eps, r, C) of a rate expression.

    Parameters
    ----------
    expr : sympy.Expr
    **values : number
        Values substituted first, by symbol name (``n``, ``alpha``, ``delta``, ``h``, ``K``).

    Returns
    -------
    callable
        ``f(eps, r, C)``, vectorised over numpy arrays.

    Raises
    ------
    ValueError
        For an unknown symbol name.

    Examples
    --------
    >>> from moe_approx import rates
    >>> f = rates.lambdify(rates.C / rates.eps**rates.n, n=2)
    >>> f(0.5, 0.0, 3.0)
    12.0
    """
    unknown = set(values) - set(_SYMBOLS)
    if unknown:
        raise ValueError(f"unknown symbol(s) {sorted(unknown)}; accepted: {sorted(_SYMBOLS)}")
    expr = sp.sympify(expr).subs({_SYMBOLS[k]: v for k, v in values.items()})
    return sp.lambdify((eps, r, C), expr, modules="numpy")


def rates_cli(family, n, alpha, latex: bool = False, progress: bool = False) -> str:
    """What ``moe-approx rates FAMILY --n N --alpha A [--latex]`` prints (docs/theory.md §6).

    Parameters
    ----------
    family : str
        A family name or ``"all"``.
    n, alpha : number or None
        ``None`` = symbolic.
    latex : bool
        A booktabs table (:func:`to_latex`) instead of plain text.
    progress : bool
        A tqdm bar over the families.

    Returns
    -------
    str
    """
    tab = table(family, n=n, alpha=alpha, progress=progress)
    return tab.to_latex() if latex else str(tab)
