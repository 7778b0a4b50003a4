"""A mixture of experts to a certified uniform tolerance (docs/theory.md §5).

Chebfun-style adaptivity: start from the coarsest :class:`DyadicPartition`, certify every new
cell by branch and bound (:func:`moe_approx.certify.branch_and_bound`), split only the cells whose
certified bound exceeds eps into their 2^n children, build experts for the children only, and
repeat until every cell is certified. A rough spot (the cusp |x₁ − 1/3|^(1/2)) gets small cells,
the rest stays coarse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import experts as _experts
from ._progress import default_progress
from ._checks import check_int, check_positive, check_target
from .assumptions import Assumptions, check_assumptions
from .calculus import parallel
from .mlp import check_activation, concat_stacks, index_stack
from .moe import MixtureOfExperts
from .partition import DyadicPartition
from .targets.vector import is_vector
from .certify import basis, branch_and_bound, is_formula


class ApproximationError(RuntimeError):
    """eps could not be certified within ``max_experts`` experts or ``max_evals`` evaluations.

    ``mixture``: the best mixture reached (a :class:`MixtureOfExperts` whose ``certificate`` holds the
    proven per-cell bounds, some above eps, and ``bound`` = their maximum), or None.
    """

    def __init__(self, message: str, mixture=None):
        super().__init__(message)
        self.mixture = mixture


@dataclass(frozen=True)
class Certificate:
    """Proof attached to :func:`approximate`'s result: sup_{[0,1]^n} |f − Φ| <= ``bound`` <= ``eps``
    (docs/theory.md §5).

    Attributes
    ----------
    bound : float
        The proven bound on the uniform error, the largest of ``cell_bounds``.
    eps : float
        The tolerance asked for.
    rtol : float
        The relative tolerance of each cell's branch and bound.
    evaluations : int
        Boxes evaluated over all ``rounds`` of refinement.
    rounds : int
        Rounds of refinement (split, rebuild, certify).
    seconds : float
        Wall time of the call.
    cell_bounds : ndarray of shape (L,)
        ``cell_bounds[i]`` is the proven bound on cell i.
    assumptions : Assumptions, tuple or None
        What the proof is conditional on: the declared constants, checked on sampled pairs in
        every final cell before the certificate was issued; None for a formula target, whose
        bounds are rigorous interval enclosures; for a vector target, the tuple of its components'.
    basis : str
        "rigorous: from the formula" (docs/theory.md §9) or "conditional on the declared
        constants".

    Examples
    --------
    >>> import moe_approx as ma
    >>> moe = ma.approximate(ma.targets.get("kink", n=1), 0.1, expert="constant", progress=False)
    >>> cert = moe.certificate
    >>> cert.bound <= cert.eps, bool(cert.bound == cert.cell_bounds.max())
    (True, True)
    >>> cert.cell_bounds.shape == (moe.num_experts,), cert.assumptions.cells == moe.num_experts
    (True, True)
    """

    bound: float
    eps: float
    rtol: float
    evaluations: int
    rounds: int
    seconds: float
    cell_bounds: np.ndarray = field(repr=False)
    assumptions: Assumptions | None = field(default=None, repr=False)
    basis: str = ""


class _ProgressBar:
    """One tqdm bar for the whole refinement: cells certified <= eps out of the current cells."""

    def __init__(self, eps: float):
        from tqdm.auto import tqdm

        self.eps = eps
        self.bar = tqdm(total=1, unit="cell", desc=f"approximate (cells certified <= {eps:g})")

    def step(self, cells: int, certified: int, evaluations: int, rounds: int):
        """Show the state between rounds; returns the callback for the round's branch and bound."""

        def update(state=None):
            done = certified + (int(np.sum(state.cell_upper_all() <= self.eps)) if state is not None else 0)
            self.bar.total, self.bar.n = cells, min(done, cells)
            self.bar.set_postfix(round=rounds, evals=evaluations + (state.evaluations if state is not None else 0))
            self.bar.refresh()

        update()
        return update

    def close(self):
        self.bar.close()


