"""Experiment 10: trained MoMLPs against one trained MLP and against the constructed mixture (regression).

The project's reading of the paper's empirical protocol (TMLR text; its full settings were not
reachable, so every setting is explicit here): data are the s^n vertices of the regular grid on
[0,1]^n; each run draws a random 80 % of them for training and keeps 20 % for testing. Models:

- ``trained_moe``: L = K^n experts (one per grid cell), each an MLP of ``depth`` affine maps and
  hidden width ``width``, trained on its cell's samples only (Algorithm 2 as we read it:
  moe_approx.train.fit_moe, full-batch Adam, ``steps`` steps);
- ``trained_mlp``: one MLP of the same depth whose stored parameters match the MoMLP's total
  (width from train.matching_width; the ratio is in the table, goal ±5 %);
- ``constructed_moe``: the explicit mixture (constant or Kuhn-CPwL experts, docs/theory.md §4.1–4.2)
  on a grid whose total stored parameters are closest to the MoMLP's (never trained).

Columns: test RMSE and test maximum error on the held-out vertices, and the certified sup error
over the whole cube as a bracket [lower, upper] (``sup_error``, docs/theory.md §5; ``certified`` says
whether the bracket met rtol within ``max_evals``), active and total parameters, training seconds.
Router count: the grid's thresholds (docs/theory.md §2). The trained networks of the first
``certify_runs`` runs are certified (all runs at full size, run 0 at quick size; the other rows
leave the bracket empty); the constructed mixture is the same in every run, so its bracket is
computed once and repeated in each run's row.
"""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import numpy as np

import moe_approx as ma
from moe_approx import plotting, train
from moe_approx.partition import grid_router_params

from ._common import Results

SETTINGS = {
    "tiny": {"dims": [1], "targets": ["kink"], "runs": 2, "K": {1: 4}, "samples_per_side": {1: 40},
             "width": 4, "depth": 2, "steps": 60, "certify_runs": 1, "max_evals": 2**11},
    "quick": {"dims": [1, 2], "targets": ["kink", "sine_product"], "runs": 2, "K": {1: 8, 2: 4},
              "samples_per_side": {1: 256, 2: 32}, "width": 8, "depth": 3, "steps": 400, "certify_runs": 1,
              "max_evals": 2**13},
    "full": {"dims": [1, 2, 3], "targets": ["kink", "cusp", "sine_product", "oscillatory"], "runs": 5,
             "K": {1: 16, 2: 8, 3: 4}, "samples_per_side": {1: 1024, 2: 64, 3: 16}, "width": 16, "depth": 3,
             "steps": 4000, "certify_runs": 5, "max_evals": 2**17},
}
COMMON = {"activation": "relu", "learning_rate": 1e-2, "test_fraction": 0.2, "rtol": 0.05, "seed": 0,
          "router_count": "grid thresholds"}
KINDS = ("trained_moe", "trained_mlp", "constructed_moe")


def constructed_design(n: int, total: int, activation: str) -> tuple[str, int, dict]:
    """(family, K, size) of the explicit mixture whose total stored parameters are closest to ``total``."""
    best = None
    for family, sizes in (("constant", [{}]), ("cpwl", [{"k": k} for k in range(1, 9)])):
        params = ma.experts.get(family).num_params
        for size, K in itertools.product(sizes, range(1, 257)):
            cells_total = K**n * params(n, activation, **size) + grid_router_params(n, K)[1]
            if cells_total > 8 * total:
                break
            gap = abs(math.log(cells_total / total))
            if best is None or gap < best[0]:
                best = (gap, family, K, size)
    return best[1:]


def _certify(target, net, settings):
    moe = ma.as_mixture(net)
    budget = max(settings["max_evals"], 4 * moe.num_experts)
    report = ma.sup_error(target, moe, rtol=settings["rtol"], max_evals=budget)
    return {"lower": report.lower, "upper": report.upper, "certified": report.certified}


UNCERTIFIED = {"lower": math.nan, "upper": math.nan, "certified": False}


def run(out, size="quick", force=False):
    settings = SETTINGS[size] | COMMON
    res = Results(out, "exp10_trained_regression", settings, force)
    if not res.done:
        for n, name in itertools.product(settings["dims"], settings["targets"]):
            _one_setting(res, settings, n, name)
        res.finish(**summary(res.rows))
    return res.outputs(figure(res.rows, Path(out)))


