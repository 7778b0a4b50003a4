"""Rate tables: tidy rows, a SymPy matrix, plain text and LaTeX (docs/theory.md §6, §7)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .. import experts
from ._validate import _family_list, _resolve
from .asymptotics import QUANTITIES, Rate, eps_exponent, rate
from .counts import closed_forms, size_symbols
from .symbols import C, K, alpha, delta, eps, h, n, r
from .vc import paper_claims

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
