"""Rate tables: tidy rows, a SymPy matrix, plain text and LaTeX (docs/theory.md §6, §7)."""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass

import sympy as sp

from ._validate import _check_alpha, _check_n, _family_list, _resolve
from .asymptotics import NUMERIC_AT, QUANTITIES, Rate, eps_exponent, rate, substitution_note
from .display import eps_power, fmt, text, tidy
from .latex import COLUMN_PT, latex, table_latex
from .counts import closed_forms, size_symbols
from .symbols import C, K, alpha, delta, eps, h, n, r
from .vc import paper_claims

# --- tables -----------------------------------------------------------------------------------
_COLUMNS = ("exact", "asymptotic", "exponent", "exponent at r=0", "exponent at r=1", "exponent at r=r_max")


_REPR_WIDTH = 60  # characters of the leading-terms column in repr before it wraps
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
        The dimension and Hölder exponent asked for; each row's ``n`` and ``alpha`` are those its
        family was derived at (``numeric_at`` of :func:`table` where its closed forms need numbers,
        said in the row's ``note``).

    Notes
    -----
    In a notebook the table shows as one row per quantity (``_repr_html_``, ``_repr_markdown_``);
    ``repr`` gives the same as plain text, ``str`` a summary with the exponents of 1/ε first.
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
            fam = out.setdefault(row["family"], {"family": row["family"], "note": _at_note(row)})
            if row["quantity"] in ("e(P) at h=1", "experts L at P = eps^-r"):
                fam[row["quantity"]] = row["asymptotic"]
            elif row["quantity"] == "r range":
                fam["r range"] = row["exact"]
            elif row["quantity"] in _SUMMARY:
                fam[f"exponent of 1/eps: {row['quantity']}"] = row["exponent"]
        return [v for k, v in out.items() if k != "paper"]

    def blocks(self, latex_rows=False) -> list:
        """Per family ``(family, info, rows)``: ``info`` has the ``n``, ``alpha``, ``note`` and
        ``r_max`` it was derived at; ``rows`` are ``(quantity, leading terms, exponent of 1/ε)``
        (:func:`tidy`). ``latex_rows``: only the rows with an asymptotic form and the r range."""
        out = {}
        for row in self.rows:
            if latex_rows and "asymptotic" not in row and row["quantity"] != "r range":
                continue
            info = {"n": row.get("n", self.n), "alpha": row.get("alpha", self.alpha), "note": _at_note(row)}
            _, first, rows = out.setdefault(row["family"], (row["family"], info, []))
            first["r_max"] = first.get("r_max", row.get("r_max"))
            r_max = row.get("r_max")
            value = row.get("asymptotic") if row.get("asymptotic") is not None else row.get("exact")
            rows.append((row["quantity"], tidy(value, r_max), tidy(row.get("exponent"), r_max)))
        return list(out.values())

    def _display(self):
        """(caption, [(family line, [(quantity, leading terms, exponent) as plain text])])."""
        at = lambda name, v: f"{name} = {text(v)}" if sp.sympify(v).is_number else f"{name} symbolic"
        caption = (f"RateTable at {at('n', self.n)}, {at('α', self.alpha)} (docs/theory.md §6, §7): leading terms "
                   "as ε → 0 at trade-off r (active params ≍ ε^-r) and the power of 1/ε that leads them")
        out = []
        for family, info, rows in self.blocks():
            head = ", ".join([family] + [f"{k} = {text(v)}" for k, v in (("n", info["n"]), ("α", info["alpha"]))
                                         if v is not None and sp.sympify(v).is_number and not info["note"]])
            head += f" ({info['note']})" if info["note"] else ""
            out.append((head, [(q.replace("eps", "ε"), "" if v is None else text(v), "" if x is None else text(x))
                               for q, v, x in rows]))
        return caption, out

    def __repr__(self):
        caption, blocks = self._display()
        cells = [("quantity", "leading terms", "exponent of 1/ε")] + [row for _, rows in blocks for row in rows]
        widths = [max(len(c[i]) for c in cells) for i in range(3)]
        widths[1] = min(widths[1], _REPR_WIDTH)

        def line(cell):  # long leading terms wrap onto indented lines of their own column
            q, v, x = cell
            parts = textwrap.wrap(v, _REPR_WIDTH, subsequent_indent="  ", break_on_hyphens=False) or [""]
            out = [f"{q:{widths[0]}s}  {parts[0]:{widths[1]}s}  {x}".rstrip()]
            return out + [f"{'':{widths[0]}s}  {p}" for p in parts[1:]]

        lines = textwrap.wrap(caption, 100) + line(cells[0])
        for head, rows in blocks:
            lines += [f"[{head}]"] + [text for row in rows for text in line(row)]
        return "\n".join(lines)

    def _repr_html_(self):
        caption, blocks = self._display()
        esc = html.escape
        out = [f"<table><caption>{esc(caption)}</caption>",
               "<thead><tr><th>quantity</th><th>leading terms</th><th>exponent of 1/ε</th></tr></thead><tbody>"]
        for head, rows in blocks:
            out.append(f'<tr><th colspan="3" style="text-align:left">{esc(head)}</th></tr>')
            out += [f"<tr><td>{esc(q)}</td><td>{esc(v)}</td><td>{esc(x)}</td></tr>" for q, v, x in rows]
        return "\n".join(out + ["</tbody></table>"])

    def _repr_markdown_(self):
        caption, _ = self._display()
        cell = lambda x: "" if x is None else "$" + latex(x).replace("|", r"\vert ") + "$"
        out = [caption, "", "| family | quantity | leading terms | exponent of 1/ε |", "|---|---|---|---|"]
        for family, _, rows in self.blocks():
            out += [f"| {family} | {q} | {cell(v)} | {cell(x)} |" for q, v, x in rows]
        return "\n".join(out)

    def __str__(self):
        at = lambda name, v: f"{name} = {fmt(v)}" if v is None or getattr(v, "is_number", True) else f"symbolic {name}"
        lines = [f"Rates at {at('n', self.n)}, {at('alpha', self.alpha)} (docs/theory.md §6, §7). "
                 "'∝ ε^-x' : grows like (1/ε)^x as ε → 0, log factors dropped."]
        for fam in self.summary():
            note = f" ({fam['note']})" if fam["note"] else ""
            lines.append(f"{fam['family']}{note}: r in {fmt(fam.get('r range'))}; expert error on a cell of side 1: "
                         f"e(P) = {fmt(tidy(fam.get('e(P) at h=1')))}; experts L at P = ε^-r: "
                         f"{fmt(tidy(fam.get('experts L at P = eps^-r')))}")
            for q in _SUMMARY:
                lines.append(f"  {q:18s} ∝ {eps_power(fam.get(f'exponent of 1/eps: {q}'))}")
        lines.append("Details (exact: integer design; asymptotic: ceiling-free; exponent of 1/ε)")
        for row in self.rows:
            vals = " | ".join(f"{label}: {fmt(row[k])}" for k, label in (("exact", "exact"), ("asymptotic", "asymptotic"),
                              ("exponent", "exponent of 1/ε")) if row.get(k) is not None)
            vals = vals or "(no SymPy form: the family's closed form needs numbers)"
            lines.append(f"  {row['family']} | {row['quantity']} | {vals}")
        return "\n".join(lines)

    def records(self) -> list:
        """The rows as JSON-ready dicts: expressions as SymPy strings (``sympy.sympify`` reads them
        back), exponents at r = 0, 1, r_max also as floats (``None`` outside [0, r_max])."""
        out = []
        for row in self.rows:
            rec = {"family": row["family"], "quantity": row["quantity"], "kind": row.get("kind"),
                   "n": _json_number(row.get("n", self.n)), "alpha": _json_number(row.get("alpha", self.alpha))}
            for key in ("exact", "asymptotic", "exponent"):
                rec[key] = None if row.get(key) is None else sp.sstr(row[key])
            for key in _COLUMNS[3:]:
                if key in row:
                    v = row[key]
                    rec[key] = None if v is sp.nan or not v.is_number else float(v)
            out.append(rec)
        return out

    def to_latex(self, width: float = COLUMN_PT) -> str:
        """A booktabs ``tabular`` at most ``width`` pt wide: see :func:`to_latex`."""
        return table_latex(self, width)

    def lambdify(self, family, quantity, which="asymptotic"):
        """A numpy function f(eps, r, C) of one row's expression (for plotting); see :func:`lambdify`."""
        for row in self.rows:
            if row["family"] == family and row["quantity"] == quantity and row.get(which) is not None:
                return lambdify(row[which])
        raise ValueError(f"no row with family={family!r}, quantity={quantity!r} and a {which!r} expression")


def _at_note(row) -> str:
    """What the row's family was derived at in place of a symbol ("n = 2 in place of a symbol: ..."), else ""."""
    return substitution_note(row.get("substituted") or {})


def _json_number(v):
    """An int as int, another number as float, a symbol as its name."""
    v = sp.sympify(v)
    return int(v) if v.is_Integer else float(v) if v.is_number else str(v)


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


def table(family="all", n=None, alpha=None, activation="relu", paper=True, progress=False,
          numeric_at=NUMERIC_AT) -> RateTable:
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
        Dimension >= 1; ``None`` (default) leaves it symbolic for the families whose closed forms
        take a symbol.
    alpha : float or None
        Hölder exponent in (0, 1]; ``None`` (default) leaves it symbolic likewise.
    activation : {"relu", "prelu"}
    paper : bool
        Add the paper's claims (:func:`paper_claims`) as rows of family ``"paper"``.
    progress : bool
        Show a tqdm bar over the families.
    numeric_at : (int, float)
        The (n, alpha), default (2, 1), at which a family whose closed forms need numbers is derived
        when n or alpha is left symbolic (see :func:`rate`); its rows' ``n``, ``alpha`` and ``note``
        say so, and so do the printed, HTML and LaTeX tables.

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
        rt = rate(module, n, alpha, activation, numeric_at)
        at = {"family": name, "n": rt.n, "alpha": rt.alpha, "method": rt.method, "note": rt.note,
              "substituted": rt.substituted}
        cf = _closed_forms_for_table(module, rt.n)
        for (quantity, act), expr in cf.forms.items():
            rows.append({**at, "quantity": f"{quantity} ({act})", "exact": expr, "kind": f"closed form ({cf.method})"})
        try:
            bound = sp.sympify(module.error_bound(rt.alpha, C, h, rt.n, **size_symbols(module)))
        except Exception:
            bound = None
        rows.append({**at, "quantity": "error bound", "exact": bound, "kind": "proven bound (family module)"})
        rows.append({**at, "quantity": "e(P) at h=1", "asymptotic": _expert_error_in_P(rt), "kind": "leading order"})
        rows.append({**at, "quantity": "experts L at P = eps^-r", "asymptotic": _in_terms_of_P(rt.asymptotic["experts L"]),
                     "kind": "leading order"})
        rows.append({**at, "quantity": "r range", "exact": sp.Interval(0, rt.r_max), "kind": "derived", "growth": rt.growth,
                     "r_max": rt.r_max})
        for q in QUANTITIES:
            ex = rt.exact.get(q) if rt.exact else None
            expo = rt.exponent[q]
            refs = [_at(expo, v, rt.r_max) for v in (0, 1, rt.r_max)]
            kind = "order, up to logs and absolute constants" if q.startswith("VC") else "count"
            rows.append({**at, "quantity": q, "exact": ex, "asymptotic": rt.asymptotic[q], "exponent": expo,
                         **dict(zip(_COLUMNS[3:], refs)), "kind": kind, "r_max": rt.r_max})
            mat.append([ex if ex is not None else sp.nan, rt.asymptotic[q], expo, *refs])
            labels.append(f"{name}: {q}")
    if paper:
        for q, expr in paper_claims(n, alpha).items():
            expo = eps_exponent(expr) if expr.has(eps) else None
            rows.append({"family": "paper", "quantity": q, "asymptotic": expr, "exponent": expo, "kind": "claim (docs/theory.md §1)",
                         "n": _check_n(n, True), "alpha": _check_alpha(alpha, True)})
    return RateTable(rows, sp.Matrix(mat) if mat else sp.zeros(0, len(_COLUMNS)), labels, n=_check_n(n, True),
                     alpha=_check_alpha(alpha, True))


def to_latex(obj, width: float = COLUMN_PT) -> str:
    r"""LaTeX for a SymPy expression, or a booktabs ``tabular`` for a :class:`RateTable`.

    The table has one block per family (its name and the n, α it was derived at), then per quantity
    the leading terms (:func:`tidy`) and the exponent of 1/ε. ε prints as ``\varepsilon``,
    log(x)/log(2) as ``\log_2(x)``. Short column heads, ``\small``, and leading terms too wide
    for their column continue on the next line, so the table's natural width is at most ``width``
    pt (246 pt: a column of a two-column article; 345 pt: one-column); widths are measured with
    matplotlib's mathtext in Computer Modern. Needs ``\usepackage{booktabs}``.

    Parameters
    ----------
    obj : RateTable or sympy.Expr
    width : float
        Largest natural width of the table in pt (ignored for an expression).

    Returns
    -------
    str

    Examples
    --------
    >>> import moe_approx as ma
    >>> ma.rates.to_latex(1 / ma.rates.eps**2)
    '\\frac{1}{\\varepsilon^{2}}'
    >>> ma.rates.to_latex(ma.rates.router_params(2, ma.rates.K).active)  # 2 ceil(log(K)/log(2))
    '2 \\left\\lceil{\\log_2\\left(K\\right)}\\right\\rceil'
    """
    if isinstance(obj, RateTable):
        return table_latex(obj, width)
    return latex(obj)


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