def _one_setting(res, settings, n, name):
    target = ma.targets.get(name, n=n)
    K, s, J, W, act = settings["K"][n], settings["samples_per_side"][n], settings["depth"], settings["width"], settings["activation"]
    part = ma.GridPartition(n, K)
    common = {"learning_rate": settings["learning_rate"], "test_fraction": settings["test_fraction"], "progress": False}
    expert_total = part.num_cells * train.mlp_params(n, W, J, act) + part.router_params_total
    mlp_width = train.matching_width(expert_total, n, J, act)
    family, K_c, size_c = constructed_design(n, expert_total, act)
    start = time.perf_counter()
    constructed = ma.build_moe(target, ma.GridPartition(n, K_c), expert=family, activation=act, **size_c)
    build_seconds = time.perf_counter() - start
    constructed_bracket = _certify(target, constructed, settings)
    bound = ma.experts.get(family).error_bound(target.alpha, target.constant, 1.0 / K_c, n, **size_c)
    for run_index in range(settings["runs"]):
        seed = settings["seed"] + run_index
        moe, rec = train.fit_moe(target, part, W, J, act, s, settings["steps"], seed, **common)
        mlp, rec_mlp = train.fit_mlp(target, mlp_width, J, act, s, settings["steps"], seed, **common)
        certify = run_index < settings["certify_runs"]
        Xte, yte = rec.test
        err_c = np.asarray(constructed(Xte)) - yte[:, 0]
        base = {"n": n, "target": name, "alpha": target.alpha, "run": run_index, "seed": seed,
                "samples": rec.samples, "test_samples": rec.test_samples, "steps": settings["steps"],
                "router_count": settings["router_count"]}
        rows = [
            ("trained_moe", moe, rec, f"K={K} W={W} J={J}", math.nan),
            ("trained_mlp", mlp, rec_mlp, f"W={mlp_width} J={J}", math.nan),
        ]
        for kind, net, r, design, proven in rows:
            net_moe = ma.as_mixture(net)
            res.add(**base, model=kind, design=design, experts=net_moe.num_experts,
                    active_params=net_moe.active_params, total_params=net_moe.total_params,
                    param_ratio=net_moe.total_params / expert_total, test_rmse=r.test_rmse,
                    test_max_error=r.test_max_error, **(_certify(target, net, settings) if certify else UNCERTIFIED),
                    proven_bound=proven, train_seconds=r.seconds)
        res.add(**base, model="constructed_moe", design=" ".join([family, f"K={K_c}"] + [f"{k}={v}" for k, v in size_c.items()]),
                experts=constructed.num_experts, active_params=constructed.active_params,
                total_params=constructed.total_params, param_ratio=constructed.total_params / expert_total,
                test_rmse=float(np.sqrt(np.mean(err_c**2))), test_max_error=float(np.max(np.abs(err_c))),
                **constructed_bracket, proven_bound=bound, train_seconds=build_seconds)


def summary(rows) -> dict:
    """Per (n, target) and model: mean test RMSE, mean test max error and the best certified upper end."""
    out = {}
    for n, name, kind in sorted({(r["n"], r["target"], r["model"]) for r in rows}):
        sel = [r for r in rows if (r["n"], r["target"], r["model"]) == (n, name, kind)]
        uppers = [r["upper"] for r in sel if math.isfinite(r["upper"])]
        out[f"n={n} {name} {kind}"] = {"test_rmse": float(np.mean([r["test_rmse"] for r in sel])),
                                       "test_max_error": float(np.mean([r["test_max_error"] for r in sel])),
                                       "certified_upper_min": min(uppers) if uppers else None,
                                       "total_params": sel[0]["total_params"]}
    return out


MODEL_NAMES = {"trained_moe": "trained MoMLP", "trained_mlp": "one trained MLP", "constructed_moe": "constructed mixture"}
TARGET_NAMES = {"kink": "$|x_1 - 1/3|$", "cusp": "$|x_1 - 1/3|^{1/2}$", "oscillatory": "oscillatory",
                "sine_product": {1: r"$\sin(\pi x)$", 2: r"$\sin(\pi x_1)\sin(\pi x_2)$",
                                 3: r"$\sin(\pi x_1)\sin(\pi x_2)\sin(\pi x_3)$"}}


