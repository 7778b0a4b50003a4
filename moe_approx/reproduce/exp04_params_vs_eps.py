"""Experiment 4: active and total parameters against ε for several trade-off values r.

Theory (docs/theory.md §6, rates module): active ≍ ε^(−r); total ≍ ε^(−(n/α − r)) for the optimal
family, ε^(−n/α) for cpwl and constant. Designs are exact integer designs from ``rates.design``.
"""

from __future__ import annotations

import itertools

import numpy as np

from moe_approx import plotting, rates

from ._common import Results, available_families, design_row

SETTINGS = {
    "tiny": {"n": 2, "alpha": 1, "eps": [1e-2, 1e-3], "r": [0, 1]},
    "quick": {"n": 2, "alpha": 1, "eps": [1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5], "r": [0, 0.5, 1, 2]},
    "full": {"n": 2, "alpha": 1, "eps": list(np.logspace(-2, -8, 13)), "r": [0, 0.5, 1, 1.5, 2]},
}


def run(out, size="quick", force=False):
    s = SETTINGS[size] | {"families": available_families()}
    res = Results(out, "exp04_params_vs_eps", s, force)
    if not res.done:
        for family, r in itertools.product(s["families"], s["r"]):
            lo, hi = rates.r_range(family, s["n"], s["alpha"])
            if not lo <= r <= hi:
                continue
            rt = rates.rate(family, s["n"], s["alpha"])
            for eps in s["eps"]:
                d = rates.design(family, eps, r, s["n"], s["alpha"])
                res.add(**design_row(d, r=r, eps=eps, theory_active=float(rt.exponent["active params"].subs(rates.r, r)),
                                     theory_total=float(rt.exponent["total params"].subs(rates.r, r))))
        res.finish()
    return res.outputs(figure(res.rows, out))


def pre_asymptotic(row) -> bool:
    """Whether the design's expert is held at the family's smallest size although the budget ε^(−r)
    asks for a smaller one (``rates.design`` then takes t = 1): its active count cannot follow
    ε^(−r) yet, so the point lies before the asymptotic range and is not fitted."""
    return row["r"] > 0 and row["expert_params"] > row["eps"] ** -row["r"] * (1 + 1e-12)


def fits(rows) -> dict:
    """Per (family, r, count): (slope fitted on the asymptotic points, theory exponent, fitted points, all points)."""
    out = {}
    for family, r in sorted({(x["family"], x["r"]) for x in rows}):
        sel = [x for x in rows if (x["family"], x["r"]) == (family, r)]
        use = [x for x in sel if not pre_asymptotic(x)]
        for count in ("active", "total"):
            slope = plotting.fit_slope([1 / x["eps"] for x in use], [x[f"{count}_params"] for x in use]) if len(use) >= 3 \
                else float("nan")
            out[family, r, count] = (slope, sel[0][f"theory_{count}"], len(use), len(sel))
    return out


@plotting.styled
def figure(rows, out):
    """Active (top) and total (bottom) nonzero parameters against 1/ε, one column per family; colour
    and marker = r. Points before the asymptotic range (:func:`pre_asymptotic`) are hollow and not
    fitted; a point that coincides with one of a smaller r is drawn larger. Each theory exponent is
    a dashed line parallel to the data, 3× above its fitted points (in the series' colour, grey where
    several r share it), labelled at its end; each panel lists its fits in the series' colours."""
    from matplotlib.lines import Line2D

    families = [f for f in available_families() if f in {x["family"] for x in rows}]
    r_values = sorted({x["r"] for x in rows})
    style = {r: {"color": plotting.PALETTE[i], "marker": plotting.MARKERS[i]} for i, r in enumerate(r_values)}
    fitted = fits(rows)
    fig, axes = plotting.figure(len(families), nrows=2, legend_rows=4, double=True, squeeze=False, sharex="col")
    for column, family in enumerate(families):
        for ax, count in zip(axes[:, column], ("active", "total")):
            series = sorted({x["r"] for x in rows if x["family"] == family})
            drawn, lines = [], []  # the point sets of the series drawn so far; the fits' text
            for r in series:
                sel = [x for x in rows if (x["family"], x["r"]) == (family, r)]
                x_all, y_all = [1 / x["eps"] for x in sel], [x[f"{count}_params"] for x in sel]
                ax.plot(x_all, y_all, "-", color=style[r]["color"], lw=1.0)
                groups = {}  # (hollow, number of earlier series on the point) -> point indices
                for i, (point, x) in enumerate(zip(zip(x_all, y_all), sel)):
                    groups.setdefault((pre_asymptotic(x), min(3, sum(point in p for p in drawn))), []).append(i)
                for (hollow, shared), pick in sorted(groups.items()):  # larger and behind where it coincides
                    ax.plot([x_all[i] for i in pick], [y_all[i] for i in pick], linestyle="none", ms=4 * (1 + 0.6 * shared),
                            mfc="none" if hollow else style[r]["color"], zorder=2.5 - 0.1 * shared, gid=f"r={r}",
                            **style[r])
                drawn.append(set(zip(x_all, y_all)))
                slope, theory, used, total = fitted[family, r, count]
                fit = plotting.signed(slope) if slope == slope else "none"
                lines.append((f"r = {plotting.fraction(r).lstrip('+')}: {fit}, {plotting.fraction(theory)} ({used}/{total})",
                              style[r]["color"]))
            for theory in sorted({fitted[family, r, count][1] for r in series}):
                share = [r for r in series if fitted[family, r, count][1] == theory]
                use = [x for x in rows if x["family"] == family and x["r"] in share and not pre_asymptotic(x)]
                if use:  # no line where no point is in the asymptotic range
                    plotting.slope_guide(ax, [1 / x["eps"] for x in use], [x[f"{count}_params"] for x in use], theory,
                                         factor=3.0, color=style[share[0]]["color"] if len(share) == 1 else "0.3")
            plotting.corner_text(ax, [("fit, theory (points fitted)", "black")] + lines)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{family}: {count}")
            ax.set_ylabel(("active (loaded per input)" if count == "active" else "total") + "\nnonzero parameters")
        axes[1, column].set_xlabel(r"$1/\varepsilon$")
    for ax in axes.ravel():
        ax.margins(y=0.08)
        low, high = ax.get_ylim()
        ax.set_ylim(low, high * (high / low) ** 0.45)  # room above the data for the fits
        plotting.log_ticks(ax)
    proxies = [Line2D([], [], linestyle="-", **style[r]) for r in r_values]
    labels = [f"r = {plotting.fraction(r).lstrip('+')}" for r in r_values]
    proxies += [Line2D([], [], color="0.3", marker="o", mfc="none", linestyle="none"),
                Line2D([], [], color="0.3", marker="o", mfc="none", ms=8, linestyle="none"),
                Line2D([], [], color="0.3", linestyle="--", lw=0.9)]
    labels += ["hollow: before the asymptotic range (smallest expert above the budget "
               r"$\varepsilon^{-r}$), not fitted", "larger, behind: the same design as a smaller r",
               "theory line, 3× above the fitted points (grey: shared by several r)"]
    fig.legend(proxies, labels, loc="outside lower center", ncol=2 if len(r_values) >= 3 else 1,
               title="in each panel: fitted slope, theory slope (k/m: fitted on the k filled points of m)")
    return plotting.save(fig, out / "exp04_params_vs_eps")
