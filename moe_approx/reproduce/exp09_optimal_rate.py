"""Experiment 9: error of one optimal-rate expert against its parameters, up to float64's limit and past it.

Theory (docs/theory.md §4.4, §6): with A blocks of B cubes (sizes A = B = k) the expert has
P ≍ A + B parameters and error ≤ C (h/M)^α (1/2 + 2^−α) with M + 1 = ⌊(AB)^(1/n)⌋ cubes per side,
so error ≍ P^(−2/n). Float64 holds a block's 2(B − 1) encoded bits only for B ≤ 27; past that
the series continues in exact rational arithmetic (``moe_approx.exact``) on the same
construction, and a third series keeps B = 27 and grows A only (error ≍ P^(−1/n): the float64 rate).

The measured error is a brute-force lower bound: the largest |f − Φ| over a dense grid
(``grid`` points per cube side, at most ``max_points`` in all; float64) or over uniformly random points (exact arithmetic).
``upper`` is the proven bound ``optimal.error_bound``, not a branch-and-bound certificate.

A second table (``exp09_optimal_compare``) sets the families side by side at equal ε: exact
integer designs from ``rates.design`` (nonzero parameters, proven bounds), at r = 0, r_max/2, r_max.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

import moe_approx as ma
from moe_approx import plotting, rates
from moe_approx.exact import evaluate_exact
from moe_approx.experts import optimal

from ._common import Results, available_families, design_row

SETTINGS = {
    "tiny": {"target": "linf_distance", "float": {1: [3, 4, 6, 8, 12], 2: [4, 5, 6, 8, 10]}, "exact": {1: [28], 2: [28]},
             "capped": {1: [40], 2: []}, "grid": {1: 8, 2: 3}, "max_points": 4 * 10**4, "exact_points": {1: 60, 2: 20}},
    "quick": {"target": "linf_distance", "float": {1: [4, 6, 9, 13, 19, 27], 2: [8, 10, 12, 15, 18, 22]},
              "exact": {1: [32, 40], 2: []}, "capped": {1: [40, 60], 2: []},
              "grid": {1: 16, 2: 8}, "max_points": 10**5, "exact_points": {1: 300, 2: 0}},
    "full": {"target": "linf_distance", "float": {1: [4, 6, 9, 13, 19, 27], 2: [8, 10, 12, 15, 18, 22, 27]},
             "exact": {1: [32, 40, 52], 2: [32, 40]}, "capped": {1: [40, 60, 90, 135], 2: [60, 90]},
             "grid": {1: 16, 2: 8}, "max_points": 10**5, "exact_points": {1: 1000, 2: 800}},
}


def _error(f, net, n, M, arithmetic, settings, rng):
    """Largest |f − Φ| over a dense grid (float64) or random points (exact); and the number of points."""
    if arithmetic == "float64":
        side = np.linspace(0.0, 1.0, min(settings["grid"][n] * (M + 1), int(settings["max_points"] ** (1 / n))) + 1)
        x = np.stack(np.meshgrid(*[side] * n, indexing="ij"), -1).reshape(-1, n)
        chunks = [optimal.evaluate(net, x[i: i + 2**14][None])[0] for i in range(0, len(x), 2**14)]
        out = np.concatenate(chunks)
    else:
        x = rng.random((settings["exact_points"][n], n))
        out = np.vectorize(float)(evaluate_exact(net, x[None]))[0]
    return float(np.max(np.abs(out - np.asarray(f(x))))), len(x)


def run(out, size="quick", force=False):
    s = SETTINGS[size] | {"seed": 0, "limit_B": optimal.MAX_BLOCK_FLOAT64}
    res = Results(out, "exp09_optimal_rate", s, force)
    if not res.done:
        rng = np.random.default_rng(s["seed"])
        for n in (1, 2):
            f = ma.targets.get(s["target"], n=n)
            series = [("float64", k, k) for k in s["float"][n]] + [("exact", k, k) for k in s["exact"][n]]
            series += [("float64 B=27", A, s["limit_B"]) for A in s["capped"][n]]
            for name, A, B in series:
                start = time.perf_counter()
                arithmetic = "exact" if name == "exact" else "float64"
                build = optimal.build_exact if arithmetic == "exact" else optimal.build
                net = build(f, np.zeros((1, n)), np.ones((1, n)), A=A, B=B)
                M = optimal.grid_side(n, A, B)
                lower, points = _error(f, net, n, M, arithmetic, s, rng)
                bound = optimal.error_bound(f.alpha, f.constant, 1.0, n, A=A, B=B)
                res.add(n=n, target=f.name, series=name, arithmetic=arithmetic, A=A, B=B, M=M,
                        blocks=optimal.num_blocks(n, M, B), params=optimal.num_params(n, A=A, B=B),
                        nonzero=optimal.num_nonzero(n, A=A, B=B), depth=optimal.depth(n, A=A, B=B),
                        width=optimal.width(n, A=A, B=B), points=points, lower=lower, upper=bound,
                        proven_bound=bound, theory_slope=(-2 if name != "float64 B=27" else -1) * f.alpha / n,
                        seconds=round(time.perf_counter() - start, 3))
        res.finish(**slopes(res.rows))
    return res.outputs(figure(res.rows, out)) + compare(out, size, force)


def slopes(rows) -> dict:
    """Fitted log-log slopes of the measured error (and of the proven bound) against stored and
    nonzero parameters, per n and series."""
    out = {}
    for n in sorted({r["n"] for r in rows}):
        for label, names in (("float64", ("float64",)), ("float64+exact", ("float64", "exact")),
                             ("float64 B=27", ("float64 B=27",))):
            sel = [r for r in rows if r["n"] == n and r["series"] in names]
            if len(sel) >= 2:
                for count in ("params", "nonzero"):
                    for error in ("lower", "upper"):
                        out[f"n={n} {label}: {error} vs {count}"] = plotting.fit_slope(
                            [r[count] for r in sel], [r[error] for r in sel])
    return out


COMPARE = {"tiny": {"n": 2, "eps": [1e-2, 1e-3]}, "quick": {"n": 2, "eps": [1e-2, 1e-3, 1e-4, 1e-5, 1e-6]},
           "full": {"n": 2, "eps": [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]}}


def compare(out, size="quick", force=False):
    """Equal certified ε (proven bounds, exact integer designs from ``rates.design``): active and
    total parameters of each family at r ∈ {0, r_max/2, r_max} (docs/theory.md §6)."""
    s = COMPARE[size] | {"alpha": 1, "families": available_families()}
    res = Results(out, "exp09_optimal_compare", s, force)
    if not res.done:
        for family in s["families"]:
            r_max = float(rates.r_range(family, s["n"], s["alpha"])[1])
            for eps, r in itertools.product(s["eps"], sorted({0.0, r_max / 2, r_max})):
                d = rates.design(family, eps, r, s["n"], s["alpha"])
                res.add(**design_row(d, r=r, eps=eps, n=s["n"],
                                     float64_buildable=family != "optimal" or d.sizes["B"] <= optimal.MAX_BLOCK_FLOAT64))
        res.finish()
    return res.outputs(compare_figure(res.rows, out))


@plotting.styled
def compare_figure(rows, out):
    """Active and total nonzero parameters against 1/ε at equal proven ε: colour = family,
    marker = r; coinciding designs hollow (the legend says so); one legend below both panels with
    each series' fitted slopes (active, total)."""
    keys = sorted({(x["family"], x["r"]) for x in rows})
    styles = plotting.series_styles(keys, color_by=lambda k: k[0], marker_by=lambda k: k[1])
    fig, axes = plotting.figure(2, legend_rows=len(keys))
    for key in keys:
        sel = [x for x in rows if (x["family"], x["r"]) == key]
        for ax, count in zip(axes, ("active_params", "total_params")):
            plotting.rate_plot(ax, [1 / x["eps"] for x in sel], [x[count] for x in sel], label=f"{key[0]} r = {key[1]:g}",
                               **styles[key])
    for ax, title in zip(axes, ("active (one expert + router path)", "total")):
        ax.set_title(title)
        ax.set_xlabel(r"$1/\varepsilon$ (proven bound, n = 2, Lipschitz)")
        ax.set_ylabel(f"{title.split()[0]} nonzero parameters")
        plotting.log_ticks(ax)
    plotting.figure_legend(fig, axes, ncol=1, panels=["active", "total"], panel_name=None)
    return plotting.save(fig, out / "exp09_optimal_compare")


