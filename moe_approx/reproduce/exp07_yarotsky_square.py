"""Experiment 7: Yarotsky's sawtooth square f_m, uniform error against depth m.

Theory (docs/theory.md §4.3; Yarotsky 2017, Prop. 2): ‖f_m − x²‖_∞ = 2^(−2m−2) exactly on [0,1],
for the ReLU and the PReLU network alike. The certified bracket must contain it.
"""

from __future__ import annotations

import numpy as np

import moe_approx as ma
from moe_approx import plotting
from moe_approx.experts.yarotsky import square_network
from moe_approx.mlp import MLP

from ._common import Results

# Past m ≈ 9 the stated float64 margin of the enclosure (≈ 1e-11 here) exceeds rtol·2^(−2m−2):
# the bracket stays valid but no longer meets rtol.
RTOL = 1e-4  # relative width asked of each bracket
SETTINGS = {"tiny": {"m": [1, 2, 3]}, "quick": {"m": list(range(1, 10))}, "full": {"m": list(range(1, 17))}}
# |x² − y²| ≤ 2|x − y| on [0, 1]; s = 2 with D = 2 ((x²)' = 2x is 2-Lipschitz): the evaluator's
# first-order bound then needs boxes of width ∝ 2^(−m), not 4^(−m) (docs/theory.md §5).
SQUARE = ma.HolderTarget(lambda x: x[..., 0] ** 2, 1, 1.0, 2.0, "square", 2.0, 2.0)


def stack(net: MLP) -> MLP:
    """A single network as a stack of one expert."""
    return MLP(tuple((w[None], b[None]) for w, b in net.layers), tuple(a[None] for a in net.slopes), net.activation)


def run(out, size="quick", force=False):
    s = SETTINGS[size] | {"rtol": RTOL, "max_evals": 2**20}
    res = Results(out, "exp07_yarotsky_square", s, force)
    if not res.done:
        for activation in ("relu", "prelu"):
            for m in s["m"]:
                net = square_network(m, activation)
                moe = ma.MixtureOfExperts(ma.GridPartition(1, 1), stack(net))
                report = ma.sup_error(SQUARE, moe, rtol=s["rtol"], max_evals=s["max_evals"])
                res.add(activation=activation, m=m, depth=net.depth, width=net.width, params=net.num_params,
                        lower=report.lower, upper=report.upper, certified=report.certified,
                        exact=2.0 ** (-2 * m - 2), evaluations=report.evaluations)
        res.finish()
    return res.outputs(figure(res.rows, out))


@plotting.styled
def figure(rows, out):
    """The certified bracket of each network relative to the exact error, (bracket − 2^(−2m−2)) /
    2^(−2m−2) in units of 10^(−5), against m: ReLU and PReLU side by side, the exact value at 0
    (dashed), the requested relative width rtol dotted."""
    unit = 1e-5
    fig, ax = plotting.figure(legend_rows=4)
    for activation, shift in (("relu", -0.13), ("prelu", 0.13)):
        sel = [r for r in rows if r["activation"] == activation]
        m = np.array([r["m"] for r in sel], float)
        exact = 2.0 ** (-2 * m - 2)
        low = (np.array([r["lower"] for r in sel]) / exact - 1) / unit
        high = (np.array([r["upper"] for r in sel]) / exact - 1) / unit
        colour = plotting.PALETTE[0 if activation == "relu" else 3]
        bars = ax.errorbar(m + shift, (low + high) / 2, yerr=(high - low) / 2, fmt="none", ecolor=colour, elinewidth=1.6,
                           capsize=3, capthick=1.2)
        plotting.add_entry(ax, bars, f"{'ReLU' if activation == 'relu' else 'PReLU'} network: certified bracket")
    exact_line = ax.axhline(0, color="k", linestyle="--", lw=0.9)
    plotting.add_entry(ax, exact_line, r"exact error $2^{-2m-2}$ (Yarotsky)")
    width = ax.axhline(RTOL / unit, color="0.4", linestyle=":", lw=1.0)
    plotting.add_entry(ax, width, "relative width asked for (rtol)")
    ax.set_xticks(sorted({r["m"] for r in rows}))
    ax.set_xlabel("sawtooth depth m")
    ax.set_ylabel("relative deviation of the bracket\n" + r"from $2^{-2m-2}$ [$10^{-5}$]")
    plotting.legend(ax)
    return plotting.save(fig, out / "exp07_yarotsky_square")
