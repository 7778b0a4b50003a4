"""LaTeX rate tables that fit an article column (docs/theory.md §6, §7).

Layout: three columns (quantity, leading terms, power of 1/ε) in ``\\small``, one row per quantity,
a family's name and its (n, α) on a row of their own. A leading term wider than its column is split
where a line may break (between the terms of a sum, the arguments of a max, the factors of a
product) and continues on the next line across the last two columns. Widths are measured with
matplotlib's mathtext in Computer Modern (TeX's own fonts and spacing rules, within a few per cent),
so the table's natural width stays under ``width_pt``; a fragment mathtext cannot parse is
estimated at 0.55 × font size per visible character.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

from .display import Log2, tidy, with_log2
from .symbols import eps

COLUMN_PT = 246.0  # \columnwidth of a two-column article (10 pt); one column: about 345 pt
FONT_PT = 9.0  # \small in a 10 pt document
TABCOLSEP_PT = 6.0  # LaTeX's default \tabcolsep: 2 × 6 pt between two columns
QUAD_PT = FONT_PT  # the indent of a continuation line (\quad = 1 em)
_MIN_SLACK = 0.97  # lines are packed to 97 % of their room: mathtext and TeX differ by a few per cent

QUANTITY_TEX = {
    "e(P) at h=1": r"$e(P)$, side 1",
    "experts L at P = eps^-r": r"$L$ at $P = \varepsilon^{-r}$",
    "r range": r"range of $r$",
    "cells per side K": r"cells/side $K$",
    "experts L": r"experts $L$",
    "params per expert": r"$P$ per expert",
    "active params": "active params",
    "total params": "total params",
    "depth": r"depth $J$",
    "width": r"width $W$",
    "VC MoMLP (paper)": "VC (paper)",
    "VC one network (BHLM)": "VC (BHLM)",
    "active params (v1, with routing)": "active (v1)",
    "one MLP params": "one MLP",
    "VC MoMLP": r"VC: $L\max\{nL, JW\}$",
}
_HEADER = (r"quantity", r"leading terms", r"power of $1/\varepsilon$")


def latex(expr) -> str:
    """LaTeX of an expression: ε as ``\\varepsilon``, log(x)/log(2) as ``\\log_2``."""
    return sp.latex(with_log2(sp.sympify(expr)), symbol_names={eps: r"\varepsilon"})


def text_tex(s: str) -> str:
    """A quantity or family name as LaTeX text (short names from :data:`QUANTITY_TEX`)."""
    return QUANTITY_TEX.get(s, s.replace("_", r"\_"))


def width_pt(tex: str, size: float = FONT_PT) -> float:
    """Natural width in pt of a LaTeX fragment (text with ``$...$`` math) at ``size`` pt."""
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    plain = re.sub(r"\\(?:emph|textit)\{([^{}]*)\}", r"\1", tex)
    plain = plain.replace(r"\bigl", "").replace(r"\bigr", "").replace(r"\_", "_")
    try:
        with matplotlib.rc_context({"mathtext.fontset": "cm"}):
            return float(MathTextParser("path").parse(plain, dpi=72, prop=FontProperties(family="cmr10", size=size))[0])
    except ValueError:
        visible = re.sub(r"\\[a-zA-Z]+|[{}$^_]", "", plain)
        return 0.55 * size * len(visible)


def _terms(expr):
    return LatexPrinter()._as_ordered_terms(expr) if isinstance(expr, sp.Add) else [expr]


def pieces(expr) -> list:
    """LaTeX fragments that read as ``expr`` when set one after another, split where a line may break
    (``expr`` as :func:`~moe_approx.rates.display.with_log2` returns it)."""
    if isinstance(expr, sp.Add):
        out = []
        for i, term in enumerate(_terms(expr)):
            sign, term = ("-", -term) if term.could_extract_minus_sign() else ("+", term)
            sub = pieces(term)
            sub[0] = (f"{sign} " if i or sign == "-" else "") + sub[0]
            out += sub
        return out
    if isinstance(expr, (sp.Max, sp.Min)):
        args = [pieces(a) for a in sorted(expr.args, key=sp.default_sort_key)]
        out = []
        for i, sub in enumerate(args):
            sub[-1] += "," if i < len(args) - 1 else r"\bigr)"
            out += sub
        out[0] = (r"\max\bigl(" if isinstance(expr, sp.Max) else r"\min\bigl(") + out[0]
        return out
    if isinstance(expr, (Log2, sp.log)):
        out = pieces(expr.args[0])
        out[0] = (r"\log_2\bigl(" if isinstance(expr, Log2) else r"\log\bigl(") + out[0]
        out[-1] += r"\bigr)"
        return out
    if isinstance(expr, sp.Mul):
        splittable = [f for f in expr.args if isinstance(f, (sp.Add, sp.Max, sp.Min, Log2, sp.log))]
        rest = sp.Mul(*[f for f in expr.args if f not in splittable])
        out = [] if rest == 1 else [latex(rest)]
        for f in splittable:
            sub = pieces(f)
            if isinstance(f, sp.Add):
                sub[0] = r"\bigl(" + sub[0]
                sub[-1] += r"\bigr)"
            out += sub
        return out
    return [latex(expr)]


def _pack(parts, first_room, room):
    """Greedy lines: as many fragments per line as fit (the first line has ``first_room`` pt)."""
    lines, current = [], ""
    for part in parts:
        trial = f"{current} {part}".strip()
        limit = (first_room if not lines else room) * _MIN_SLACK
        if not lines and not current and width_pt(f"${part}$") > limit:
            lines.append("")  # not even one fragment fits beside the quantity: start on the next line
            limit = room * _MIN_SLACK
        if current and width_pt(f"${trial}$") > limit:
            lines.append(current)
            current = part
        else:
            current = trial
    return lines + [current]


def table_latex(tab, width: float = COLUMN_PT) -> str:
    """A booktabs ``tabular`` of a :class:`~moe_approx.rates.RateTable` whose natural width is at most
    ``width`` pt (see the module docstring)."""
    blocks, notes = [], []
    for family, info, rows in tab.blocks(latex_rows=True):
        head = [rf"\emph{{{text_tex(family)}}}"] + [f"${s} = {latex(v)}$" for s, v in (("n", info["n"]), (r"\alpha", info["alpha"]))
                                                    if v is not None and sp.sympify(v).is_number]
        if info.get("note"):
            notes.append(f"% {family}: {info['note']}")
        body = [(text_tex(q), value, "" if expo is None else f"${latex(tidy(expo, info.get('r_max')))}$")
                for q, value, expo in rows]
        blocks.append((", ".join(head), body))
    cells = [q for _, body in blocks for q, _, _ in body] + [_HEADER[0]]
    w1 = max(width_pt(c) for c in cells)
    w3 = max(width_pt(c) for c in [x for _, body in blocks for _, _, x in body] + [_HEADER[2]])
    w2 = width - w1 - w3 - 4 * TABCOLSEP_PT
    lines = [r"% rates of the mixture of experts (moe_approx, docs/theory.md \S 6--7); needs \usepackage{booktabs}",
             r"% leading terms as epsilon -> 0 at trade-off r (active params ~ epsilon^(-r)); VC (paper): L max{nL, JW}, "
             r"VC (BHLM): P J log P, constants and logs omitted", *notes,
             r"{\small", r"\begin{tabular}{@{}lll@{}}", r"\toprule", " & ".join(_HEADER) + r" \\"]
    for head, body in blocks:
        lines += [r"\midrule", rf"\multicolumn{{3}}{{@{{}}l}}{{{head}}} \\"]
        for q, value, expo in body:
            packed = _pack(pieces(with_log2(value)), w2, w2 + 2 * TABCOLSEP_PT + w3 - QUAD_PT) if value is not None else [""]
            first = f"${packed[0]}$" if packed[0] else ""
            lines.append(f"{q} & {first} & {expo} \\\\")
            lines += [rf" & \multicolumn{{2}}{{l@{{}}}}{{$\quad {more}$}} \\" for more in packed[1:]]
    lines += [r"\bottomrule", r"\end{tabular}}"]
    return "\n".join(lines)
