"""Experiment 8: adaptive dyadic against uniform partitions on the cusp |x₁ − 1/3|^(1/2).

Both MoEs carry the same kind of certificate (certified sup error ≤ ε). Uniform: the smallest
dyadic K whose K^n-cell MoE has certified error ≤ ε. Adaptive: ``approximate`` (refines only the
uncertified dyadic cells).

Expected counts, from the local size of the error (f' ∼ d^(−1/2), f'' ∼ d^(−3/2) at distance d
from the cusp, cell width w, dyadic cubes):
- uniform: L ≍ ε^(−n/α) = ε^(−2n) for both families (the cusp cell sets the width);
- adaptive, n = 1: constant experts need w ≲ ε·d^(1/2), so L ≍ ∫ dx/w ≍ ε^(−1); CPwL (k = 1)
  needs w ≲ (ε d^(3/2))^(1/2), so L ≍ ε^(−1/2); both plus O(log 1/ε) cells at the cusp;
- adaptive, n = 2: cubes of width ≈ ε² line the whole singular line x₁ = 1/3, so L ≍ ε^(−2)
  (times log 1/ε for constant experts): half the uniform exponent.
"""

from __future__ import annotations

import math

import moe_approx as ma
from moe_approx import plotting, rates
from moe_approx.targets.formula_library import library as formula_library

from ._common import Results, available_families

# The cusp is given as a formula (``moe_approx.targets.formula_library``): the certificates come from interval
# enclosures of f on each box (docs/theory.md §9), which are tight away from the singular line.
# With the declared (1/2, 1) alone every box in the cube needs radius ≲ ε², so n = 2 stopped at
# eps = 0.1 before; with the formula it reaches 0.01 (full size).
SETTINGS = {
    "tiny": {"dims": [1], "eps": {1: [0.3, 0.2, 0.1]}},
    "quick": {"dims": [1, 2], "eps": {1: [0.2, 0.1, 0.05, 0.025], 2: [0.3, 0.2, 0.14, 0.1, 0.05]}},
    "full": {"dims": [1, 2], "eps": {1: [0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625],
                                     2: [0.3, 0.2, 0.14, 0.1, 0.05, 0.02, 0.01]}},
}
MAX_UNIFORM_CELLS = 2**18  # uniform grids beyond this are not built (their K is reported as nan)
FAMILIES = ("constant", "cpwl")
ADAPTIVE_EXPONENT = {("constant", 1): 1.0, ("cpwl", 1): 0.5, ("constant", 2): 2.0, ("cpwl", 2): 2.0}


def uniform_cells(f, family, eps, rtol, max_evals, size):
    """Smallest dyadic K = 2^j whose K^n-cell MoE has certified error ≤ eps, and its report.

    Dyadic like the adaptive partition (whose cells are dyadic boxes): a K that is a multiple of 3
    would put a grid face on the cusp at 1/3 and measure grid luck, not adaptivity. The proven
    K of ``rates.cells_for`` bounds the search.
    """
    cap = rates.cells_for(family, eps, f.n, f.alpha, f.constant, **size)
    K = 1
    while True:
        if K**f.n > MAX_UNIFORM_CELLS:
            return math.nan, None
        moe = ma.build_moe(f, ma.GridPartition(f.n, K), expert=family, **size)
        rep = ma.sup_error(f, moe, rtol=rtol, max_evals=max_evals)
        if rep.upper <= eps or K >= cap:
            return K, rep
        K *= 2


