"""Experiment 2: uniform error against expert size at a fixed number of experts.

Theory (docs/theory.md §4.2, §6): CPwL with a k^n sub-grid has error ≤ C (h/k)^α and ≍ (k+1)^n
nonzero parameters, so error ∝ P^(−α/n) at fixed L as k → ∞; at the k measured here the theory
slope is that of the proven bound against the exact nonzero counts (stored dense counts grow
faster, ~(k+1)^(2n) for n = 2; both are in the table). Yarotsky Taylor experts of degree d on
sin(πx): the error falls with d, not as a power of P (no theory slope; docs/theory.md §4.3); their
proven bound is Yarotsky's with the constants of sin(πx).
"""

from __future__ import annotations

import math

import moe_approx as ma
from moe_approx import plotting

from ._common import Results, available_families

SETTINGS = {
    "tiny": {"cpwl": {1: [1, 2, 4], 2: [1, 2, 4]}, "K": 2, "targets": ["kink"], "yarotsky": [1, 2], "m": 12},
    "quick": {"cpwl": {1: [1, 2, 4, 8, 16, 32], 2: [1, 2, 4, 8]}, "K": 2, "targets": ["kink", "cusp"],
              "yarotsky": [1, 2], "m": 14},
    "full": {"cpwl": {1: [1, 2, 4, 8, 16, 32, 64, 128], 2: [1, 2, 4, 8, 16], 3: [1, 2]}, "K": 2,
             "targets": ["kink", "cusp"], "yarotsky": [1, 2], "m": 16},
}


def run(out, size="quick", force=False):
    s = SETTINGS[size] | {"rtol": 1e-2, "max_evals": 2**20}
    res = Results(out, "exp02_error_vs_expert_size", s, force)
    families = available_families(smooth=True)
    if not res.done:
        for n, ks in s["cpwl"].items() if "cpwl" in families else ():
            cpwl = ma.experts.get("cpwl")
            nonzero = [int(cpwl.num_nonzero(n, k=k)) for k in ks]
            for name in s["targets"]:
                f = ma.targets.get(name, n=n)
                bounds = [float(cpwl.error_bound(f.alpha, f.constant, 1 / s["K"], n, k=k)) for k in ks]
                # the slope the proven bound C (h/k)^α has against the exact nonzero counts at these k
                # (→ −α/n as k grows; the hats' fixed costs make small k steeper)
                slope = plotting.fit_slope(nonzero, bounds)
                for k, nz, bound in zip(ks, nonzero, bounds):
                    moe = ma.build_moe(f, ma.GridPartition(n, s["K"]), expert="cpwl", k=k)
                    rep = ma.sup_error(f, moe, rtol=s["rtol"], max_evals=s["max_evals"])
                    res.add(family="cpwl", n=n, target=name, size=k, expert_params=moe.expert_params,
                            expert_nonzero=nz, lower=rep.lower, upper=rep.upper, certified=rep.certified,
                            proven_bound=bound, theory_slope=slope, asymptotic_slope=-f.alpha / n)
        if "yarotsky" in families:
            f = ma.targets.get("sine_product", n=1)
            taylor = ma.experts.get("yarotsky")
            for d in s["yarotsky"]:
                moe = ma.build_moe(f, ma.GridPartition(1, s["K"]), expert="yarotsky", m=s["m"], degree=d)
                rep = ma.sup_error(f, moe, rtol=s["rtol"], max_evals=s["max_evals"])
                # sin(πx): every derivative of order <= d is bounded by π^(d+1) and the d-th is
                # π^(d+1)-Lipschitz, the class yarotsky.error_bound assumes with (α, C) = (1, π^(d+1)).
                bound = float(taylor.error_bound(1.0, math.pi ** (d + 1), 1 / s["K"], 1, m=s["m"], degree=d))
                res.add(family="yarotsky", n=1, target=f.name, size=d, expert_params=moe.expert_params,
                        expert_nonzero=int(taylor.num_nonzero(1, m=s["m"], degree=d)), lower=rep.lower,
                        upper=rep.upper, certified=rep.certified, proven_bound=bound,
                        theory_slope=float("nan"), asymptotic_slope=float("nan"))
        res.finish()
    return res.outputs(figure(res.rows, out))


@plotting.styled
def figure(rows, out):
    """One colour and marker per (family, n, target); each series' proven bound dashed in its colour
    (the theory slope is the bound's slope at the same sizes; the bound lies above the data, so it
    never hides it); the legend below the panel. Two Taylor degrees are two points: no slope is
    fitted to them."""
    keys = sorted({(r["family"], r["n"], r["target"]) for r in rows})
    styles = plotting.series_styles(keys)
    fig, ax = plotting.figure(legend_rows=len(keys) + 2)
    for key in keys:
        family, n, name = key
        sel = [r for r in rows if (r["family"], r["n"], r["target"]) == key]
        size, slope = [r["expert_nonzero"] for r in sel], sel[0]["theory_slope"]
        label = (f"CPwL, n = {n}, {name}" if family == "cpwl" else
                 f"Taylor, n = {n}, sin(πx), degree " + ", ".join(str(r["size"]) for r in sel))
        plotting.rate_plot(ax, size, [r["lower"] for r in sel], [r["upper"] for r in sel],
                           None if slope != slope else slope, label=label, theory=None, **styles[key])
        bound, = ax.plot(size, [r["proven_bound"] for r in sel], "--", color=styles[key]["color"], lw=0.9, alpha=0.8)
        plotting.join_entry(ax, bound, (", theory", ", bound's slope"))
    ax.set_xlabel("nonzero parameters per expert")
    ax.set_ylabel(r"certified $\|f-\Phi\|_\infty$")
    plotting.log_ticks(ax)
    plotting.legend(ax, title=r"solid: certified; dashed: its proven bound; $L = 2^n$")
    return plotting.save(fig, out / "exp02_error_vs_expert_size")
