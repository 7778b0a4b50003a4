"""Experiment 12: the certified rate curve of a vector target against its scalar components.

f = (sin(3x₁), x₁x₂) on [0,1]² (a formula target: its certificates rest on no declared constant),
constant experts on K × K grids (docs/theory.md §4.1). The vector error is the ℓ∞ norm over the
components, max_j sup|f_j − Φ_j|, certified componentwise (docs/theory.md §5, vector targets); each
component's own mixture (``moe.component(j)``, the same experts) is certified alone beside it.
Against the number of experts the vector curve is the larger component's (slope −α/n = −1/2);
against the total nonzero parameters it lies m = 2 times further right (the experts of the
components run in parallel, the router is shared).
"""

from __future__ import annotations

import moe_approx as ma
from moe_approx import plotting

from ._common import Results

SETTINGS = {
    "tiny": {"K": [2, 4, 8]},
    "quick": {"K": [2, 4, 8, 16]},
    "full": {"K": [2, 4, 8, 16, 32, 64]},
}
FORMULAS = ["sin(3*x1)", "x1*x2"]
PANELS = (("experts", "number of experts L"), ("total_nonzero", "total nonzero parameters"))


def run(out, size="quick", force=False):
    settings = SETTINGS[size] | {"formulas": FORMULAS, "n": 2, "family": "constant", "rtol": 0.05, "max_evals": 2**20}
    res = Results(out, "exp12_vector_target", settings, force)
    if not res.done:
        f = ma.targets.from_sympy(FORMULAS, settings["n"], name="vector (ℓ∞ over components)")
        bound = ma.experts.get(settings["family"]).error_bound
        for K in settings["K"]:
            moe = ma.build_moe(f, ma.GridPartition(settings["n"], K), expert=settings["family"])
            certify = dict(rtol=settings["rtol"], max_evals=settings["max_evals"], progress=False)
            series = [(f.name, moe, ma.sup_error(f, moe, **certify), f.components)]
            series += [(c.name, moe.component(j), ma.sup_error(c, moe.component(j), **certify), [c])
                       for j, c in enumerate(f.components)]
            for name, mixture, report, parts in series:
                res.add(series=name, outputs=mixture.m, K=K, experts=mixture.num_experts,
                        total_nonzero=mixture.total_nonzero, total_params=mixture.total_params,
                        active_params=mixture.active_params, lower=report.lower, upper=report.upper,
                        certified=report.certified, evaluations=report.evaluations,
                        proven_bound=max(bound(c.alpha, c.constant, 1.0 / K, settings["n"]) for c in parts),
                        theory_slope=-1.0 / settings["n"])
        res.finish()
    return res.outputs(figure(res.rows, out))


@plotting.styled
def figure(rows, out):
    """Two panels, error against the number of experts and against the total nonzero parameters; one
    colour and marker per series (the vector and each component), each with its fitted slope and the
    theory slope −α/n (against L); one legend below the panels."""
    names = sorted({r["series"] for r in rows})
    styles = plotting.series_styles(names)
    fig, axes = plotting.figure(len(PANELS), legend_rows=len(names), double=True, squeeze=False)
    for ax, (x, label) in zip(axes[0], PANELS):
        for name in names:
            sel = sorted((r for r in rows if r["series"] == name), key=lambda r: r["K"])
            plotting.rate_plot(ax, [r[x] for r in sel], [r["lower"] for r in sel], [r["upper"] for r in sel],
                               sel[0]["theory_slope"], label=name, theory=None, **styles[name])
        ax.set_xlabel(label)
        ax.set_ylabel(r"certified $\max_j\|f_j-\Phi_j\|_\infty$")
        plotting.log_ticks(ax)
    plotting.figure_legend(fig, axes[0], panels=["against L", "against nonzero"], panel_name=None, theory=True, ncol=1)
    return plotting.save(fig, out / "exp12_vector_target")
