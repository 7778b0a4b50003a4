"""Experiment 1: uniform error against number of experts at fixed expert size.

Theory (docs/theory.md §6): on a K^n grid an expert family with error C·h^α·e(size) gives MoE error
∝ L^(−α/n) with L = K^n experts; for constant experts the bound is C (h/2)^α, for CPwL with k
sub-cells per side C (h/k)^α (docs/theory.md §4.1–4.2). Measured errors are certified brackets.

cpwl in n = 3 is certified on ``kink`` (quick: K = 2, 4; full: up to 8). It is not run on ``cusp``
in n = 3: there |f − Φ| is near its maximum on the whole plane x₁ = 1/3, and with α = 1/2 every box
on that plane must have radius ≲ (rtol·lower)² — about 10^7 boxes at rtol 0.05, beyond any budget
(docs/theory.md §5, cost of a certificate).
"""

from __future__ import annotations

import itertools

import moe_approx as ma
from moe_approx import plotting

from ._common import Results, available_families

SETTINGS = {
    "tiny": {"dims": [1, 2], "targets": ["kink", "cusp"], "K": {1: [2, 4, 8], 2: [2, 4, 8]}, "cpwl_K": {}},
    "quick": {"dims": [1, 2, 3], "targets": ["kink", "cusp"], "cpwl_K": {3: [2, 4]},
              "K": {1: [4, 8, 16, 32, 64, 128], 2: [2, 4, 8, 16, 32], 3: [2, 4, 8]}},
    "full": {"dims": [1, 2, 3], "targets": ["kink", "cusp"], "cpwl_K": {3: [2, 4, 8]},
             "K": {1: [4, 16, 64, 256, 1024, 4096], 2: [2, 4, 8, 16, 32, 64, 128], 3: [2, 4, 8]}},
}
SKIP = {("cpwl", "cusp", 3)}  # not certifiable within any budget (module docstring)
FAMILIES = ("constant", "cpwl")


def run(out, size="quick", force=False):
    families = [f for f in available_families() if f in FAMILIES]
    # the evaluation budget grows with L (2^13 per expert): cpwl on 8^3 cells of kink needs ~3e6 evaluations
    settings = SETTINGS[size] | {"families": families, "rtol": 0.05, "max_evals": 2**21, "evals_per_expert": 2**13}
    res = Results(out, "exp01_error_vs_experts", settings, force)
    if not res.done:
        for family, n, name in itertools.product(families, settings["dims"], settings["targets"]):
            if (family, name, n) in SKIP:
                continue
            target = ma.targets.get(name, n=n)
            for K in settings["cpwl_K"].get(n, settings["K"][n]) if family == "cpwl" else settings["K"][n]:
                moe = ma.build_moe(target, ma.GridPartition(n, K), expert=family)
                budget = max(settings["max_evals"], settings["evals_per_expert"] * moe.num_experts)
                report = ma.sup_error(target, moe, rtol=settings["rtol"], max_evals=budget)
                bound = ma.experts.get(family).error_bound(target.alpha, target.constant, 1.0 / K, n, **moe.size)
                res.add(family=family, n=n, target=name, alpha=target.alpha, K=K, experts=moe.num_experts,
                        active_params=moe.active_params, total_params=moe.total_params, lower=report.lower,
                        upper=report.upper, certified=report.certified, proven_bound=bound,
                        theory_slope=-target.alpha / n)
        res.finish()
    return res.outputs(figure(res.rows, out))


@plotting.styled
def figure(rows, out):
    """One panel per n; one colour and marker per (family, target) in every panel; per target the
    theory slope −α/n as a grey dashed guide parallel to the data, offset from it (above the cusp
    series, below the kink series) and labelled at its end; one legend below the panels with each
    series' fitted slopes panel by panel."""
    styles = plotting.series_styles((r["family"], r["target"]) for r in rows)
    keys = sorted({(r["family"], r["target"]) for r in rows})
    fig, axes, groups = plotting.panels(rows, "n", legend_rows=(len(keys) + 2) // 2)
    for ax, n, in_panel in groups:
        for key in sorted({(r["family"], r["target"]) for r in in_panel}):
            sel = [r for r in in_panel if (r["family"], r["target"]) == key]
            plotting.rate_plot(ax, [r["experts"] for r in sel], [r["lower"] for r in sel], [r["upper"] for r in sel],
                               sel[0]["theory_slope"], label=" ".join(key), theory=None, **styles[key])
        for side, name in (("above", "cusp"), ("below", "kink")):
            sel = [r for r in in_panel if r["target"] == name]
            if sel:
                slope = sel[0]["theory_slope"]
                guide = plotting.slope_guide(ax, [r["experts"] for r in sel], [r["upper"] for r in sel] if side == "above"
                                             else [r["lower"] for r in sel], slope, side=side,
                                             text=f"{name}: slope {plotting.fraction(slope)}")
        ax.set_title(f"n = {n}")
        ax.set_xlabel("number of experts L")
        ax.set_ylabel(r"certified $\|f-\Phi\|_\infty$")
        plotting.log_ticks(ax)
    plotting.add_entry(axes[0], guide, r"theory slope $-\alpha/n$ (drawn beside the data)")
    plotting.figure_legend(fig, axes, panels=[n for _, n, _ in groups], theory=False)
    return plotting.save(fig, out / "exp01_error_vs_experts")
