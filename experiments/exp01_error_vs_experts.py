"""Experiment 1: uniform error against number of experts at fixed expert size.

Theory (THEORY.md §6): on a K^n grid an expert family with error C·(h)^α·e(size) gives
MoE error ∝ L^(−α/n) with L = K^n experts; for constant experts error = C (h/2)^α.
"""

from __future__ import annotations

import itertools

import moe_approx as ma
from moe_approx import plotting

from _common import Results

SETTINGS = {
    "tiny": {"families": ["constant"], "dims": [1, 2], "targets": ["cone"], "K": {1: [2, 4, 8], 2: [2, 4, 8]}},
    "quick": {"families": ["constant"], "dims": [1, 2], "targets": ["cone"],
              "K": {1: [4, 16, 64, 256, 1024], 2: [2, 4, 8, 16, 32, 64]}},
    "full": {"families": ["constant"], "dims": [1, 2], "targets": ["cone"],
             "K": {1: [4, 16, 64, 256, 1024, 4096], 2: [2, 4, 8, 16, 32, 64, 128, 256]}},
}


def run(out, size="quick", force=False):
    settings = SETTINGS[size] | {"seed": 0, "max_evals": 2**18}
    res = Results(out, "exp01_error_vs_experts", settings, force)
    if not res.done:
        for family, n, name in itertools.product(settings["families"], settings["dims"], settings["targets"]):
            target = ma.targets.get(name, n=n)
            for K in settings["K"][n]:
                moe = ma.build_moe(target, ma.GridPartition(n, K), expert=family)
                report = ma.sup_error(target, moe, max_evals=settings["max_evals"])
                bound = ma.experts.get(family).error_bound(target.alpha, target.constant, 1.0 / K, n, **moe.size)
                res.add(family=family, n=n, target=name, alpha=target.alpha, K=K, experts=moe.num_experts,
                        active_params=moe.active_params, total_params=moe.total_params, lower=report.lower,
                        upper=report.upper, certified=report.certified, proven_bound=bound,
                        theory_slope=-target.alpha / n)
        res.finish()
    return [res.csv, res.json] + figure(res.rows, out)


def figure(rows, out):
    fig, ax = plotting.figure()
    groups = sorted({(r["family"], r["n"], r["target"]) for r in rows})
    for family, n, name in groups:
        sel = [r for r in rows if (r["family"], r["n"], r["target"]) == (family, n, name)]
        plotting.rate_plot(ax, [r["experts"] for r in sel], [r["lower"] for r in sel],
                           [r["upper"] for r in sel], sel[0]["theory_slope"], label=f"{family} n={n} {name}")
    ax.set_xlabel("number of experts L")
    ax.set_ylabel(r"uniform error $\|f-\Phi\|_\infty$")
    plotting.legend(ax)
    return plotting.save(fig, out / "exp01_error_vs_experts")
