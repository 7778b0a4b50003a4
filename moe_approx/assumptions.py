"""Checking a target's declared constants before a certificate is issued (docs/theory.md §5).

A certificate is conditional on the declared constants: (α, C) always, and the smoothness
s = k + β with its constant D wherever the first-order bound or a Taylor expert uses them
(docs/theory.md §2, §4.3, §5). :func:`check_assumptions` samples point pairs in every cell and
refuses the declaration when one pair contradicts it:

- Hölder: |f(x) − f(y)| ≤ C ‖x − y‖_∞^α;
- smoothness: the k-th partials exist and are finite, and |∂^γ f(x) − ∂^γ f(y)| ≤ D ‖x − y‖_∞^β
  for every |γ| = k (JAX autodiff: ∇f for k = 1, nested ``jax.jacfwd`` for k ≥ 2).

Pairs per cell, a quarter of each kind: two independent uniform points (far pairs), or a step
from a uniform point x along one coordinate axis, along a random sign vector, or along sign ∇f(x)
(autodiff; the direction where the ∞-norm Lipschitz constant sup Σ|∂_i f| is attained, which
random signs miss in high dimension), of length 10^−u times the cell's width with u uniform in
[0, 6] (short pairs show a false α, long ones a false C).

Then a local search (``search=True``, the default; docs/theory.md §5; the ascent itself is in
:mod:`moe_approx._ascent`). More pairs, anchored on each cell's vertices and faces, where uniform
sampling rarely lands (a steep ramp in a corner). From the SEARCH_STARTS pairs that imply the
largest constants (the best of every cell, or of the best cells), sign-gradient ascent with
backtracking, vectorised over the starts (each step three jitted calls): first on log ‖∇f(x)‖_1 from
both ends (the local Lipschitz constant from ‖·‖_∞ to |·|; its gradient H·sign ∇f / ‖∇f‖_1 by a
Hessian-vector product), then on log |f(x) − f(y)| − α log ‖x − y‖_∞ over pairs in the cell
(projected onto it, never shorter than the shortest sampled pair) from the best of the start pair
and pairs of SEARCH_LENGTHS around the steepest points found; for D with k = 1 the same pair
ascent on log max_i |∂_i f(x) − ∂_i f(y)| − β log ‖x − y‖_∞ from the best derivative pairs. The
pairs it reaches are evaluated again plainly (f by the target itself, partials as in the sampled
check) and refused only when they exceed the bound by SEARCH_MARGIN beyond the float64 margins
(the ascent drives honest pairs to where the constant is attained and rounding matters).
Sampling and search catch lies; they cannot prove the truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import numpy as np

from ._ascent import climb
from .boxes import row_max
from ._checks import check_int, check_memory, check_target
from ._config import kernel_jit

HOLDER_SLACK = 1e-9  # relative slack on C r^α and D r^β (rounding of the distance and the power)
TARGET_RTOL = 2.0**-48  # assumed relative accuracy of the target's float64 evaluation (as supnorm)
DERIVATIVE_RTOL = 2.0**-40  # assumed relative accuracy of autodiff derivatives (scale: largest partial)
SCALE_RTOL = 2.0**-45  # evaluation noise relative to the largest |f| of a batch (near a zero of f, say
# sin(ωx) at ωx = 15π, the error is that of the larger intermediate values, not of f)
SHORTEST_STEP = 1e-6  # shortest pair, relative to the cell's width
BASE_PAIRS = 2**12  # default: this many pairs in all, spread over the cells within the per-cell clip
TOTAL_PAIRS = 2**16  # default: at most this many pairs once every cell has its minimum
MIN_PAIRS_PER_CELL, MAX_PAIRS_PER_CELL = 16, 256
MAX_PAIRS = 2**24  # pairs_per_cell, at most
DERIVATIVE_ENTRIES = 2**22  # partial-derivative entries held per batch (memory of one jitted call)
SEARCH_STARTS = 128  # starts of the local search in all (the best pairs of each cell, or of the best cells)
SEARCH_STEPS = 10  # ascent steps per start: on the point, then twice as many on the pair
SEARCH_LENGTHS = (1e-2, 1e-4, 1e-6)  # pairs around the steepest point, relative to the cell's width
SEARCH_MARGIN = 1e-6  # relative excess a searched pair needs (ascent drives pairs into float noise)
BOUNDARY_SHARE = 8  # one pair in this many more, anchored on a vertex or a face of the cell

STATEMENT = (
    "conditional on the declared constants (alpha, C{smooth}): {pairs} sampled pairs{grad} in {cells} cell(s) "
    "(seed {seed}){search} found no violation; sampling catches lies, it cannot prove the truth"
)


class AssumptionError(ValueError):
    """A sampled pair contradicts a declared constant (``constant`` is "C" or "D").

    ``x``, ``y``: the witness pair; ``observed``: |f(x) − f(y)| (or |∂^γ f(x) − ∂^γ f(y)|);
    ``allowed``: the declared bound at that distance; ``implied``: the smallest constant the pair
    allows, observed / ‖x − y‖_∞^α (or ^β).
    """

    def __init__(self, message, *, constant, x, y, observed, allowed, implied):
        super().__init__(message)
        self.constant, self.x, self.y = constant, x, y
        self.observed, self.allowed, self.implied = observed, allowed, implied


@dataclass(frozen=True)
class Assumptions:
    """What :func:`check_assumptions` checked, and its honest reading in ``statement``
    (docs/theory.md §5).

    Attributes
    ----------
    alpha, C : float
        The declared Hölder exponent and constant, checked on every sampled pair.
    s, D : float or None
        The declared smoothness s = k + β and the constant D of the k-th partials, when they
        were checked (``uses_derivative``); else None.
    derivative_order : int or None
        k, when checked.
    cells : int
        The cells sampled.
    pairs : int
        The pairs checked against (α, C), all cells together.
    gradient_pairs : int
        The pairs at which the k-th partials were checked against (β, D); 0 if not checked.
    seed : int
        The seed of the sampling.
    implied_C, implied_D : float, float or None
        The largest constant the sampled and searched pairs require: a lower bound on the true
        constant, at most the declared one (a pair within the float64 margin above it counts as equal).
    searched_pairs : int
        The vertex and face pairs and the pairs the local search evaluated plainly (0 with
        ``search=False``).
    statement : str
        What a certificate resting on these constants means, in words.

    Examples
    --------
    >>> import numpy as np
    >>> import moe_approx as ma
    >>> checked = ma.check_assumptions(ma.targets.get("cone", n=2), np.zeros((1, 2)), np.ones((1, 2)))
    >>> checked.cells, checked.pairs, checked.implied_C <= checked.C * (1 + 1e-9)
    (1, 256, True)
    """

    alpha: float
    C: float
    s: float | None
    D: float | None
    derivative_order: int | None
    cells: int
    pairs: int
    gradient_pairs: int
    seed: int
    implied_C: float
    implied_D: float | None
    statement: str
    searched_pairs: int = 0


def default_pairs_per_cell(num_cells: int) -> int:
    """4096/L pairs per cell clipped to [16, 256] (256 to 65536 pairs in all up to 4096 cells);
    past 4096 cells 65536/L per cell (the total stays 65536), never below 2."""
    if num_cells * MIN_PAIRS_PER_CELL > TOTAL_PAIRS:
        return max(2, TOTAL_PAIRS // num_cells)
    return int(min(MAX_PAIRS_PER_CELL, max(MIN_PAIRS_PER_CELL, BASE_PAIRS // num_cells)))


def sample_pairs(lo, hi, pairs_per_cell: int, rng, steer=None) -> tuple[np.ndarray, np.ndarray]:
    """Point pairs (x, y), each (L, P, n), both points of a pair in the same cell [lo, hi] (module doc).

    ``steer`` (optional) maps points (M, n) to directions (M, n): a quarter of the pairs then step
    along sign(steer(x)) (coordinates where it is 0 or not finite get a random sign)."""
    L, n = lo.shape
    P = pairs_per_cell
    width = (hi - lo)[:, None, :]
    x = lo[:, None, :] + width * rng.random((L, P, n))
    far = lo[:, None, :] + width * rng.random((L, P, n))
    kind = np.arange(P) % 4  # 0: far pair; 1: along an axis; 2: along a random sign vector; 3: steered
    axis = np.eye(n)[rng.integers(0, n, (L, P))]
    signs = rng.choice([-1.0, 1.0], (L, P, n))
    if steer is not None and np.any(kind == 3):
        steered = np.sign(np.asarray(steer(x[:, kind == 3].reshape(-1, n)))).reshape(L, -1, n)
        signs[:, kind == 3] = np.where(np.isfinite(steered) & (steered != 0), steered, signs[:, kind == 3])
    direction = np.where((kind == 1)[None, :, None], axis * signs, signs)
    step = direction * width * 10.0 ** (-rng.uniform(0.0, -math.log10(SHORTEST_STEP), (L, P, 1)))
    near = x + step
    outside = (near < lo[:, None, :]) | (near > hi[:, None, :])
    near = np.clip(np.where(outside, x - step, near), lo[:, None, :], hi[:, None, :])
    y = np.where((kind == 0)[None, :, None], far, near)
    return x, y


def _padded(x):
    """Points (N, n) padded to a power of two (at least 64) by repeating the first: few jitted shapes."""
    N = len(x)
    bucket = max(64, 1 << max(N - 1, 0).bit_length())
    return np.concatenate([x, np.repeat(x[:1], bucket - N, axis=0)]) if N else np.zeros((0, x.shape[1]))


def _derivatives(fn, x, order: int):
    d = jax.grad(fn)
    for _ in range(order - 1):
        d = jax.jacfwd(d)
    return jax.vmap(d)(x)


_derivatives_jit = partial(kernel_jit, static_argnums=(0, 2))(_derivatives)


def derivatives(fn, x, order: int) -> np.ndarray:
    """The order-k partials of ``fn`` at points x (N, n): (N, n, …, n) with k trailing axes.

    Jitted once per (fn, order, bucket of N: a power of two, padded by repeating a point); a ``fn``
    that cannot be hashed is traced on every call."""
    x = np.asarray(x, np.float64)
    N, padded = len(x), _padded(x)
    try:
        hash(fn)
    except TypeError:
        return np.asarray(kernel_jit(lambda pts: _derivatives(fn, pts, order))(padded))[:N]
    return np.asarray(_derivatives_jit(fn, padded, order))[:N]


def _gradient_or_nan(fn, x):
    """∇fn at points x (M, n) by autodiff, or NaN where (or when) JAX cannot differentiate fn."""
    try:
        return derivatives(fn, x, 1)
    except Exception:  # noqa: BLE001 (the pairs then fall back to random directions)
        return np.full(x.shape, np.nan)


def _worst(observed, allowed, dist, exponent):
    """Index of the pair that exceeds its bound the most (or None) and the largest implied constant."""
    implied = np.zeros_like(observed)
    np.divide(observed, dist if exponent == 1 else dist**exponent, out=implied, where=dist > 0)
    bad = observed > allowed
    worst = int(np.argmax(np.where(bad, observed - allowed, -np.inf))) if bad.any() else None
    return worst, float(implied.max(initial=0.0)), implied


def check_pairs(target, x, y, fx, fy, scale=None, implied: bool = True) -> float | None:
    """Points x, y (N, n) with values fx, fy against |f(x) − f(y)| <= C‖x − y‖_∞^α (slack HOLDER_SLACK,
    plus TARGET_RTOL·(|f(x)| + |f(y)|) and SCALE_RTOL·``scale`` for the evaluations; ``scale``
    defaults to the largest |f| of the batch); raise :class:`AssumptionError` at the worst
    violation, else return the largest constant the pairs imply (None with ``implied=False``: the
    branch and bound's pairs, where only the check is wanted)."""
    gap = np.abs(x - y)
    dist = row_max(gap)
    observed = np.abs(fx - fy)
    size_x, size_y = np.abs(fx), np.abs(fy)
    scale = max(size_x.max(initial=0.0), size_y.max(initial=0.0)) if scale is None else scale
    margin = size_x
    margin += size_y
    margin *= TARGET_RTOL
    margin += SCALE_RTOL * scale  # TARGET_RTOL·(|f(x)| + |f(y)|) + SCALE_RTOL·scale, in place
    allowed = dist**target.alpha if target.alpha != 1 else dist.copy()
    allowed *= target.constant
    allowed *= 1 + HOLDER_SLACK  # C·dist^α·(1 + HOLDER_SLACK) + margin, in place (the device loop's order)
    allowed += margin
    axis_constants = getattr(target, "axis_constants", None)
    if not implied and axis_constants is None and not np.any(observed > allowed):
        return None
    worst, implied_C, per_pair = _worst(observed, allowed, dist, target.alpha)
    if worst is not None:
        _raise(target, "C", target.constant, target.alpha, x[worst], y[worst], observed[worst], allowed[worst],
               per_pair[worst], "|f(x) − f(y)|")
    if axis_constants is not None:
        _check_axis_pairs(target, x, y, gap, observed, margin)
    return implied_C


def _check_axis_pairs(target, x, y, gap, observed, margin):
    """The pairs against the declared per-axis constants: |f(x) − f(y)| <= Σ_i C_i |x_i − y_i|^α (docs/theory.md §5);
    ``gap`` = |x − y|."""
    per_axis = gap**target.alpha @ np.asarray(target.axis_constants)
    bad = np.nonzero(observed > per_axis * (1 + HOLDER_SLACK) + margin)[0]
    if bad.size:
        i = bad[np.argmax(observed[bad] - per_axis[bad])]
        raise AssumptionError(
            f"target {target.name or 'anonymous'} violates its declared axis_constants = {list(target.axis_constants)} "
            f"(with alpha = {target.alpha:g}): |f(x) − f(y)| = {observed[i]:.6g} > Σ_i C_i |x_i − y_i|^alpha = "
            f"{per_axis[i]:.6g} at x = {x[i].tolist()}, y = {y[i].tolist()}. No certificate can rest on a false "
            "constant: declare larger axis_constants (or none)",
            constant="axis_constants", x=x[i], y=y[i], observed=float(observed[i]), allowed=float(per_axis[i] + margin[i]),
            implied=math.inf)


def _raise(target, constant, declared, exponent, x, y, observed, allowed, implied, what):
    label = target.name or "anonymous"
    name = "alpha" if constant == "C" else "beta"
    raise AssumptionError(
        f"target {label} violates its declared {constant} = {declared:.6g} (with {name} = {exponent:g}): "
        f"{what} = {observed:.6g} > {constant}·‖x − y‖_∞^{name} = {allowed:.6g} at x = {x.tolist()}, "
        f"y = {y.tolist()} (‖x − y‖_∞ = {np.max(np.abs(x - y)):.6g}); this pair needs {constant} >= {implied:.6g}. "
        f"No certificate can rest on a false constant: declare a larger {constant}",
        constant=constant, x=x, y=y, observed=float(observed), allowed=float(allowed), implied=float(implied),
    )


@partial(kernel_jit, static_argnums=0)
def _values(target, x):
    return target(x)


def _evaluate(target, points):
    """f at points (N, n): one jitted call per bucket of N (:func:`_padded`), or op by op for an ``fn``
    that cannot be traced."""
    try:
        values = np.asarray(_values(target, _padded(points)), dtype=np.float64)[: len(points)]
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
            jax.errors.TracerIntegerConversionError):
        values = np.asarray(target(points), dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"target {target.name or 'anonymous'} returned a non-finite value {values[bad][0]} "
                         f"at x = {points[bad][0].tolist()}")
    return values


