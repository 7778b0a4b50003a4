"""``sup_error`` and ``box_bounds``: the public entry points of the certifier (docs/theory.md §5)."""

from __future__ import annotations

import time

import jax
import numpy as np

from .._compilation import reported
from .._checks import check_int, check_network, check_positive, check_target
from .._progress import default_progress
from ..boxes import covering_box
from ..assumptions import check_assumptions
from ..mlp import index_stack
from ..moe import as_mixture
from .driver import Threshold, branch_and_bound, family_of
from .evaluator import _Evaluator
from .report import SupErrorReport, _verdict, basis, is_formula
from .vector import is_vector_problem, vector_sup_error

ATOL_FACTOR = 4.0  # resolution = this times the largest float64 margin of f − Φ at the cell centres


BOUNDS = ("auto", "lipschitz", "per_axis", "affine", "linear", "kuhn")
LOOPS = ("auto", "host", "device")


@reported
def sup_error(target, moe, rtol: float = 1e-3, max_evals: int = 2**22, *, atol: float | None = None,
              bound: str = "auto", cells=None, progress=None, floor: float = 0.0,
              loop: str = "auto") -> SupErrorReport:
    """Certified bracket of sup_{[0,1]^n} |f − Φ| by branch and bound (docs/theory.md §5).

    Parameters
    ----------
    target : HolderTarget or VectorTarget
        f with its declared (α, C) (and (s, D) where declared); the certificate is conditional on them.
        A VectorTarget f: [0,1]^n → R^m (with a mixture of m outputs) is bracketed in the ℓ∞ norm
        max_j sup |f_j − Φ_j|, componentwise (:mod:`moe_approx.certify.vector`).
    moe : MixtureOfExperts or MLP
        Φ: any mixture, or a single network R^n → R^m (its one cell is the cube).
    rtol : float, default 1e-3
        Stop once ``upper − lower <= rtol·lower + atol``.
    max_evals : int, default 2**22
        Budget of box evaluations (of each component, for a vector target); at least the number of experts.
    atol : float or None
        Absolute floor of the bracket width, counted in ``certified``. None: 0 for ``certified``;
        the splitting then stops at ``resolution`` = ATOL_FACTOR times the largest float64 margin of
        f − Φ at the cell centres (about 1e-14 for |f| ~ 1), below which float64 cannot separate the
        bracket's ends, and such a bracket is reported with ``limited_by="float64"``.
    bound : {"auto", "lipschitz", "per_axis", "affine", "linear", "kuhn"}
        "auto": the per-axis Lipschitz bound on every box and a second bound where it can win (module
        docstring): the Kuhn-piece bound for cpwl experts in 2 <= n <= 4 (exact in Φ; docs/theory.md §5),
        the linear relaxation for experts of depth >= evaluator.LINEAR_DEPTH, the affine form otherwise. For comparisons: "lipschitz", the isotropic Λρ bound with boxes halved
        along their longest axes (the plain Lipschitz branch and bound); "per_axis", the per-axis
        bound alone; "affine", "linear" (CROWN-style relaxation, docs/theory.md §5) or "kuhn", that bound
        on every box besides the per-axis one. :func:`box_bounds` compares them on given boxes.
    cells : array_like of int, optional
        Bracket the sup over these cells only (per-cell arrays then follow this order). The sup over
        the cube is the max over cells, so processes that take disjoint sets of cells (one per host,
        e.g. ``cells = np.arange(L)[jax.process_index()::jax.process_count()]``) certify the whole
        cube together: lower = max of the lowers, upper = max of the uppers (README, several machines).
    progress : bool or None
        A tqdm bar of the cells decided, with evaluations and the running bracket; None (default):
        shown when stderr is a terminal or in a Jupyter kernel.
    floor : float, default 0
        An error known to be attained elsewhere (another output's): boxes close once their bound is
        <= max(lower, floor)·(1 + rtol) + atol; ``certified`` still judges this bracket alone.
    loop : {"auto", "host", "device"}
        Where the branch and bound's steps run: "host" (numpy steps around the kernels), "device" (a
        compiled loop, :mod:`moe_approx.certify.device_loop`, whenever the open set fills one of its
        batches) or "auto" (the device loop on an accelerator, the host loop on a CPU, where the device
        loop measured no faster and compiles for seconds per batch). Same bounds, same certificate;
        the boxes split differ (halved along one axis on the device), so the brackets differ within
        the tolerance.

    Returns
    -------
    SupErrorReport
        ``lower <= sup|f − Φ| <= upper``; ``certified`` is False when the budget or float64
        resolution stopped it first (``limited_by`` says which; ``upper`` is still a proven bound).

    Raises
    ------
    TypeError
        If ``target`` is not a HolderTarget or ``moe`` is neither a mixture nor an MLP.
    AssumptionError
        (a ValueError) If a sampled pair contradicts a declared constant (C, or D where declared).
    ValueError
        For a dimension mismatch, a bad ``rtol``/``atol``/``max_evals``/``bound``, non-finite values of
        f or Φ, or a sampled pair that violates the declared (α, C).

    Examples
    --------
    Constant experts on the Lipschitz cone: the error is exactly C·h/2 (docs/theory.md §4.1).

    >>> import moe_approx as ma
    >>> f = ma.targets.get("cone", n=2)
    >>> report = ma.sup_error(f, ma.build_moe(f, ma.GridPartition(2, 4)), rtol=1e-4)
    >>> report.certified, report.lower <= 1 / 8 <= report.upper
    (True, True)
    """
    if is_vector_problem(target, moe):  # ℓ∞ over the m components (certify/vector.py)
        return vector_sup_error(sup_error, target, moe, rtol, max_evals, atol=atol, bound=bound, cells=cells,
                                progress=progress, loop=loop)
    check_target(target)
    moe = as_mixture(check_network(moe, "moe"))
    if target.n != moe.n:
        raise ValueError(f"target is defined on n={target.n} but the MoE on n={moe.n}")
    rtol = check_positive(rtol, "rtol")
    max_evals = check_int(max_evals, "max_evals")
    if bound not in BOUNDS:
        raise ValueError(f"bound must be one of {BOUNDS}, got {bound!r}")
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {LOOPS}, got {loop!r}")
    if atol is not None and (isinstance(atol, bool) or not np.isfinite(atol) or atol < 0):
        raise ValueError(f"atol must be a finite number >= 0 or None, got {atol!r}")
    if isinstance(floor, bool) or not np.isfinite(floor) or floor < 0:
        raise ValueError(f"floor must be a finite number >= 0, got {floor!r}")
    progress = default_progress(progress)
    start = time.perf_counter()
    lo, hi = moe.partition.all_bounds()
    experts = moe.experts
    if cells is not None:
        cells = np.asarray(cells)
        if cells.ndim != 1 or cells.size == 0 or not np.issubdtype(cells.dtype, np.integer) or \
                cells.min() < 0 or cells.max() >= moe.num_experts or np.unique(cells).size != cells.size:
            raise ValueError(f"cells must be distinct cell indices in [0, {moe.num_experts}), got {cells!r}")
        lo, hi, experts = lo[cells], hi[cells], index_stack(jax.tree_util.tree_map(np.asarray, experts), cells)
    if max_evals < len(lo):
        raise ValueError(f"max_evals must be at least the number of cells ({len(lo)}), got {max_evals}")
    assumptions = None if is_formula(target) else check_assumptions(target, lo, hi,
                                                                     uses_derivative=target.smoothness is not None)
    threshold = Threshold(rtol, atol, ATOL_FACTOR, floor)  # boxes close at rtol, or at the float64 resolution (or atol)
    st = branch_and_bound(target, lo, hi, experts, threshold, max_evals, progress, family=family_of(moe, experts, lo, hi),
                          size=moe.size, bound=bound, loop=loop)
    cell_upper = st.cell_upper_all()
    upper = float(cell_upper.max())
    if st.lower > upper:
        raise RuntimeError(f"internal error: lower bound {st.lower!r} > upper bound {upper!r}; please report it")
    certified, limited_by = _verdict(st, upper, rtol, 0.0 if atol is None else atol, threshold.resolution)
    return SupErrorReport(
        lower=st.lower, upper=upper, argmax=st.argmax, evaluations=st.evaluations, certified=certified,
        seconds=time.perf_counter() - start, limited_by=limited_by, resolution=threshold.resolution,
        boxes=st.boxes, rtol=rtol, atol=0.0 if atol is None else atol, affine_evaluations=st.affine_evaluations,
        probe_evaluations=st.probe_evaluations, device_steps=st.device_steps,
        cell_lower=st.cell_lower, cell_upper=cell_upper, lipschitz=st.lipschitz, assumptions=assumptions,
        basis=basis(target),
    )


