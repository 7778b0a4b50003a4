"""Experiment 6: bytes loaded per input against total bytes (the paper's VRAM argument).

For every family and trade-off r, the exact design reaching ε (rates.design): float64 bytes of
the loaded network (one expert + the router path) against the bytes of the whole mixture.
"""

from __future__ import annotations

import itertools

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
    return [res.csv, res.json] + figure(res.rows, out)


def figure(rows, out):
    fig, ax = plotting.figure()
    for (family, eps) in sorted({(x["family"], x["eps"]) for x in rows}):
        sel = sorted((x for x in rows if (x["family"], x["eps"]) == (family, eps)), key=lambda x: x["r"])
        ax.loglog([x["total_bytes"] for x in sel], [x["active_bytes"] for x in sel], marker="o",
                  label=f"{family} ε={eps:g}")
        for x in sel:
            ax.annotate(f"r={x['r']:g}", (x["total_bytes"], x["active_bytes"]), fontsize=5)
    ax.set_xlabel("total bytes (all experts + router)")
    ax.set_ylabel("bytes loaded per input")
    plotting.legend(ax)
    return plotting.save(fig, out / "exp06_memory")
