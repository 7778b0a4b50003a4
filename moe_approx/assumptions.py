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
[0, 6] (short pairs show a false α, long ones a false C). Sampling catches lies; it
cannot prove the truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_int, check_memory, check_target

HOLDER_SLACK = 1e-9  # relative slack on C r^α and D r^β (rounding of the distance and the power)
TARGET_RTOL = 2.0**-48  # assumed relative accuracy of the target's float64 evaluation (as supnorm)
DERIVATIVE_RTOL = 2.0**-40  # assumed relative accuracy of autodiff derivatives (scale: largest partial)
SHORTEST_STEP = 1e-6  # shortest pair, relative to the cell's width
BASE_PAIRS = 2**12  # default: this many pairs in all, spread over the cells within the per-cell clip
TOTAL_PAIRS = 2**16  # default: at most this many pairs once every cell has its minimum
MIN_PAIRS_PER_CELL, MAX_PAIRS_PER_CELL = 16, 256
MAX_PAIRS = 2**24  # pairs_per_cell, at most
DERIVATIVE_ENTRIES = 2**22  # partial-derivative entries held per batch (memory of one jitted call)

STATEMENT = (
    "conditional on the declared constants (alpha, C{smooth}): {pairs} sampled pairs{grad} in {cells} cell(s) "
    "(seed {seed}) found no violation; sampling catches lies, it cannot prove the truth"
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
        The largest constant the sampled pairs require: a lower bound on the true constant, at
        most the declared one (up to the relative slack ``HOLDER_SLACK`` = 1e-9).
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


def _derivatives(fn, x, order: int):
    d = jax.grad(fn)
    for _ in range(order - 1):
        d = jax.jacfwd(d)
    return jax.vmap(d)(x)


_derivatives_jit = partial(jax.jit, static_argnums=(0, 2))(_derivatives)


def derivatives(fn, x, order: int) -> np.ndarray:
    """The order-k partials of ``fn`` at points x (N, n): (N, n, …, n) with k trailing axes.

    Jitted once per (fn, order, bucket of N: a power of two, padded by repeating a point); a ``fn``
    that cannot be hashed is traced on every call."""
    x = np.asarray(x, np.float64)
    N = len(x)
    bucket = max(64, 1 << max(N - 1, 0).bit_length())
    padded = jnp.asarray(np.concatenate([x, np.repeat(x[:1], bucket - N, axis=0)]) if N else np.zeros((0, x.shape[1])))
    try:
        hash(fn)
    except TypeError:
        return np.asarray(jax.jit(lambda pts: _derivatives(fn, pts, order))(padded))[:N]
    return np.asarray(_derivatives_jit(fn, padded, order))[:N]


def _gradient_or_nan(fn, x):
    """∇fn at points x (M, n) by autodiff, or NaN where (or when) JAX cannot differentiate fn."""
    try:
        return derivatives(fn, x, 1)
    except Exception:  # noqa: BLE001 (the pairs then fall back to random directions)
        return np.full(x.shape, np.nan)


def _worst(observed, allowed, dist, exponent):
    """Index of the pair that exceeds its bound the most (or None) and the largest implied constant."""
    positive = dist > 0
    implied = np.where(positive, observed / np.where(positive, dist, 1.0) ** exponent, 0.0)
    bad = observed > allowed
    worst = int(np.argmax(np.where(bad, observed - allowed, -np.inf))) if bad.any() else None
    return worst, float(implied.max(initial=0.0)), implied


def check_pairs(target, x, y, fx, fy) -> float:
    """Points x, y (N, n) with values fx, fy against |f(x) − f(y)| <= C‖x − y‖_∞^α (slack HOLDER_SLACK,
    plus TARGET_RTOL for the evaluations); raise :class:`AssumptionError` at the worst violation, else
    return the largest constant the pairs imply."""
    dist = np.max(np.abs(x - y), axis=1)
    observed = np.abs(fx - fy)
    allowed = target.constant * dist**target.alpha * (1 + HOLDER_SLACK) + TARGET_RTOL * (np.abs(fx) + np.abs(fy))
    worst, implied_C, implied = _worst(observed, allowed, dist, target.alpha)
    if worst is not None:
        _raise(target, "C", target.constant, target.alpha, x[worst], y[worst], observed[worst], allowed[worst],
               implied[worst], "|f(x) − f(y)|")
    return implied_C


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


def _evaluate(target, points):
    values = np.asarray(target(points), dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"target {target.name or 'anonymous'} returned a non-finite value {values[bad][0]} "
                         f"at x = {points[bad][0].tolist()}")
    return values


def check_assumptions(target, lo, hi, *, pairs_per_cell: int | None = None, seed: int = 0,
                      uses_derivative: bool = False) -> Assumptions:
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
    check_memory(6.0 * 8 * L * P * n, f"check_assumptions with {P} pairs in each of {L} cells")
    seed = check_int(seed, "seed", minimum=0)
    if not isinstance(uses_derivative, (bool, np.bool_)):
        raise TypeError(f"uses_derivative must be a bool, got {type(uses_derivative).__name__}")
    if uses_derivative and target.smoothness is None:
        raise ValueError(f"uses_derivative=True needs a target that declares (smoothness, derivative_constant); "
                         f"{target!r} declares none")
    rng = np.random.default_rng(seed)
    x, y = (a.reshape(-1, n) for a in sample_pairs(lo, hi, P, rng, steer=partial(_gradient_or_nan, target.fn)))
    values = _evaluate(target, np.concatenate([x, y]))
    fx, fy = values[: len(x)], values[len(x):]
    implied_C = check_pairs(target, x, y, fx, fy)
    grad_pairs, implied_D = 0, None
    if uses_derivative:
        grad_pairs, implied_D = _check_derivatives(target, x.reshape(L, P, n), y.reshape(L, P, n))
    smooth = "" if not uses_derivative else f"; s = {target.smoothness:g}, D"
    statement = STATEMENT.format(smooth=smooth, pairs=len(x), cells=L, seed=seed,
                                 grad="" if not uses_derivative else f" and {grad_pairs} derivative pairs")
    return Assumptions(target.alpha, target.constant, target.smoothness if uses_derivative else None,
                       target.derivative_constant if uses_derivative else None,
                       target.derivative_order if uses_derivative else None, L, len(x), grad_pairs, seed,
                       implied_C, implied_D, statement)


def _check_derivatives(target, x, y) -> tuple[int, float]:
    """The k-th partials at (a subset of) the pairs: finite, and (β, D)-Hölder entry by entry."""
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
    implied_D = 0.0
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
        allowed = D * dist**beta * (1 + HOLDER_SLACK) + DERIVATIVE_RTOL * scale
        worst, implied_batch, implied = _worst(observed, allowed, dist, beta)
        implied_D = max(implied_D, implied_batch)
        if worst is not None:
            gamma = np.unravel_index(entry[worst], (n,) * k)
            gamma = " + ".join(f"e{int(i) + 1}" for i in gamma)
            _raise(target, "D", D, beta, xs[worst], ys[worst], observed[worst], allowed[worst], implied[worst],
                   f"|∂^γ f(x) − ∂^γ f(y)| for γ = {gamma}")
    return len(x), implied_D