def _route(target, expert: str) -> str:
    """What to try next after a failed ``approximate`` (docs/theory.md §5, §9)."""
    hints = ["raise max_experts/max_evals"]
    if not is_formula(target):
        hints.append("give the target as a formula (ma.targets.from_sympy), whose interval enclosures bound f on "
                     "each box without the declared C and are often much tighter")
    if expert == "constant":
        hints.append("use expert='cpwl' (error O(h^2) for smooth f instead of O(h))")
    return "Try: " + "; or ".join(hints) + "."


def approximate(target, eps: float, expert: str = "cpwl", max_experts: int = 2**14, activation: str = "relu", *,
                rtol: float = 0.1, max_evals: int = 2**24, cell_evals: int = 2**12, progress=None, **size) -> MixtureOfExperts:
    """A MixtureOfExperts with sup |f − Φ| <= eps, proven; its ``certificate`` holds the proof.

    Adaptive dyadic refinement (docs/theory.md §5): a cell is split when its certified bound exceeds
    eps, when a point with error > eps/(1 + rtol) is found in it, or when its branch and bound has
    used ``cell_evals`` evaluations (a cell whose error lies just under eps is cheaper to split
    than to certify).

    A :class:`~moe_approx.targets.VectorTarget` f = (f_1, …, f_m) is approximated in the ℓ∞ norm
    over components, max_j sup |f_j − Φ_j| <= eps (docs/theory.md §5, vector targets): every cell
    is certified for each component and split when any component needs it; the experts are the
    components' composed in parallel (m outputs, ``moe.component(j)``).

    Parameters
    ----------
    target : HolderTarget, FormulaTarget or VectorTarget
        f; with a formula the certificate rests on no declared constant (docs/theory.md §9).
    eps : float
        The tolerance, > 0.
    expert : {"constant", "cpwl", "yarotsky", "optimal"}, default "cpwl"
        The expert family (its size keywords go in ``**size``; see :func:`build_moe`).
    max_experts, max_evals, cell_evals : int
        Budgets: experts in all, box evaluations in all, box evaluations per cell and round.
    activation : {"relu", "prelu"}
    rtol : float, default 0.1
        Relative tolerance of each cell's branch and bound.
    progress : bool or None
        One tqdm bar: cells certified <= eps out of the current cells, rounds and evaluations;
        None (default): shown when stderr is a terminal or in a Jupyter kernel.

    Returns
    -------
    MixtureOfExperts
        With ``certificate`` (:class:`Certificate`): ``bound`` <= eps, per-cell bounds, the
        evaluations spent, and what the proof rests on (``basis``, ``assumptions``).

    Raises
    ------
    ApproximationError
        Rather than return an uncertified result, when more than ``max_experts`` experts or
        ``max_evals`` evaluations would be needed: the message says how far it got and what to try,
        and ``.mixture`` holds the mixture reached, with its proven per-cell bounds.
    AssumptionError
        When a sampled pair contradicts the target's declared constants.
    TypeError, ValueError
        For arguments of the wrong type or range, and for ``expert="optimal"`` (its bounds are
        vacuous in float64: use :func:`build_moe` and :func:`sup_error`).

    Examples
    --------
    >>> import moe_approx as ma
    >>> moe = ma.approximate(ma.targets.get("cusp", n=1), 0.05, expert="constant")
    >>> moe.certificate.bound <= 0.05, moe.certificate.basis
    (True, 'conditional on the declared constants')
    """
    components = target.components if is_vector(target) else (check_target(target),)
    if expert == "optimal":
        raise ValueError("expert='optimal' cannot be certified by approximate: its bit-extraction experts have "
                         "Lipschitz constants near 1e10 on every cell, so no float64 branch and bound closes a bound "
                         "below eps (docs/theory.md §4.4). Build it with build_moe(..., expert='optimal') and bound it "
                         "with sup_error (its limited_by says why the bracket stops), or use 'cpwl' or 'yarotsky'.")
    eps = check_positive(eps, "eps")
    rtol = check_positive(rtol, "rtol")
    max_experts = check_int(max_experts, "max_experts")
    max_evals = check_int(max_evals, "max_evals")
    cell_evals = check_int(cell_evals, "cell_evals")
    family = _experts.get(expert)
    size = _experts.check_size(family, size)
    check_activation(activation)
    start = time.perf_counter()
    n = target.n
    partition = DyadicPartition(n, 0)
    nets = [family.build(c, *partition.all_bounds(), activation=activation, **size) for c in components]
    bounds = np.full(partition.num_cells, np.nan)
    new = np.arange(partition.num_cells)
    evaluations = rounds = 0

    def threshold(state):  # a cell is done once certified <= eps or shown to exceed eps/(1 + rtol)
        return np.where(state.cell_lower * (1 + rtol) > eps, np.inf, eps)

    bar = _ProgressBar(eps) if default_progress(progress) else None
    while True:
        rounds += 1
        lo, hi = partition.all_bounds()
        step = None if bar is None else bar.step(partition.num_cells, int(np.sum(bounds <= eps)), evaluations, rounds)
        worst = np.zeros(len(new))
        for component, net in zip(components, nets):  # a cell over eps for one component is split anyway
            todo = worst <= eps
            run = new[todo]
            if run.size:
                state = branch_and_bound(component, lo[run], hi[run], index_stack(net, run), threshold,
                                         max(max_evals - evaluations, len(run)), step, family=family, size=size,
                                         cell_evals=cell_evals)
                evaluations += state.evaluations
                worst[todo] = np.maximum(worst[todo], state.cell_upper_all())
        bounds[new] = worst
        failed = np.nonzero(~(bounds <= eps))[0]
        if not failed.size:
            break
        grown = partition.num_cells + failed.size * (2**n - 1)
        if grown > max_experts or evaluations >= max_evals:
            if bar is not None:
                bar.close()
            limit = (f"max_experts={max_experts} (the next refinement needs {grown})" if grown > max_experts
                     else f"max_evals={max_evals}")
            partial = MixtureOfExperts(partition, _joined(nets), expert, size)
            partial.certificate = Certificate(float(np.nanmax(bounds)), eps, rtol, evaluations, rounds,
                                              time.perf_counter() - start, bounds, None, _basis(components))
            raise ApproximationError(
                f"eps={eps:g} not certified within {limit}: after {rounds} round(s), {partition.num_cells} experts, "
                f"{partition.num_cells - failed.size} cells certified <= eps, {failed.size} not "
                f"(largest cell bound {np.nanmax(bounds):.4g}, finest level {partition.max_level}, "
                f"{evaluations} evaluations). The mixture reached is attached as .mixture. {_route(components[0], expert)}",
                partial,
            )
        keep = np.setdiff1d(np.arange(partition.num_cells), failed)
        partition = partition.refine(failed)  # kept cells in order, then the children
        lo, hi = partition.all_bounds()
        children = [family.build(c, lo[len(keep):], hi[len(keep):], activation=activation, **size) for c in components]
        nets = [concat_stacks(index_stack(net, keep), child) if keep.size else child for net, child in zip(nets, children)]
        bounds = np.concatenate([bounds[keep], np.full(partition.num_cells - keep.size, np.nan)])
        new = np.arange(keep.size, partition.num_cells)
    if bar is not None:
        bar.step(partition.num_cells, partition.num_cells, evaluations, rounds)
        bar.close()
    assumptions = tuple(None if is_formula(c) else check_assumptions(
        c, *partition.all_bounds(), uses_derivative=c.smoothness is not None) for c in components)
    moe = MixtureOfExperts(partition, _joined(nets), expert, size)
    moe.certificate = Certificate(float(bounds.max()), eps, rtol, evaluations, rounds, time.perf_counter() - start, bounds,
                                  assumptions if is_vector(target) else assumptions[0], _basis(components))
    return moe


def _joined(nets):
    """The experts of the components composed in parallel (m outputs), or the one stack of a scalar target."""
    return parallel(*nets) if len(nets) > 1 else nets[0]


def _basis(components) -> str:
    """What the certificate rests on: rigorous only when every component is a formula (docs/theory.md §9)."""
    return basis(components[0]) if all(is_formula(c) == is_formula(components[0]) for c in components) else basis(None)
