"""Experiment 4: active and total parameters against ε for several trade-off values r.

Theory (docs/theory.md §6, rates module): active ≍ ε^(−r); total ≍ ε^(−(n/α − r)) for the optimal
family, ε^(−n/α) for cpwl and constant. Designs are exact integer designs from ``rates.design``.
"""

from __future__ import annotations

import itertools

import numpy as np

from moe_approx import plotting, rates

from ._common import Results, available_families, design_row

SETTINGS = {
    "tiny": {"n": 2, "alpha": 1, "eps": [1e-2, 1e-3], "r": [0, 1]},
    "quick": {"n": 2, "alpha": 1, "eps": [1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5], "r": [0, 0.5, 1, 2]},
    "full": {"n": 2, "alpha": 1, "eps": list(np.logspace(-2, -8, 13)), "r": [0, 0.5, 1, 1.5, 2]},
}


def run(out, size="quick", force=False):
    s = SETTINGS[size] | {"families": available_families()}
    res = Results(out, "exp04_params_vs_eps", s, force)
    if not res.done:
        for family, r in itertools.product(s["families"], s["r"]):
            lo, hi = rates.r_range(family, s["n"], s["alpha"])
            if not lo <= r <= hi:
                continue
            rt = rates.rate(family, s["n"], s["alpha"])
            for eps in s["eps"]:
                d = rates.design(family, eps, r, s["n"], s["alpha"])
                res.add(**design_row(d, r=r, eps=eps, theory_active=float(rt.exponent["active params"].subs(rates.r, r)),
                                     theory_total=float(rt.exponent["total params"].subs(rates.r, r))))
        res.finish()
    return res.outputs(figure(res.rows, out))


@plotting.styled
def figure(rows, out):
    """Active and total parameters against 1/ε, stacked: colour = family, marker = r; each theory
    exponent dashed in its series' colour; each panel's legend (fits) to its right. Designs that
    coincide (e.g. optimal at r = 0 and r = ½) are drawn hollow and say so."""
    keys = sorted({(x["family"], x["r"]) for x in rows})
    styles = plotting.series_styles(keys, color_by=lambda k: k[0], marker_by=lambda k: k[1])
    fig, axes = plotting.figure(1, nrows=2, double=True, sharex=True)
    for key in keys:
        family, r = key
        sel = [x for x in rows if (x["family"], x["r"]) == key]
        inv = [1 / x["eps"] for x in sel]
        for ax, count in zip(axes, ("active", "total")):
            plotting.rate_plot(ax, inv, [x[f"{count}_params"] for x in sel], theory_slope=sel[0][f"theory_{count}"],
                               label=f"{family} r={r:g}", **styles[key])
    for ax, title in zip(axes, ("active (loaded per input)", "total")):
        ax.set_ylabel(f"{title}\nnonzero parameters")
        plotting.log_ticks(ax)
        plotting.legend(ax, right=True)
    axes[1].set_xlabel(r"$1/\varepsilon$")
    return plotting.save(fig, out / "exp04_params_vs_eps")