def run(out, size="quick", force=False):
    families = [f for f in available_families() if f in FAMILIES]
    s = SETTINGS[size] | {"families": families, "rtol": 0.05, "max_evals": 2**21, "max_experts": 2**16}
    res = Results(out, "exp08_adaptive_vs_uniform", s, force)
    if not res.done:
        for family in families:
            size_kw = {"k": 1} if family == "cpwl" else {}
            for n in s["dims"]:
                f = formula_library("cusp", n)  # rigorous enclosures: no declared constant is used
                for eps in s["eps"][n]:
                    moe = ma.approximate(f, eps, expert=family, rtol=s["rtol"], max_evals=s["max_evals"],
                                         max_experts=s["max_experts"], **size_kw)
                    rep = ma.sup_error(f, moe, rtol=s["rtol"], max_evals=s["max_evals"])
                    K, uni = uniform_cells(f, family, eps, s["rtol"], s["max_evals"], size_kw)
                    res.add(family=family, n=n, eps=eps, adaptive_experts=moe.num_experts,
                            adaptive_certificate=moe.certificate.bound, lower=rep.lower, upper=rep.upper,
                            uniform_K=K, uniform_experts=K**n, uniform_upper=math.nan if uni is None else uni.upper,
                            ratio=K**n / moe.num_experts, theory_adaptive=-ADAPTIVE_EXPONENT[family, n],
                            theory_uniform=-n / f.alpha)
        res.finish()
    return res.outputs(figure(res.rows, out))


@plotting.styled
def figure(rows, out):
    """One panel per n: experts against certified ε for adaptive and uniform partitions of each
    family (one colour and marker per series). Theory exponents are dashed guides parallel to the
    data and beside it, labelled at their end: one grey guide per scheme where both families share
    the exponent (uniform above, adaptive below the data), else one per series in its colour. One
    legend below the panels with each series' fitted slopes panel by panel."""
    keys = sorted({(r["family"], scheme) for r in rows for scheme in ("adaptive", "uniform")})
    styles = plotting.series_styles(keys)
    fig, axes, groups = plotting.panels(rows, "n", legend_rows=len(keys) + 1)
    for ax, n, in_panel in groups:
        ax.set_xscale("log")
        ax.invert_xaxis()  # ε falls to the right
        families = sorted({r["family"] for r in in_panel})
        built = {(family, scheme): [r for r in in_panel if r["family"] == family and math.isfinite(r[f"{scheme}_experts"])]
                 for family in families for scheme in ("adaptive", "uniform")}
        for (family, scheme), sel in built.items():
            plotting.rate_plot(ax, [r["eps"] for r in sel], [r[f"{scheme}_experts"] for r in sel],
                               theory_slope=sel[0][f"theory_{scheme}"], label=f"{family} {scheme}", theory=None,
                               **styles[family, scheme])
        for scheme, side in (("uniform", "above"), ("adaptive", "below")):
            slopes = {f: built[f, scheme][0][f"theory_{scheme}"] for f in families if built[f, scheme]}
            if len(set(slopes.values())) == 1:
                sel = [r for f in slopes for r in built[f, scheme]]
                guide = plotting.slope_guide(ax, [r["eps"] for r in sel], [r[f"{scheme}_experts"] for r in sel],
                                             next(iter(slopes.values())), side=side, factor=1.6,
                                             text=f"{scheme}: slope {plotting.fraction(next(iter(slopes.values())))}")
                continue
            for i, (family, slope) in enumerate(slopes.items()):
                sel = built[family, scheme]
                plotting.slope_guide(ax, [r["eps"] for r in sel], [r[f"{scheme}_experts"] for r in sel], slope,
                                     side="above" if i == 0 else "below", factor=1.6, color=styles[family, scheme]["color"],
                                     text=f"slope {plotting.fraction(slope)}")
        ax.set_title(f"cusp, n = {n}")
        ax.set_xlabel(r"certified $\varepsilon$")
        ax.set_ylabel("experts L")
        plotting.log_ticks(ax)
    plotting.add_entry(axes[0], guide, "theory slope (dashed, beside the data; grey: both families)")
    plotting.figure_legend(fig, axes, ncol=1, panels=[n for _, n, _ in groups], theory=True)
    return plotting.save(fig, out / "exp08_adaptive_vs_uniform")
