"""Experiment 6: bytes loaded per input against total bytes (the paper's VRAM argument).

For every family and trade-off r, the exact design reaching ε (rates.design): float64 bytes of
the loaded network (one expert + the router path) against the bytes of the whole mixture.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from moe_approx import plotting, rates

from ._common import Results, available_families, design_row

SETTINGS = {
    "tiny": {"n": 2, "alpha": 1, "eps": [1e-2, 1e-3], "r": [0, 1]},
    "quick": {"n": 2, "alpha": 1, "eps": [1e-2, 1e-3, 1e-4, 1e-5], "r": [0, 0.5, 1, 1.5, 2]},
    "full": {"n": 2, "alpha": 1, "eps": list(np.logspace(-2, -8, 7)), "r": [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2]},
}


def run(out, size="quick", force=False):
    s = SETTINGS[size] | {"families": available_families()}
    res = Results(out, "exp06_memory", s, force)
    if not res.done:
        for family, r, eps in itertools.product(s["families"], s["r"], s["eps"]):
            lo, hi = rates.r_range(family, s["n"], s["alpha"])
            if lo <= r <= hi:
                d = rates.design(family, eps, r, s["n"], s["alpha"])
                res.add(**design_row(d, r=r, eps=eps, active_bytes=d.active_bytes,
                                     total_bytes=rates.BYTES_PER_PARAM * d.total_params))
        res.finish()
    return res.outputs(figure(res.rows, out))


TITLES = {"constant": "constant experts", "cpwl": "CPwL experts", "optimal": "optimal-rate experts"}


@plotting.styled
def figure(rows, out):
    """One panel per family (shared y axis): each ε a colour, its designs joined in order of r,
    each r a marker; designs equal to one at a smaller r are drawn hollow and larger; the diagonal
    "loaded = total" (a dense network loads everything) dashed, both axes on one range. One legend
    (colours = ε, markers = r) below the panels."""
    from matplotlib.lines import Line2D

    eps_values = sorted({x["eps"] for x in rows}, reverse=True)
    r_values = sorted({x["r"] for x in rows})
    colour = dict(zip(eps_values, plotting.PALETTE))
    marker = dict(zip(r_values, plotting.MARKERS))
    entries = len(eps_values) + len(r_values) + 2
    ncol = min(4, math.ceil(entries / 2))
    fig, axes, groups = plotting.panels(rows, "family", legend_rows=math.ceil(entries / ncol))
    hollow = False
    for ax, family, in_panel in groups:
        for eps in eps_values:
            sel = sorted((x for x in in_panel if x["eps"] == eps), key=lambda x: x["r"])
            ax.plot([x["total_bytes"] for x in sel], [x["active_bytes"] for x in sel], "-", color=colour[eps], lw=0.8)
            for x in sel:
                h = plotting.plot_series(ax, [x["total_bytes"]], [x["active_bytes"]], f"ε={eps:g} r={x['r']:g}",
                                         color=colour[eps], marker=marker[x["r"]], linestyle="none")
                hollow |= "hollow" in h.get_label()
        ax.set_xscale("log")
        ax.set_yscale("log")
        values = [x[k] for x in in_panel for k in ("total_bytes", "active_bytes")]
        low, high = min(values) / 6, max(values) * 6  # one square range: the diagonal runs corner to corner
        diagonal, = ax.plot([low, high], [low, high], "--", color="0.4", lw=0.9, zorder=1)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_title(TITLES.get(family, family))
        ax.set_xlabel("total bytes (experts + router)")
        ax.set_ylabel("bytes loaded per input")
        plotting.log_ticks(ax)
    proxies = [Line2D([], [], color=colour[e], lw=1.5) for e in eps_values]
    proxies += [Line2D([], [], color="0.3", marker=marker[r], linestyle="none") for r in r_values]
    labels = [f"ε = {e:g}" for e in eps_values] + [f"r = {r:g}" for r in r_values]
    proxies.append(diagonal)
    labels.append("loaded = total (a dense network)")
    if hollow:
        proxies.append(Line2D([], [], color="0.3", marker="o", mfc="none", ms=7, linestyle="none"))
        labels.append("hollow: same design, smaller r")
    fig.legend(proxies, labels, loc="outside lower center", ncol=ncol)
    return plotting.save(fig, out / "exp06_memory")
