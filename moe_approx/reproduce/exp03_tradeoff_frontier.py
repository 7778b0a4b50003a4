"""Experiment 3: the trade-off frontier at fixed ε, experts L against active parameters.

Theory (docs/theory.md §6): along the trade-off r the loaded parameters grow as ε^(−r) and the number
of experts falls as r grows, at the family's rate derived by the rates module; the frontier is the
curve r ↦ (active(ε, r), L(ε, r)). Design points are the exact integer designs
of ``rates.design`` at a grid of r; the theory line is the rates module's leading-order curve;
small designs are built and their uniform error certified (``sup_error``), so each measured
point shows that the design really reaches ε.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import sympy as sp

import moe_approx as ma
from moe_approx import plotting, rates

from ._common import Results, available_families, design_row

SETTINGS = {
    "tiny": {"n": 2, "target": "cone", "eps": [0.1], "r_points": 3, "measure_total": 2e4},
    "quick": {"n": 2, "target": "cone", "eps": [0.05, 1e-3], "r_points": 7, "measure_total": 2e5},
    "full": {"n": 2, "target": "cone", "eps": [0.05, 1e-2, 1e-3, 1e-4], "r_points": 11, "measure_total": 2e6},
}
ACTIVATIONS = ("relu", "prelu")
ACTIVATION_NAMES = {"relu": "ReLU", "prelu": "PReLU"}


def _r_grid(family, n, alpha, activation, points):
    r_max = float(rates.r_range(family, n, alpha, activation)[1])
    return [0.0] if r_max == 0 else [math.floor(1000 * i * r_max / (points - 1)) / 1000 for i in range(points)]  # never past r_max


def run(out, size="quick", force=False):
    f = ma.targets.get(SETTINGS[size]["target"], n=SETTINGS[size]["n"])
    families = available_families(smooth=f.derivative_order is not None)
    s = SETTINGS[size] | {"families": families, "rtol": 0.05, "max_evals": 2**20}
    res = Results(out, "exp03_tradeoff_frontier", s, force)
    if not res.done:
        n, alpha, C = s["n"], f.alpha, f.constant
        for family, activation, eps in itertools.product(s["families"], ACTIVATIONS, s["eps"]):
            for r in _r_grid(family, n, alpha, activation, s["r_points"]):
                try:
                    d = rates.design(family, eps, r, n, alpha, C, activation)
                except ValueError:  # no design reaches eps (e.g. a fixed-size family at tiny eps)
                    continue
                row = design_row(d, r=r, eps=eps, n=n, target=f.name, lower=np.nan, upper=np.nan, certified=False)
                # The evaluator's interval enclosure is vacuous through bit extraction (optimal):
                # those designs rest on their proven bound alone.
                if d.total_params <= s["measure_total"] and activation == "relu" and family != "optimal":
                    # PReLU computes the same function (docs/theory.md §3), so one measurement serves both.
                    moe = ma.build_moe(f, ma.GridPartition(n, d.cells_per_side), expert=family,
                                       activation=activation, **d.sizes)
                    rep = ma.sup_error(f, moe, rtol=s["rtol"], max_evals=s["max_evals"])
                    row |= {"lower": rep.lower, "upper": rep.upper, "certified": rep.certified}
                res.add(**row)
        res.finish()
    return res.outputs(figure(res.rows, out))


@plotting.styled
def figure(rows, out):
    """One panel per ε: designs of each (family, activation) joined along r (ReLU solid, PReLU
    dotted), certified designs ringed in grey, the leading-order curve dashed in the ReLU series'
    colour (drawn where it asks for at least the smallest expert built); the legend (below the
    panels) says which way r runs along each curve."""
    styles = plotting.series_styles((x["family"], x["activation"]) for x in rows)
    fig, axes, groups = plotting.panels(rows, "eps", reverse=True, legend_rows=5)
    for ax, eps, in_panel in groups:
        for key in sorted({(x["family"], x["activation"]) for x in in_panel}):
            family, activation = key
            sel = [x for x in in_panel if (x["family"], x["activation"]) == key]
            moves = len({(x["active_params"], x["experts"]) for x in sel}) > 1
            r_max = sel[-1]["r"]
            note = (f", r = 0 (top) to {r_max:g} (bottom)" if moves else f", any r in [0, {r_max:g}]" if r_max else ", r = 0")
            plotting.plot_series(ax, [x["active_params"] for x in sel], [x["experts"] for x in sel],
                                 f"{family} {ACTIVATION_NAMES[activation]}",
                                 linestyle="-" if activation == "relu" else ":", note=note, **styles[key])
            if activation != "relu":
                continue
            t = ma.targets.get(sel[0]["target"], n=sel[0]["n"])
            a, L = rates.rate(family, t.n, t.alpha, activation).frontier(eps, t.constant, max(x["r"] for x in sel))
            keep = a >= min(x["active_params"] for x in sel)
            if keep.any():
                theory, = ax.plot(a[keep], L[keep], "--", color=styles[key]["color"], alpha=0.7, lw=0.9)
                plotting.add_entry(ax, theory, f"{family}: leading order")
        measured = [x for x in in_panel if x["upper"] == x["upper"]]
        if measured:
            ring, = ax.plot([x["active_params"] for x in measured], [x["experts"] for x in measured], "o", mfc="none",
                            ms=9, color="0.45", mew=0.8, zorder=1)
            plotting.add_entry(ax, ring, "built, error certified (branch and bound)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.margins(x=0.1, y=0.1)
        ax.set_title(rf"$\varepsilon={eps:g}$")
        ax.set_xlabel("active parameters per input")
        ax.set_ylabel("experts L")
        plotting.log_ticks(ax)
    plotting.figure_legend(fig, axes, ncol=2)
    return plotting.save(fig, out / "exp03_tradeoff_frontier")