def target_name(name: str, n: int) -> str:
    """The target in mathematical notation (its library name where none is known)."""
    plain = TARGET_NAMES.get(name, name)
    return plain.get(n, name) if isinstance(plain, dict) else plain


@plotting.styled
def figure(rows, out):
    """One panel per (n, target), one row per model: the certified bracket [lower, upper] of the sup
    error over the cube as a horizontal bar with caps (run 0; its numbers at the right), each
    run's test maximum error as a hollow circle just below the bar; a test error below the axis
    (0 up to rounding, where test vertices are CPwL nodes) is a triangle on the left edge."""
    from matplotlib.lines import Line2D

    settings = sorted({(r["n"], r["target"]) for r in rows})
    ncols = min(2, len(settings))
    nrows = -(-len(settings) // ncols)
    fig, axes = plotting.figure(ncols, nrows=nrows, double=True, squeeze=False)
    fig.set_size_inches(plotting.DOUBLE_COLUMN, 1.45 * nrows + 0.85)
    lowers = [v for r in rows for v in (r["lower"], r["test_max_error"]) if math.isfinite(v) and v > 1e-12]
    floor = 0.3 * min(lowers)
    highest = max(v for r in rows for v in (r["upper"], r["test_max_error"]) if math.isfinite(v))
    for ax, (n, name) in zip(axes.ravel(), settings):
        brackets = []
        for y, kind in enumerate(KINDS):
            sel = [r for r in rows if (r["n"], r["target"], r["model"]) == (n, name, kind)]
            colour = plotting.PALETTE[y]
            test = np.array([r["test_max_error"] for r in sel])
            ax.plot(test[test >= floor], [y + 0.22] * int(np.sum(test >= floor)), "o", mfc="none", color=colour, ms=4)
            ax.plot([floor] * int(np.sum(test < floor)), [y + 0.22] * int(np.sum(test < floor)), "<", mfc="none",
                    color=colour, ms=4)
            for r in [r for r in sel if math.isfinite(r["upper"])][:1]:
                low = max(r["lower"], floor)
                ax.errorbar([(low * r["upper"]) ** 0.5], [y], xerr=[[(low * r["upper"]) ** 0.5 - low],
                            [r["upper"] - (low * r["upper"]) ** 0.5]], fmt="none", ecolor=colour, elinewidth=2.2,
                            capsize=4, capthick=1.4)
                certified = r["certified"] in (True, "True")
                brackets.append((y, f"[{r['lower']:.3g}, {r['upper']:.3g}]" + ("" if certified else "\nbudget ran out")))
        ax.set_xscale("log")
        ax.set_xlim(floor / 1.5, highest * 2)
        ax.set_ylim(len(KINDS) - 0.4, -0.6)
        ax.set_yticks(range(len(KINDS)), [MODEL_NAMES[k] for k in KINDS])
        ax.grid(False, axis="y")
        numbers = ax.secondary_yaxis("right")  # each bracket's numbers beside its row
        numbers.set_yticks([y for y, _ in brackets], [t for _, t in brackets])
        numbers.tick_params(length=0, labelsize=plotting.STYLE["legend.fontsize"])
        for (y, _), label in zip(brackets, numbers.get_yticklabels()):
            label.set_color(plotting.PALETTE[y])
        ax.set_title(f"n = {n}, f = {target_name(name, n)}")
        ax.set_xlabel(r"$|f-\Phi|$ over $[0,1]^n$")
        plotting.log_ticks(ax)
    for ax in axes.ravel()[len(settings):]:
        ax.set_visible(False)
    proxies = [Line2D([], [], color="0.3", marker="|", ms=8, mew=1.4, lw=2.2),
               Line2D([], [], color="0.3", marker="o", mfc="none", linestyle="none"),
               Line2D([], [], color="0.3", marker="<", mfc="none", linestyle="none")]
    labels = [f"certified sup over the cube: bracket [lower, upper], run 0 (budget ran out: valid, wider than "
              f"{COMMON['rtol']:.0%})",
              "test max error on held-out grid vertices (each run)", "test max error below the axis (0 up to rounding)"]
    fig.legend(proxies, labels, loc="outside lower center", ncol=1)
    return plotting.save(fig, out / "exp10_trained_regression")