@plotting.styled
def figure(rows, out):
    """One panel per n: the measured error (lower bounds on dense grids) of each series against
    the expert's nonzero parameters (the count of docs/theory.md §6), its theory slope dashed in the
    same colour beside the data (a series of 2 points gets no fit, only the theory guide), the
    proven bound dotted grey, float64's limit B = 27 as a grey vertical line; one legend below both
    panels."""
    series = (("float64", "o"), ("exact", "s"), ("float64 B=27", "^"))
    names = {"float64": "float64, A = B", "exact": "exact arithmetic, A = B", "float64 B=27": "float64, B = 27, A grows"}
    colours = dict(zip((name for name, _ in series), plotting.PALETTE))
    fig, axes = plotting.figure(2, legend_rows=5)
    for ax, n in zip(axes, (1, 2)):
        for name, marker in series:
            sel = [r for r in rows if r["n"] == n and r["series"] == name]
            if sel:
                plotting.rate_plot(ax, [r["nonzero"] for r in sel], [r["lower"] for r in sel],
                                   theory_slope=sel[0]["theory_slope"], label=names[name], marker=marker,
                                   color=colours[name], theory="below", factor=1.6)
        both = sorted((r for r in rows if r["n"] == n and r["series"] != "float64 B=27"), key=lambda r: r["nonzero"])
        bound, = ax.plot([r["nonzero"] for r in both], [r["proven_bound"] for r in both], ":", color="0.4", lw=1.0)
        plotting.add_entry(ax, bound, "proven bound (A = B)")
        limit = [r["nonzero"] for r in rows if r["n"] == n and r["series"] == "float64" and r["B"] == optimal.MAX_BLOCK_FLOAT64]
        if limit:
            line = ax.axvline(limit[0], color="0.6", linewidth=0.8)
            plotting.add_entry(ax, line, "B = 27: float64's limit")
        ax.set_title(f"n = {n}, " + r"$f(x) = \|x - p\|_\infty$")
        ax.set_xlabel("nonzero parameters of one expert")
        ax.set_ylabel(r"$\max |f-\Phi|$ (grid / random points)")
        plotting.log_ticks(ax)
    plotting.figure_legend(fig, axes, ncol=1, panels=[1, 2])
    return plotting.save(fig, out / "exp09_optimal_rate")
