"""Experiment 1: uniform error against number of experts at fixed expert size.

Theory (docs/theory.md §6): on a K^n grid an expert family with error C·h^α·e(size) gives MoE error
∝ L^(−α/n) with L = K^n experts; for constant experts the bound is C (h/2)^α, for CPwL with k
sub-cells per side C (h/k)^α (docs/theory.md §4.1–4.2). Measured errors are certified brackets.

Both families run on ``kink`` and ``cusp`` in n = 1, 2, 3 (quick: K up to 8 in n = 3; full: up to
32). In n = 3 the error of cpwl is near its maximum on the whole plane x₁ = 1/3; the per-axis bounds
and the targets' declared per-axis constants keep the boxes wide along that plane (docs/theory.md §5,
per-axis bounds), so every point certifies within 2^13 evaluations per expert.

:func:`slopes` fits log error against log L per series; the sidecar's summary stores those fits
beside the predicted −α/n (the README's table of experiment 1 is rendered from it).
"""

from __future__ import annotations

import itertools

import numpy as np

import moe_approx as ma
from moe_approx import plotting

from ._common import Results, available_families

SETTINGS = {
    "tiny": {"dims": [1, 2], "targets": ["kink", "cusp"], "K": {1: [2, 4, 8], 2: [2, 4, 8]}},
    "quick": {"dims": [1, 2, 3], "targets": ["kink", "cusp"],
              "K": {1: [4, 8, 16, 32, 64, 128], 2: [2, 4, 8, 16, 32], 3: [2, 4, 8]}},
    "full": {"dims": [1, 2, 3], "targets": ["kink", "cusp"],
             "K": {1: [4, 16, 64, 256, 1024, 4096], 2: [2, 4, 8, 16, 32, 64, 128], 3: [2, 4, 8, 16, 32]}},
}
FAMILIES = ("constant", "cpwl")


def run(out, size="quick", force=False):
    families = [f for f in available_families() if f in FAMILIES]
    # the evaluation budget grows with L (2^13 per expert); cpwl on 32^3 cells of kink uses ~5e5 (about 15 per expert)
    settings = SETTINGS[size] | {"families": families, "rtol": 0.05, "max_evals": 2**21, "evals_per_expert": 2**13}
    res = Results(out, "exp01_error_vs_experts", settings, force)
    if not res.done:
        for family, n, name in itertools.product(families, settings["dims"], settings["targets"]):
            target = ma.targets.get(name, n=n)
            for K in settings["K"][n]:
                moe = ma.build_moe(target, ma.GridPartition(n, K), expert=family)
                budget = max(settings["max_evals"], settings["evals_per_expert"] * moe.num_experts)
                report = ma.sup_error(target, moe, rtol=settings["rtol"], max_evals=budget)
                bound = ma.experts.get(family).error_bound(target.alpha, target.constant, 1.0 / K, n, **moe.size)
                res.add(family=family, n=n, target=name, alpha=target.alpha, K=K, experts=moe.num_experts,
                        active_params=moe.active_params, total_params=moe.total_params, lower=report.lower,
                        upper=report.upper, certified=report.certified, evaluations=report.evaluations,
                        proven_bound=bound, theory_slope=-target.alpha / n)
        res.finish(slopes=slopes(res.rows))
    return res.outputs(figure(res.rows, out))


def slopes(rows) -> list[dict]:
    """Per (n, family, target) series, sorted: the least-squares slope of log error against log L
    (error = the bracket's geometric mean; None below 3 points), the predicted slope −α/n
    (docs/theory.md §6), the smallest and largest slope between consecutive points (None below 2),
    the smallest and largest ratio of the error to the proven bound, the number of points and of
    certified brackets.

    Parameters
    ----------
    rows : list of dict
        Rows with ``n``, ``family``, ``target``, ``experts``, ``lower``, ``upper``, ``certified``,
        ``proven_bound`` and ``theory_slope``, as :func:`run` writes them.

    Returns
    -------
    list of dict
        Keys ``n, family, target, points, certified, fitted, predicted, local_min, local_max,
        bound_ratio_min, bound_ratio_max``.
    """
    need = {"n", "family", "target", "experts", "lower", "upper", "certified", "proven_bound", "theory_slope"}
    if any(not isinstance(r, dict) or not need <= set(r) for r in rows):
        raise ValueError(f"rows must be dicts with the keys {sorted(need)}")
    out = []
    for key in sorted({(r["n"], r["family"], r["target"]) for r in rows}):
        sel = sorted((r for r in rows if (r["n"], r["family"], r["target"]) == key), key=lambda r: r["experts"])
        L = np.array([r["experts"] for r in sel], float)
        mid = np.sqrt(np.array([r["lower"] for r in sel], float) * np.array([r["upper"] for r in sel], float))
        local = np.diff(np.log(mid)) / np.diff(np.log(L))
        ratio = mid / np.array([r["proven_bound"] for r in sel], float)
        out.append({"n": key[0], "family": key[1], "target": key[2], "points": len(sel),
                    "certified": sum(r["certified"] in (True, "True") for r in sel),
                    "fitted": plotting.fit_slope(L, mid) if len(sel) >= 3 else None,
                    "predicted": sel[0]["theory_slope"], "local_min": float(local.min()) if len(local) else None,
                    "local_max": float(local.max()) if len(local) else None,
                    "bound_ratio_min": float(ratio.min()), "bound_ratio_max": float(ratio.max())})
    return out


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