def box_bounds(target, moe, cell, lo, hi, method: str = "auto") -> np.ndarray:
    """Upper bounds of sup_B |f − Φ| on the boxes B = [lo_j, hi_j] of cells ``cell_j``, by one method.

    For comparing the per-box bounds of :func:`sup_error` on the same boxes (docs/theory.md §5):
    "lipschitz" (|f(c) − Φ(c)| + ω + Λρ), "per_axis" (Σ_i Λ_i r_i in place of Λρ), "affine" (the
    affine form), "linear" (the CROWN-style relaxation), "kuhn" (the pieces of cpwl experts), "auto"
    (the smallest of per_axis and, where ``sup_error`` would compute it, its second bound). Each box must lie in its cell.

    Parameters
    ----------
    target : HolderTarget
    moe : MixtureOfExperts or MLP
    cell : array_like of int, shape (N,)
    lo, hi : array_like, shape (N, n)
    method : {"auto", "lipschitz", "per_axis", "affine", "linear", "kuhn"}

    Returns
    -------
    numpy.ndarray of shape (N,)

    Examples
    --------
    >>> import numpy as np
    >>> import moe_approx as ma
    >>> f = ma.targets.get("cone", n=2)
    >>> moe = ma.build_moe(f, ma.GridPartition(2, 2), expert="cpwl")
    >>> lo, hi = np.array([[0.1, 0.1]]), np.array([[0.2, 0.2]])
    >>> [bool(ma.certify.box_bounds(f, moe, [0], lo, hi, m)[0] >= 0) for m in ("lipschitz", "affine")]
    [True, True]
    """
    if method not in BOUNDS:
        raise ValueError(f"method must be one of {BOUNDS}, got {method!r}")
    if is_vector_problem(target, moe):
        raise ValueError("box_bounds bounds one output: pass target.components[j] and moe.component(j)")
    check_target(target)
    moe = as_mixture(check_network(moe, "moe"))
    cell = np.asarray(cell, np.int64)
    lo, hi = np.atleast_2d(np.asarray(lo, np.float64)), np.atleast_2d(np.asarray(hi, np.float64))
    cell_lo, cell_hi = moe.partition.all_bounds()
    if lo.shape != hi.shape or lo.shape != (len(cell), moe.n) or np.any(lo > hi) or \
            np.any(lo < cell_lo[cell]) or np.any(hi > cell_hi[cell]):
        raise ValueError("lo, hi must be (N, n) boxes, each inside its cell")
    evaluate = _Evaluator(target, moe.experts, cell_lo, cell_hi, family_of(moe), moe.size, method)
    centre, radius = covering_box(lo, hi)
    fc, _, upper, _, grad, omega, _ = evaluate.points(cell, centre, radius)
    if method in ("lipschitz", "per_axis"):
        return upper
    second = evaluate.affine(cell, centre, radius, fc, grad)
    if method != "auto":
        return second
    return np.where(evaluate.wants_affine(cell, radius, omega), np.minimum(upper, second), upper)
