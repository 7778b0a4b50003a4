"""Experiment 5: VC-dimension bounds and sample complexity (docs/theory.md §7).

The MoMLP bound L·max{nL, JW} (paper, claim 3, log factors omitted) of each design against the
Bartlett–Harvey–Liaw–Mehrabian bound P·J·log P of one piecewise-linear network with the same
total parameters P and the expert depth J; sample complexity (d + log(1/δ))/ε_gen² from each.
Constants are omitted on both sides (see rates.vc_bhlm), so compare growth, not values.
"""

from __future__ import annotations

import itertools


import numpy as np

from moe_approx import plotting, rates

from ._common import Results, available_families, design_row

SETTINGS = {
    "tiny": {"n": 2, "alpha": 1, "eps": [1e-2, 1e-3], "r": [0, 1], "delta": 0.05, "eps_gen": 0.1},
    "quick": {"n": 2, "alpha": 1, "eps": [1e-2, 3e-3, 1e-3, 3e-4, 1e-4], "r": [0, 1], "delta": 0.05, "eps_gen": 0.1},
    "full": {"n": 2, "alpha": 1, "eps": list(np.logspace(-2, -6, 9)), "r": [0, 0.5, 1, 2], "delta": 0.05,
             "eps_gen": 0.1},
}


def run(out, size="quick", force=False):
    s = SETTINGS[size] | {"families": available_families()}
    res = Results(out, "exp05_vc_dimension", s, force)
    if not res.done:
        for family, r in itertools.product(s["families"], s["r"]):
            lo, hi = rates.r_range(family, s["n"], s["alpha"])
            if not lo <= r <= hi:
                continue
            for eps in s["eps"]:
                d = rates.design(family, eps, r, s["n"], s["alpha"])
                vc_moe = float(rates.vc_momlp(d.num_experts, s["n"], d.depth, d.width))
                vc_dense = float(rates.vc_bhlm(d.total_params, d.depth))
                res.add(**design_row(d, r=r, eps=eps, vc_momlp=vc_moe, vc_dense=vc_dense,
                                     samples_momlp=float(rates.sample_complexity(vc_moe, s["eps_gen"], s["delta"])),
                                     samples_dense=float(rates.sample_complexity(vc_dense, s["eps_gen"], s["delta"]))))
        res.finish()
    return res.outputs(figure(res.rows, out, s))


@plotting.styled
def figure(rows, out, settings):
    """The MoMLP bound and the dense network's bound (same total parameters) in two panels: colour =
    family, marker = r, one legend below both panels whose title defines the symbols; the right
    axis of each panel reads the same curves as agnostic PAC sample complexity (d + log(1/δ))/ε_gen²
    (an increasing function of the VC bound d)."""
    keys = sorted({(x["family"], x["r"]) for x in rows})
    styles = plotting.series_styles(keys, color_by=lambda k: k[0], marker_by=lambda k: k[1])
    fig, axes = plotting.figure(2, legend_rows=(len(keys) + 1) // 2 + 2)
    for key in keys:
        sel = [x for x in rows if (x["family"], x["r"]) == key]
        inv = [1 / x["eps"] for x in sel]
        for ax, column in zip(axes, ("vc_momlp", "vc_dense")):
            plotting.plot_series(ax, inv, [x[column] for x in sel], f"{key[0]} r={key[1]:g}", **styles[key])
    axes[0].set_title(r"MoMLP: $L\cdot\max\{nL, JW\}$")
    axes[1].set_title(r"one network, same total $P$: $PJ\log P$")
    eps_gen, delta = settings["eps_gen"], settings["delta"]
    log_delta = float(np.log(1 / delta))
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"$1/\varepsilon$ (approximation error $\varepsilon$)")
        ax.set_ylabel("VC bound d (constants, logs omitted)")
        plotting.log_ticks(ax)
        samples = ax.secondary_yaxis("right", functions=(lambda d: (d + log_delta) / eps_gen**2,
                                                         lambda m: np.maximum(m * eps_gen**2 - log_delta, 1e-300)))
        samples.set_ylabel(rf"samples $(d+\log(1/\delta))/\varepsilon_{{gen}}^2$" + "\n"
                           + rf"($\varepsilon_{{gen}}={eps_gen:g}$, $\delta={delta:g}$)")
    plotting.figure_legend(fig, axes, ncol=2, title=f"L experts on [0,1]ⁿ, n = {settings['n']}, each J layers deep and W wide; "
                           "P: total parameters; the design reaching ε at each trade-off r")
    return plotting.save(fig, out / "exp05_vc_dimension")