def check_assumptions(target, lo, hi, *, pairs_per_cell: int | None = None, seed: int = 0,
                      uses_derivative: bool = False, search: bool = True) -> Assumptions:
    """Sample pairs in each cell [lo[i], hi[i]] (arrays (L, n)) against the target's declared constants.

    Always (α, C); with ``uses_derivative`` also the derivative order k and (β, D) of the k-th
    partials (docs/theory.md §2). The pairs are drawn as the module docstring says
    (docs/theory.md §5): sampling catches a false declaration, it cannot prove a true one.

    Parameters
    ----------
    target : HolderTarget
        The target with its declared constants.
    lo, hi : array_like of shape (L, n)
        The cells [lo[i], hi[i]], inside [0,1]^n with lo < hi.
    pairs_per_cell : int, optional
        Pairs per cell, 1 to 2^24; default :func:`default_pairs_per_cell` (16 to 256 per cell,
        65536 in all at most while L >= 2; past 4096 cells fewer per cell).
    seed : int, default 0
        Seed of the sampling.
    uses_derivative : bool, default False
        Also check the k-th partials (the target must declare a smoothness).
    search : bool, default True
        Add the local search of the module docstring (vertex and face pairs, gradient ascent from
        the best pairs); False: the sampling alone.

    Returns
    -------
    Assumptions
        What was checked; ``statement`` says what it means.

    Raises
    ------
    AssumptionError
        A ``ValueError`` naming the constant, the witness pair and the smallest constant it implies.
    TypeError, ValueError
        For arguments of the wrong type or range.

    Examples
    --------
    f(x) = 2x is not 1-Lipschitz; the check finds a pair that says so:

    >>> import numpy as np
    >>> import moe_approx as ma
    >>> cells = np.array([[0.0], [0.5]]), np.array([[0.5], [1.0]])  # two cells: [0, 1/2], [1/2, 1]
    >>> ma.check_assumptions(ma.targets.get("kink", n=1), *cells).pairs
    512
    >>> steep = ma.HolderTarget(lambda x: 2 * x[..., 0], n=1, alpha=1.0, constant=1.0, name="steep")
    >>> try:
    ...     ma.check_assumptions(steep, *cells)
    ... except ma.AssumptionError as err:
    ...     print(err.constant, round(err.implied, 6))
    C 2.0
    """
    target = check_target(target)
    n = target.n
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    if lo.ndim != 2 or lo.shape[1] != n or hi.shape != lo.shape or lo.shape[0] == 0:
        raise ValueError(f"lo and hi must be arrays of shape (L, {n}) with L >= 1, got {lo.shape} and {hi.shape}")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo >= 0) and np.all(hi <= 1)
            and np.all(hi > lo)):
        raise ValueError("lo and hi must describe cells inside [0,1]^n with 0 <= lo < hi <= 1")
    L = lo.shape[0]
    P = default_pairs_per_cell(L) if pairs_per_cell is None else check_int(pairs_per_cell, "pairs_per_cell")
    if P > MAX_PAIRS:
        raise ValueError(f"pairs_per_cell must be an integer in [1, {MAX_PAIRS}], got {P}")
    check_memory(8.0 * 8 * L * P * n, f"check_assumptions with {P} pairs in each of {L} cells")
    seed = check_int(seed, "seed", minimum=0)
    for name, flag in (("uses_derivative", uses_derivative), ("search", search)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    if uses_derivative and target.smoothness is None:
        raise ValueError(f"uses_derivative=True needs a target that declares (smoothness, derivative_constant); "
                         f"{target!r} declares none")
    rng = np.random.default_rng(seed)
    x, y = sample_pairs(lo, hi, P, rng, steer=partial(_gradient_or_nan, target.fn))
    if search:  # pairs on the vertices and faces: more samples, checked like the others
        bx, by = boundary_pairs(lo, hi, -(-P // BOUNDARY_SHARE), rng)
        x, y = np.concatenate([x, bx], axis=1), np.concatenate([y, by], axis=1)
    Q = x.shape[1]
    values = _evaluate(target, np.concatenate([x.reshape(-1, n), y.reshape(-1, n)]))
    fx, fy = values[: L * Q], values[L * Q:]
    implied_C = check_pairs(target, x.reshape(-1, n), y.reshape(-1, n), fx, fy)
    grad_pairs, implied_D = 0, None
    if uses_derivative:
        grad_pairs, implied_D, ratio_D = _check_derivatives(target, x, y)
    searched = L * (Q - P)
    if search:
        dist = np.max(np.abs(x - y), axis=2).reshape(-1)
        ratio = np.abs(fx - fy) / np.where(dist > 0, dist, np.inf) ** target.alpha
        found, pairs = _search_values(target, x, y, ratio.reshape(L, Q), lo, hi, np.max(np.abs(values)))
        implied_C, searched = max(implied_C, found), searched + pairs
        if uses_derivative and target.derivative_order == 1:
            per = ratio_D.shape[1]
            found, pairs = _search_derivatives(target, x[:, :per], y[:, :per], ratio_D, lo, hi)
            implied_D, searched = max(implied_D, found), searched + pairs
    implied_C = min(implied_C, target.constant)
    implied_D = None if implied_D is None else min(implied_D, target.derivative_constant)
    smooth = "" if not uses_derivative else f"; s = {target.smoothness:g}, D"
    statement = STATEMENT.format(smooth=smooth, pairs=L * P, cells=L, seed=seed,
                                 grad="" if not uses_derivative else f" and {grad_pairs} derivative pairs",
                                 search="" if not search else f" and a local search of {searched} pairs")
    return Assumptions(target.alpha, target.constant, target.smoothness if uses_derivative else None,
                       target.derivative_constant if uses_derivative else None,
                       target.derivative_order if uses_derivative else None, L, L * P, grad_pairs, seed,
                       implied_C, implied_D, statement, searched)


def _check_derivatives(target, x, y) -> tuple[int, float, np.ndarray]:
    """The k-th partials at (a subset of) the pairs (L, P, n): finite, and (β, D)-Hölder entry by entry.

    Returns the pairs checked, the largest implied D and the implied D of each, (L, P') for the
    first P' pairs of each cell."""
    L, P, n = x.shape
    k, beta, D = target.derivative_order, target.derivative_exponent, target.derivative_constant
    entries = n**k
    if 2 * entries > DERIVATIVE_ENTRIES:
        raise ValueError(f"derivative order k = {k} in dimension n = {n} has n^k = {entries} partials per point; "
                         f"at most {DERIVATIVE_ENTRIES // 2} can be checked (declare a smaller smoothness or "
                         "pass uses_derivative=False)")
    per_cell = int(min(P, max(1, DERIVATIVE_ENTRIES // (2 * entries * L)))) if L * P * 2 * entries > DERIVATIVE_ENTRIES else P
    x, y = x[:, :per_cell].reshape(-1, n), y[:, :per_cell].reshape(-1, n)
    batch = max(1, DERIVATIVE_ENTRIES // (2 * entries))
    implied_D, ratios = 0.0, []
    for start in range(0, len(x), batch):  # batches of points, each one jitted call
        xs, ys = x[start:start + batch], y[start:start + batch]
        both = derivatives(target.fn, np.concatenate([xs, ys]), k).reshape(2 * len(xs), -1)
        bad = ~np.all(np.isfinite(both), axis=1)
        if bad.any():
            j = int(np.argmax(bad))
            point = np.concatenate([xs, ys])[j]
            raise AssumptionError(
                f"target {target.name or 'anonymous'} declares smoothness s = {target.smoothness:g} (derivative order "
                f"k = {k}) but its order-{k} partial derivatives are not finite at x = {point.tolist()}; "
                f"declare a smaller s (or write fn so JAX can differentiate it {k} times)",
                constant="s", x=point, y=point, observed=math.nan, allowed=math.nan, implied=math.nan,
            )
        gx, gy = both[: len(xs)], both[len(xs):]
        diff = np.abs(gx - gy)
        entry = np.argmax(diff, axis=1)
        observed = diff[np.arange(len(xs)), entry]
        dist = np.max(np.abs(xs - ys), axis=1)
        scale = np.max(np.abs(gx), axis=1) + np.max(np.abs(gy), axis=1)
        allowed = D * dist**beta * (1 + HOLDER_SLACK) + DERIVATIVE_RTOL * (scale + np.max(scale, initial=0.0))
        worst, implied_batch, implied = _worst(observed, allowed, dist, beta)
        implied_D = max(implied_D, implied_batch)
        ratios.append(implied)
        if worst is not None:
            gamma = np.unravel_index(entry[worst], (n,) * k)
            gamma = " + ".join(f"e{int(i) + 1}" for i in gamma)
            _raise(target, "D", D, beta, xs[worst], ys[worst], observed[worst], allowed[worst], implied[worst],
                   f"|∂^γ f(x) − ∂^γ f(y)| for γ = {gamma}")
    return len(x), implied_D, np.concatenate(ratios).reshape(L, per_cell)


# --- the local search (module doc; docs/theory.md §5) ------------------------------------------

def boundary_pairs(lo, hi, per_cell: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (x, y), each (L, B, n): x a vertex of the cell (even j, the vertices in turn from a random
    one) or a uniform point with one coordinate on a face (odd j); y a step inward of length 10^−u
    times the cell's width (u uniform in [0, 6]) along a sign vector that points into the cell."""
    L, n = lo.shape
    width = (hi - lo)[:, None, :]
    vertex = (np.arange(per_cell)[None, :, None] // 2 + rng.integers(0, 2**min(n, 62), (L, 1, 1))) >> np.arange(n) & 1
    face = rng.random((L, per_cell, n))
    np.put_along_axis(face, rng.integers(0, n, (L, per_cell, 1)), rng.integers(0, 2, (L, per_cell, 1)), axis=2)
    frac = np.where((np.arange(per_cell) % 2 == 0)[None, :, None], vertex, face)
    inward = np.where(frac == 0, 1.0, np.where(frac == 1, -1.0, rng.choice([-1.0, 1.0], frac.shape)))
    length = 10.0 ** (-rng.uniform(0.0, -math.log10(SHORTEST_STEP), (L, per_cell, 1)))
    x = lo[:, None, :] + width * frac
    return x, np.clip(x + inward * width * length, lo[:, None, :], hi[:, None, :])


def _starts(ratio, budget: int):
    """(cell, pair) indices of the search's starts: the best pairs of every cell, or of the best cells."""
    ratio = np.nan_to_num(ratio, nan=0.0)
    L, Q = ratio.shape
    order = np.argsort(-ratio, axis=1, kind="stable")
    if L <= budget:
        per = min(Q, budget // L)
        return np.repeat(np.arange(L), per), order[:, :per].reshape(-1)
    cells = np.argsort(-ratio.max(axis=1), kind="stable")[:budget]
    return cells, order[cells, 0]


def _search_values(target, x, y, ratio, lo, hi, scale: float) -> tuple[float, int]:
    """The search on (α, C) from the best pairs of x, y (L, Q, n) (``ratio``: their implied C):
    steepest points, pairs of SEARCH_LENGTHS around them, then the pair ascent from the best of
    those and the start; raises at a verified violation, else returns the largest implied C and
    the pairs evaluated."""
    cell, pair = _starts(ratio, SEARCH_STARTS)
    xs, ys, S, m = x[cell, pair], y[cell, pair], len(cell), len(SEARCH_LENGTHS)
    lo2, hi2 = lo[np.tile(cell, 2)], hi[np.tile(cell, 2)]
    try:
        p, signs = climb(target.fn, np.concatenate([xs, ys]), lo2, hi2, SHORTEST_STEP, 1.0, 0, False, SEARCH_STEPS)
    except Exception:  # noqa: BLE001 (JAX cannot differentiate fn: nothing to climb)
        return 0.0, 0
    step = np.asarray(SEARCH_LENGTHS)[None, :, None] * (hi2 - lo2).max(axis=1)[:, None, None] * \
        np.where(signs < 0, -1.0, 1.0)[:, None, :]
    q = p[:, None] + step
    outside = np.any((q < lo2[:, None]) | (q > hi2[:, None]), axis=2, keepdims=True)
    around = np.clip(np.where(outside, p[:, None] - step, q), lo2[:, None], hi2[:, None])  # (2S, m, n)
    implied = _verify_values(target, np.repeat(p, m, axis=0), around.reshape(-1, target.n), scale)
    # each start's pair ascent begins at the best of its own pair and the pairs around its two ends
    around_ends = implied.reshape(2, S, m).transpose(1, 0, 2).reshape(S, -1)  # [s, (end, length)]
    options = np.concatenate([ratio[cell, pair][:, None], around_ends], axis=1)
    best = np.argmax(np.nan_to_num(options, nan=-1.0), axis=1)
    end = np.arange(S) + S * ((best - 1) // m == 1)  # which end (x or y) the chosen pair is around
    own = (best == 0)[:, None]
    start_p = np.where(own, xs, p[end])
    start_q = np.where(own, ys, around[end, np.maximum(best - 1, 0) % m])
    ends, _ = climb(target.fn, np.concatenate([start_p, start_q]), lo2, hi2, SHORTEST_STEP, target.alpha, 0, True,
                    2 * SEARCH_STEPS)
    pf, qf = ends[:S], ends[S:]
    return max(float(np.max(implied)), float(np.max(_verify_values(target, pf, qf, scale)))), len(implied) + S


def _search_derivatives(target, x, y, ratio, lo, hi) -> tuple[float, int]:
    """The pair ascent on (β, D) for k = 1 (H·e_c by autodiff) from the best derivative pairs; raises
    at a verified violation, else returns the largest implied D and the pairs evaluated."""
    cell, pair = _starts(ratio, SEARCH_STARTS)
    both = np.tile(cell, 2)
    try:
        ends, _ = climb(target.fn, np.concatenate([x[cell, pair], y[cell, pair]]), lo[both], hi[both], SHORTEST_STEP,
                        target.derivative_exponent, 1, True, 2 * SEARCH_STEPS)
    except Exception:  # noqa: BLE001 (JAX cannot differentiate fn twice: nothing to climb)
        return 0.0, 0
    return _verify_derivatives(target, ends[: len(cell)], ends[len(cell):]), len(cell)


def _verify_values(target, x, y, scale: float) -> np.ndarray:
    """Searched pairs (M, n) re-evaluated plainly: raise (through :func:`check_pairs`) where one
    exceeds C‖x − y‖_∞^α by SEARCH_MARGIN beyond the evaluation margin (relative to ``scale`` =
    max |f| sampled as well); else return the constant each implies."""
    values = _evaluate(target, np.concatenate([x, y]))
    fx, fy = values[: len(x)], values[len(x):]
    dist, observed = np.max(np.abs(x - y), axis=1), np.abs(fx - fy)
    allowed = target.constant * dist**target.alpha * (1 + SEARCH_MARGIN) + TARGET_RTOL * (np.abs(fx) + np.abs(fy)) \
        + SCALE_RTOL * scale
    bad = observed > allowed
    if bad.any():
        check_pairs(target, x[bad], y[bad], fx[bad], fy[bad])
    return _worst(observed, allowed, dist, target.alpha)[2]


def _verify_derivatives(target, x, y) -> float:
    """Searched pairs' k-th partials recomputed: raise (through the sampled check) where one exceeds
    D‖x − y‖_∞^β by SEARCH_MARGIN beyond the derivative margin, or is not finite; else the largest
    D they imply."""
    k, beta, D = target.derivative_order, target.derivative_exponent, target.derivative_constant
    both = derivatives(target.fn, np.concatenate([x, y]), k).reshape(2 * len(x), -1)
    gx, gy = both[: len(x)], both[len(x):]
    dist, observed = np.max(np.abs(x - y), axis=1), np.max(np.abs(gx - gy), axis=1)
    scale = np.max(np.abs(gx), axis=1) + np.max(np.abs(gy), axis=1)
    batch = np.max(np.nan_to_num(scale), initial=0.0)
    allowed = D * dist**beta * (1 + SEARCH_MARGIN) + DERIVATIVE_RTOL * (scale + batch)
    bad = ~(observed <= allowed)  # also where not finite
    if bad.any():
        _check_derivatives(target, x[bad][None], y[bad][None])
    return _worst(observed, allowed, dist, beta)[1]
