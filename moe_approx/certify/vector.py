"""The certified bracket for a vector target f: [0,1]^n → R^m (docs/theory.md §5, vector targets).

The error is measured in the ℓ∞ norm over the components,

    ‖f − Φ‖ = sup_x max_j |f_j(x) − Φ_j(x)| = max_j sup_x |f_j(x) − Φ_j(x)|

(the two maxima commute), so it is bracketed componentwise: the component brackets
[lower_j, upper_j] (each by :func:`~moe_approx.sup_error` on f_j and ``moe.component(j)``) give
[max_j lower_j, max_j upper_j]. Certified when upper − lower <= rtol·lower + atol.

Components run in decreasing order of an error sampled in every cell, each with ``floor`` = the
largest error L attained so far: its boxes close once their bounds are <= L (1 + rtol) + atol, so a
component with a small error closes at once. This is enough: if every upper_j <= L (1 + rtol) + atol with
L <= lower = max_j lower_j, then upper − lower <= rtol·lower + atol.
"""

from __future__ import annotations

import time

import numpy as np

from .._checks import check_network
from ..moe import as_mixture
from ..targets.vector import is_vector
from .report import SupErrorReport, basis


def is_vector_problem(target, moe) -> bool:
    """True when ``target`` is a VectorTarget or ``moe`` has more than one output."""
    outputs = getattr(moe, "m", None) or getattr(moe, "out_dim", 1)
    return is_vector(target) or outputs > 1


def _checked(target, moe):
    """(target, mixture) with m outputs each, on one n; else TypeError/ValueError naming the argument."""
    moe = as_mixture(check_network(moe, "moe"))
    if not is_vector(target):
        raise TypeError(f"moe has {moe.m} outputs: target must be a VectorTarget with {moe.m} components "
                        f"(ma.targets.VectorTarget([...]) or ma.targets.from_sympy([...], n)), got {type(target).__name__}")
    if target.n != moe.n:
        raise ValueError(f"target is defined on n={target.n} but the MoE on n={moe.n}")
    if target.m != moe.m:
        raise ValueError(f"target has m={target.m} components but the MoE has {moe.m} outputs")
    return target, moe


SAMPLES_PER_CELL = 4  # points per cell, besides its centre, at which the components' errors are compared


def _order(target, moe, cells) -> np.ndarray:
    """The components by decreasing |f_j − Φ_j| sampled in every cell (its centre and SAMPLES_PER_CELL
    points at the same fixed offsets in each cell): the largest error first."""
    lo, hi = moe.partition.all_bounds()
    if cells is not None:
        try:
            lo, hi = lo[np.asarray(cells)], hi[np.asarray(cells)]
        except (IndexError, TypeError, ValueError):  # bad cells: sup_error names them (ValueError) on the first run
            return np.arange(target.m)
    offsets = np.vstack([np.full(moe.n, 0.5), np.random.default_rng(0).uniform(0.05, 0.95, (SAMPLES_PER_CELL, moe.n))])
    x = (lo[:, None, :] + (hi - lo)[:, None, :] * offsets).reshape(-1, moe.n)
    error = np.abs(np.asarray(target(x)) - np.asarray(moe(x)).reshape(len(x), -1))
    return np.argsort(-error.max(axis=0), kind="stable")


def vector_sup_error(scalar, target, moe, rtol, max_evals, *, atol, bound, cells, progress, loop) -> SupErrorReport:
    """The bracket of ‖f − Φ‖ = max_j sup |f_j − Φ_j| (module docstring), ``scalar`` being :func:`sup_error`.

    ``max_evals`` is the budget of each component. The report's ``component_lower`` and
    ``component_upper`` (m,) bracket each component's error, and ``components`` holds their reports;
    a component's bracket is only as tight as the maximum needs (for a tight one, call ``sup_error``
    on ``target.components[j]`` and ``moe.component(j)``).
    """
    target, moe = _checked(target, moe)
    start = time.perf_counter()
    reports, floor = [None] * moe.m, 0.0
    for j in _order(target, moe, cells):
        reports[j] = scalar(target.components[j], moe.component(j), rtol, max_evals, atol=atol, bound=bound, loop=loop,
                            cells=cells, progress=progress, floor=floor)
        floor = max(floor, reports[j].lower)
    lows, ups = (np.array([getattr(r, key) for r in reports]) for key in ("lower", "upper"))
    best, lower, upper = int(np.argmax(lows)), float(lows.max()), float(ups.max())
    atol_ = 0.0 if atol is None else atol
    certified = upper - lower <= rtol * lower + atol_
    ran_out = [r for r in reports if r.limited_by == "budget" and r.upper > lower * (1 + rtol) + r.resolution]
    limited_by = None if certified else ("budget" if ran_out else "float64")
    stacked = {key: np.max([getattr(r, key) for r in reports], axis=0) for key in ("cell_lower", "cell_upper", "lipschitz")}
    bases = {basis(c) for c in target.components}
    return SupErrorReport(
        lower=lower, upper=upper, argmax=reports[best].argmax, evaluations=sum(r.evaluations for r in reports),
        certified=certified, seconds=time.perf_counter() - start, limited_by=limited_by,
        resolution=max(r.resolution for r in reports), boxes=sum(r.boxes for r in reports), rtol=rtol, atol=atol_,
        affine_evaluations=sum(r.affine_evaluations for r in reports),
        probe_evaluations=sum(r.probe_evaluations for r in reports), **stacked, assumptions=None,
        basis=bases.pop() if len(bases) == 1 else basis(None), component_lower=lows, component_upper=ups,
        components=tuple(reports),
    )
