"""The certified bracket and what ``certified`` means (docs/theory.md §5)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..assumptions import Assumptions


@dataclass(frozen=True)
class SupErrorReport:
    """Bracket ``lower <= sup|f − Φ| <= upper`` returned by :func:`sup_error` (docs/theory.md §5);
    ``certified`` when ``upper − lower <= rtol·lower + atol``, ``atol`` being the user's (0 by default).

    Attributes
    ----------
    lower : float
        |f − Φ| at ``argmax``: an error that is attained.
    upper : float
        The proven bound on sup_{[0,1]^n} |f − Φ|, the largest of ``cell_upper``.
    argmax : ndarray of shape (n,)
        The point where the error ``lower`` was found.
    evaluations : int
        Boxes evaluated (f, Φ and the Lipschitz bound at each).
    certified : bool
        Whether ``upper − lower <= rtol·lower + atol`` holds.
    seconds : float
        Wall time of the call.
    limited_by : {None, "budget", "float64"}
        Why an uncertified bracket stopped: the evaluations ran out with boxes open, or the bracket
        reached ``resolution`` (or a box could not be split further); None when certified.
    resolution : float
        The float64 resolution of f − Φ: ATOL_FACTOR times its largest rounding margin at the cell
        centres. The splitting stops there; it never makes a bracket certified.
    boxes : int
        The final boxes (leaves of the splitting tree) that cover the cube.
    rtol, atol : float
        The tolerance asked for (``atol`` 0 unless given).
    affine_evaluations : int
        Of the ``evaluations``, those that also got the affine-form enclosure.
    probe_evaluations : int
        Of the ``evaluations``, the points near the corners of the best boxes, for the lower end
        (docs/theory.md §5, corner probes).
    device_steps : int
        Branch-and-bound steps run by the compiled loop (``loop``; 0: all on the host).
    cell_lower, cell_upper : ndarray of shape (L,)
        The same bracket per cell: the upper bounds are proven for every cell; the bracket meets
        ``rtol`` only for the cells that decide the global maximum.
    lipschitz : ndarray of shape (L,)
        The experts' Lipschitz bounds Λ_l used.
    assumptions : Assumptions or None
        What the bound is conditional on and how the declared constants were checked
        (docs/theory.md §5); None for a formula target.
    compilations : int
        XLA executables compiled during the call: 0 when every kernel was already compiled in this
        process or read from the persistent cache (:mod:`moe_approx._config`).
    cache_hits : int
        Executables read from the persistent compilation cache during the call.
    compile_seconds : float
        Of ``seconds``, those spent tracing, lowering and compiling (or reading the cache).
    basis : str
        "rigorous: from the formula" (interval enclosures, docs/theory.md §9) or "conditional on
        the declared constants".
    component_lower, component_upper : ndarray of shape (m,) or None
        For a vector target (docs/theory.md §5, vector targets): the bracket of each component's
        error sup|f_j − Φ_j|; ``lower``/``upper`` are their maxima (the ℓ∞ norm over components).
        None for a scalar target.
    components : tuple of SupErrorReport
        For a vector target, each component's report (``assumptions`` is then None: each
        component's are in its report); empty for a scalar target.

    Examples
    --------
    Constant experts on a 4 × 4 grid approximate the cone with error C·h/2 = 1/8:

    >>> import moe_approx as ma
    >>> f = ma.targets.get("cone", n=2)
    >>> report = ma.sup_error(f, ma.build_moe(f, ma.GridPartition(2, 4)), rtol=1e-2)
    >>> report.certified, report.lower <= 1 / 8 <= report.upper, report.cell_upper.shape
    (True, True, (16,))
    >>> bool(report.upper == report.cell_upper.max()), report.assumptions.cells
    (True, 16)
    """

    lower: float
    upper: float
    argmax: np.ndarray
    evaluations: int
    certified: bool
    seconds: float
    limited_by: str | None = None
    resolution: float = math.nan
    boxes: int = 0
    rtol: float = math.nan
    atol: float = math.nan
    affine_evaluations: int = 0
    probe_evaluations: int = 0
    device_steps: int = 0
    cell_lower: np.ndarray = field(default=None, repr=False)
    cell_upper: np.ndarray = field(default=None, repr=False)
    lipschitz: np.ndarray = field(default=None, repr=False)
    assumptions: Assumptions | None = field(default=None, repr=False)
    basis: str = ""
    component_lower: np.ndarray | None = field(default=None, repr=False)
    component_upper: np.ndarray | None = field(default=None, repr=False)
    components: tuple = field(default=(), repr=False)
    compilations: int = 0
    cache_hits: int = 0
    compile_seconds: float = 0.0


def close_limit(lower, rtol, offset, floor, additive, xp=np):
    """The upper bound at which a box closes (:class:`.driver.Threshold`), for numpy (``xp=np``) or jax.numpy:
    L·(1 + rtol) + offset with a user's atol (``additive`` 1), L + max(rtol·L, offset) with the resolution."""
    L = xp.maximum(lower, floor)
    return xp.where(additive > 0, L * (1 + rtol) + offset, L + xp.maximum(rtol * L, offset))


def _verdict(st, upper, rtol, atol, resolution) -> tuple[bool, str | None]:
    """(certified, limited_by) of a finished branch and bound (docs/theory.md §5).

    Certified: upper − lower <= rtol·lower + atol, atol being the user's (0 by default). Otherwise
    "float64" when the bracket is within the float64 resolution of f − Φ (or a box could not be split
    further) and no box was left open, else "budget".
    """
    width = upper - st.lower
    if width <= rtol * st.lower + atol:
        return True, None
    if not st.open_count and (st.float_limited or width <= rtol * st.lower + resolution):
        return False, "float64"
    return False, "budget"


def basis(target) -> str:
    """What a certificate for ``target`` rests on (docs/theory.md §5, §9)."""
    return "rigorous: from the formula" if is_formula(target) else "conditional on the declared constants"

def is_formula(target) -> bool:
    """True for a target given as a formula (FormulaTarget): its bounds come from interval enclosures
    of the formula, no declared constant is used (docs/theory.md §9)."""
    return hasattr(target, "enclose") and hasattr(target, "expr")
