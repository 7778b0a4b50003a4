"""Certified uniform error ‖f − Φ‖_∞ of a mixture of experts (docs/theory.md §5).

Branch and bound over boxes, each inside one cell (expert Φ_l), with centre c and per-axis
radius r (∞-radius ρ = max r). Every evaluated box gives

- a lower bound: |f(c) − Φ(c)| minus its rounding margin;
- the **Lipschitz bound** (one point evaluation): with Λ_l the expert's Lipschitz constant on its
  cell (:mod:`moe_approx.lipschitz`, computed once per cell),

      sup_B |f − Φ| ≤ |f(c) − Φ(c)| + ω(ρ) + Λ_l ρ,      ω(ρ) = C ρ^α,

  and for a target of smoothness s ∈ (1, 2] (∇f (s−1, D)-Hölder; T(ρ) = D n ρ^s Γ(s)/Γ(s+1) is
  ``HolderTarget.taylor_remainder_bound``) ω(ρ) is replaced by min(C ρ^α, Σ|∂_i f(c)| r_i + T(ρ));
- where it can win, the **affine-form bound**: Φ_l is enclosed by g₀ + g·u ± ρ_Φ for u ∈ [−1, 1]^n,
  propagated through the explicit weights (DeepZ-style chords; exact, ρ_Φ = 0, where no
  pre-activation changes sign on B), and

      sup_B |f − Φ| ≤ |f(c) − g₀| + Σ|g_i| + ρ_Φ + ω(ρ)                  (Hölder),
      sup_B |f − Φ| ≤ |f(c) − g₀| + Σ|∂_i f(c) r_i − g_i| + ρ_Φ + T(ρ)   (first order, s ∈ (1, 2]).

  It is computed for boxes not closed by the Lipschitz bound whose Lipschitz term Λ_l ρ exceeds the
  target's ω(ρ) (the expert's variation dominates, e.g. deep experts whose Λ_l is loose), and on every
  such box of a first-order target (its remainder is O(ρ²)). The box's bound is the smaller of the two.

Floating point (stated margins): the Lipschitz bound adds the per-cell rounding bound δ_l of Φ's
evaluation (:mod:`moe_approx.lipschitz`); the affine bound adds three times the dot-product rounding
bound per layer carried to the output by the linearised network (a backward pass through the chords);
both add ``TARGET_RTOL``·(the magnitudes summed), which covers the target's own evaluation error
(assumed below ``TARGET_RTOL`` relative) and the final sums.

The open boxes with the largest upper bounds are split (a batch at each step, halving the longest
axes, at most ``MAX_SPLIT_AXES`` of them) until ``upper − lower ≤ rtol·lower + atol``. Boxes are grouped
by cell into slots (a counting sort on the host); the experts' weights stay on the device and each
slot's weights are gathered inside the jitted kernel, which runs the experts as batched matmuls and
evaluates f, ∇f and both bounds in the same call. With several JAX devices the slots are sharded.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from . import experts as _experts
from ._checks import check_int, check_memory, check_network, check_positive, check_target
from ._progress import default_progress
from .boxes import MAX_SPLIT_AXES, covering_box, split
from .assumptions import TARGET_RTOL, Assumptions, check_assumptions, check_pairs
from .certify_linear import linear_kernel
from .lipschitz import UNIT_ROUNDOFF, cell_constants, gamma
from .mlp import index_stack
from .moe import as_mixture

ATOL_FACTOR = 4.0  # resolution = this times the largest float64 margin of f − Φ at the cell centres
STEP_BOXES = 2**14  # children evaluated per branch-and-bound step (at least)
MAX_STEP_BOXES = 2**17  # (at most)
CAPACITIES = (1, 16)  # boxes per slot (all of one cell); 16 only where gathering a cell's weights is costly
MAX_LANES = 2**15  # boxes per kernel call, at most
BUCKETS = 3  # box counts per kernel call: MAX_LANES (or less, for memory) divided by 1, 8, 64
AFFINE_GAIN = 2.0  # the affine-form bound is tried where Λρ > AFFINE_GAIN·ω(ρ) (or for first-order targets)
KERNEL_BYTES = 2**28  # memory of one kernel call, at most (estimate)
LINEAR_DEPTH = 7  # "auto" uses the linear relaxation in place of the affine form for experts this deep (bench_supnorm case 10)


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
    cell_lower, cell_upper : ndarray of shape (L,)
        The same bracket per cell: the upper bounds are proven for every cell; the bracket meets
        ``rtol`` only for the cells that decide the global maximum.
    lipschitz : ndarray of shape (L,)
        The experts' Lipschitz bounds Λ_l used.
    assumptions : Assumptions or None
        What the bound is conditional on and how the declared constants were checked
        (docs/theory.md §5); None for a formula target.
    basis : str
        "rigorous: from the formula" (interval enclosures, docs/theory.md §9) or "conditional on
        the declared constants".

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
    cell_lower: np.ndarray = field(default=None, repr=False)
    cell_upper: np.ndarray = field(default=None, repr=False)
    lipschitz: np.ndarray = field(default=None, repr=False)
    assumptions: Assumptions | None = field(default=None, repr=False)
    basis: str = ""


def cell_grid(lo, hi, points_per_side: int) -> np.ndarray:
    """Midpoints of a p^n sub-grid of every cell: (L, p^n, n), each row inside its (half-open) cell."""
    lo, hi = np.asarray(lo), np.asarray(hi)
    n = lo.shape[-1]
    t = (np.arange(points_per_side) + 0.5) / points_per_side
    local = np.stack(np.meshgrid(*([t] * n), indexing="ij"), axis=-1).reshape(-1, n)
    return lo[:, None, :] + local[None] * (hi - lo)[:, None, :]


# --- the kernels ----------------------------------------------------------------------------------


def _target_terms(target, grad, radius):
    """ω (or its first-order replacement) and the Taylor remainder T(ρ) (None without ∇f), boxes (N, n)."""
    omega, _ = _holder_terms(target, radius)
    taylor = None
    if grad is not None:
        taylor = float(target.taylor_remainder_bound(1.0)) * jnp.max(radius, axis=-1)**target.smoothness
        omega = jnp.minimum(omega, jnp.sum(jnp.abs(grad) * radius, -1) + taylor)
    return omega, taylor


def _holder_terms(target, radius):
    """ω(B) = C ρ^α, or min(C ρ^α, Σ_i C_i r_i^α) with declared per-axis constants C_i (docs/theory.md §5),
    and the per-axis terms (C_i r_i^α, or C r_i^α) that steer the splitting."""
    isotropic = target.constant * jnp.max(radius, axis=-1) ** target.alpha
    axis_constants = getattr(target, "axis_constants", None)
    if axis_constants is None:
        return isotropic, target.constant * radius**target.alpha
    per_axis = jnp.asarray(axis_constants) * radius**target.alpha
    return jnp.minimum(isotropic, jnp.sum(per_axis, -1)), per_axis


def _target_values(target, x):
    """f(x) and, for smoothness s in (1, 2], ∇f(x), for points (N, n)."""
    if target.derivative_order == 1:
        return target.fn(x), jax.grad(lambda z: jnp.sum(target.fn(z)))(x)
    return target.fn(x), None


def is_formula(target) -> bool:
    """True for a target given as a formula (FormulaTarget): its bounds come from interval enclosures
    of the formula, no declared constant is used (docs/theory.md §9)."""
    return hasattr(target, "enclose") and hasattr(target, "expr")


def _box_ends(centre, radius):
    """The box [c − r, c + r] in floats, clipped to the cube: it covers the box's points (moe_approx.boxes)."""
    return jnp.maximum(centre - radius, 0.0), jnp.minimum(centre + radius, 1.0)


def _formula_point(target, centre):
    """A rigorous enclosure [lo, hi] of f at the points (N, n), and its midpoint."""
    lo, hi, _ = target._compiled["value"](centre, centre)
    return lo, hi, 0.5 * (lo + hi)


@partial(jax.jit, static_argnums=0)
def _point_kernel(target, experts, slot_cell, slot_point, point_lane, centre, radius, cell, lip, delta, lip_axes):
    """f(c), Φ(c), the Lipschitz upper bound, the lower bound, ∇f(c) (or None), the f-variation
    term used (ω(ρ), or half the enclosure's width for a formula) and f's per-axis variation on the
    box (for the splitting), for boxes (N, n). Φ's variation: min(Λ_l ρ, Σ_i Λ_{l,i} r_i)."""
    phi = index_stack(experts, slot_cell)(centre[slot_point])[..., 0].ravel()[point_lane]
    rho = jnp.max(radius, axis=-1)
    variation = jnp.minimum(lip[cell] * rho, jnp.sum(lip_axes[cell] * radius, -1))
    if is_formula(target):  # sup_B |f − Φ| <= max(f_hi − Φ_lo, Φ_hi − f_lo), Φ(B) ⊆ Φ(c) ± (Λρ + δ)
        f_lo, f_hi, defined = target._compiled["value"](*_box_ends(centre, radius))
        c_lo, c_hi, fc = _formula_point(target, centre)
        rounding = delta[cell] + TARGET_RTOL * (jnp.abs(phi) + variation + jnp.abs(f_lo) + jnp.abs(f_hi))
        upper = jnp.where(defined, jnp.maximum(f_hi - phi, phi - f_lo) + variation + rounding, jnp.inf)
        low = jnp.maximum(jnp.maximum(c_lo - phi, phi - c_hi) - delta[cell] - TARGET_RTOL * jnp.abs(phi), 0.0)
        d_lo, d_hi = target._compiled["gradient"](centre, centre)
        slope = jnp.nan_to_num(jnp.maximum(jnp.abs(d_lo), jnp.abs(d_hi)), nan=jnp.inf)
        return fc, phi, upper, low, None, 0.5 * (f_hi - f_lo), slope * radius
    fc, grad = _target_values(target, centre)
    omega, _ = _target_terms(target, grad, radius)
    per_axis = _holder_terms(target, radius)[1]
    gap = jnp.abs(fc - phi)
    point = _point_margin(delta[cell], fc, gap)
    upper = (gap + point + omega + variation) * (1 + TARGET_RTOL)  # covers ω's and Λρ's rounding and the sums
    return fc, phi, upper, jnp.maximum(gap - point, 0.0), grad, omega, per_axis


def _point_margin(delta, fc, gap):
    """A bound of |fl(f(c) − Φ(c)) − (f(c) − Φ(c))|: Φ's rounding δ, f's (TARGET_RTOL relative) and the subtraction's."""
    return delta + TARGET_RTOL * abs(fc) + UNIT_ROUNDOFF * gap


def _lift(v, extra: int):
    """A per-neuron array (d,) or (S, d) broadcast against (S, P, [k,] d)."""
    if v.ndim == 1:
        return v
    return v.reshape(v.shape[:1] + (1,) * (extra + 1) + v.shape[1:])


def _affine_form(nets, centre, radius):
    """Φ's affine form g₀ + g·u ± rem on each box and its rounding bound (module docstring).

    ``nets``: one expert per slot (stack (S,), or shared layers), boxes (S, P, n). Returns (S, P) arrays
    g₀, rem, margin and g (S, P, n).
    """
    S, P, n = centre.shape
    h = jnp.concatenate([centre[:, :, None, :], radius[..., None] * jnp.eye(n)], axis=2)  # centre row, generators
    bias_rows = jnp.zeros(n + 1).at[0].set(1.0)[:, None]
    rem = jnp.zeros((S, P, n))  # interval remainder of the form
    mag = jnp.abs(centre) + radius  # bound of |layer input| on the box
    err = jnp.zeros((S, P, n))  # crude bound of the accumulated rounding error (widens the intervals)
    rounding, chords, slacks = [], [], []
    for l, (w, b) in enumerate(nets.layers):
        batched = w.ndim == 3
        h = jnp.einsum("spkd,sde->spke" if batched else "spkd,de->spke", h, w) + bias_rows * _lift(b, 1)
        # |W| times the remainder, the magnitude and the rounding error: one stacked product
        stacked = jnp.einsum("spkd,sde->spke" if batched else "spkd,de->spke", jnp.stack([rem, mag, err], 2), jnp.abs(w))
        rem, mag_w, err_w = stacked[:, :, 0], stacked[:, :, 1], stacked[:, :, 2]
        # rounding of this layer: centre row, generator rows, remainder, each <= γ (|W|ᵀ|y| + |b|)
        rounding.append(3 * gamma(w.shape[-2] + 2) * (mag_w + _lift(jnp.abs(b), 0)))
        err = err_w + rounding[-1]
        if l < len(nets.slopes):
            a = _lift(nets.slopes[l], 0)
            h, rem, err, mag, chord, slack = _activation(h, rem, err, a)
            chords.append(chord)
            slacks.append(slack)
            err = jnp.maximum(1.0, jnp.abs(a)) * err
    # the rounding errors reach the output through the linearised network (chords): backward pass
    v = jnp.ones((S, P, 1))
    margin = jnp.sum(jnp.abs(v) * rounding[-1], -1)
    for l in range(len(nets.slopes) - 1, -1, -1):
        w = nets.layers[l + 1][0]
        vy = jnp.einsum("spe,sde->spd", v, w) if w.ndim == 3 else v @ w.T
        v = chords[l] * vy
        margin = margin + jnp.sum(jnp.abs(vy) * slacks[l] + jnp.abs(v) * rounding[l], -1)
    return h[:, :, 0, 0], h[:, :, 1:, 0], rem[..., 0], jnp.minimum(margin, err[..., 0])


def _activation(h, rem, err, a):
    """The chord relaxation of σ_a on the affine form (docs/theory.md §5).

    Also returns the bound of |σ_a| on the box, the chord slopes and the relaxation's rounding slack.
    """
    centre, gens = h[:, :, 0], h[:, :, 1:]
    radius = jnp.sum(jnp.abs(gens), axis=2) + rem + err
    lo, hi = centre - radius, centre + radius

    def sigma(t):
        return jnp.maximum(t, 0.0) + a * jnp.minimum(t, 0.0)

    s_lo, s_hi = sigma(lo), sigma(hi)
    crossing = (lo < 0) & (hi > 0)
    chord = jnp.where(crossing, (s_hi - s_lo) / jnp.where(crossing, hi - lo, 1.0), jnp.where(lo >= 0, 1.0, a))
    # σ(t) − chord·t on [lo, hi] is piecewise linear with its kink at 0: its range is spanned by three values
    v_lo, v_hi = s_lo - chord * lo, s_hi - chord * hi
    low = jnp.where(crossing, jnp.minimum(0.0, jnp.minimum(v_lo, v_hi)), 0.0)
    high = jnp.where(crossing, jnp.maximum(0.0, jnp.maximum(v_lo, v_hi)), 0.0)
    form = chord[:, :, None] * h
    form = form.at[:, :, 0].add(0.5 * (low + high))
    rem = jnp.abs(chord) * rem + 0.5 * (high - low)
    slack = jnp.where(crossing, gamma(4) * (jnp.abs(s_lo) + jnp.abs(s_hi) + jnp.abs(chord) * (hi - lo)), 0.0)
    mag = jnp.maximum(jnp.abs(s_lo), jnp.abs(s_hi))  # σ_a is piecewise linear with σ_a(0) = 0
    return form, rem, err + slack, mag, chord, slack


@partial(jax.jit, static_argnums=0)
def _affine_kernel(target, experts, slot_cell, slot_point, point_lane, centre, radius, fc, grad):
    """The affine-form upper bound of boxes (N, n) with known f(c) (and ∇f(c) for first-order targets).

    For a formula: the smaller of max(f_hi − Φ_lo, Φ_hi − f_lo) with Φ(B) ⊆ g₀ ± (Σ|g_i| + ρ_Φ) and the
    mean-value form |f(c) − g₀| + Σ_i max_{∂_i f ∈ ∇f(B)} |∂_i f r_i − g_i| + ρ_Φ (docs/theory.md §9).
    """
    g0, g, rem, err = (o.reshape((-1,) + o.shape[2:])[point_lane] for o in
                       _affine_form(index_stack(experts, slot_cell), centre[slot_point], radius[slot_point]))
    g_abs = jnp.sum(jnp.abs(g), -1)
    if is_formula(target):
        f_lo, f_hi, defined = target._compiled["value"](*_box_ends(centre, radius))
        natural = jnp.where(defined, jnp.maximum(f_hi - (g0 - g_abs), (g0 + g_abs) - f_lo), jnp.inf)
        d_lo, d_hi = target._compiled["gradient"](*_box_ends(centre, radius))
        c_lo, c_hi, _ = _formula_point(target, centre)
        slope = jnp.maximum(jnp.abs(d_lo * radius - g), jnp.abs(d_hi * radius - g))
        mean_value = jnp.maximum(c_hi - g0, g0 - c_lo) + jnp.sum(jnp.where(jnp.isfinite(slope), slope, jnp.inf), -1)
        upper = jnp.minimum(natural, jnp.where(defined, mean_value, jnp.inf))
        scale = jnp.abs(f_lo) + jnp.abs(f_hi) + jnp.abs(g0) + g_abs + rem
        return (upper + rem + err + TARGET_RTOL * scale,)
    omega, _ = _holder_terms(target, radius)
    gap = jnp.abs(fc - g0)
    upper = gap + g_abs + omega
    scale = jnp.abs(fc) + jnp.abs(g0) + g_abs + rem + omega
    if grad is not None:
        _, taylor = _target_terms(target, grad, radius)
        upper = jnp.minimum(upper, gap + jnp.sum(jnp.abs(grad * radius - g), -1) + taylor)
        scale = scale + jnp.sum(jnp.abs(grad) * radius, -1) + taylor
    return (upper + rem + err + TARGET_RTOL * scale,)


# --- evaluation of a batch of boxes ---------------------------------------------------------------


@dataclass(frozen=True)
class _Slots:
    """N boxes grouped into S slots of ``capacity`` boxes of one cell each (a counting sort by cell)."""

    slot_cell: np.ndarray  # (S,)
    slot_point: np.ndarray  # (S, capacity): the box in each lane (empty lanes repeat a box of the slot's cell)
    point_lane: np.ndarray  # (N,): the flat lane of each box


def _group(cell: np.ndarray, num_cells: int, lanes: int, multiple: int, capacities=CAPACITIES) -> _Slots:
    """Slots of one cell each for ``lanes`` boxes (cells ``cell``, padded entries included).

    The capacity is the largest of ``capacities`` whose slots fit in 2·lanes/capacity (capacity 1
    always fits, in ``lanes`` slots), so a run compiles one slot shape per capacity and lane bucket.
    """
    counts = np.bincount(cell, minlength=num_cells)
    for capacity in capacities[::-1]:
        per_cell = -(-counts // capacity)
        S_pad = lanes if capacity == 1 else 2 * lanes // capacity
        S_pad = -(-S_pad // multiple) * multiple
        if per_cell.sum() <= S_pad:
            break
    S = int(per_cell.sum())
    starts = np.cumsum(counts) - counts
    order = np.argsort(cell, kind="stable")
    sorted_cell = cell[order]
    position = np.arange(len(cell)) - starts[sorted_cell]
    first_slot = np.cumsum(per_cell) - per_cell
    lane = (first_slot[sorted_cell] + position // capacity) * capacity + position % capacity
    slot_cell = np.zeros(S_pad, np.int64)
    slot_cell[:S] = np.repeat(np.arange(num_cells), per_cell)
    slot_point = np.full((S_pad, capacity), order[0])
    slot_point[:S] = order[starts[slot_cell[:S]]][:, None]  # empty lanes repeat a box of the slot's cell
    slot_point.reshape(-1)[lane] = order
    point_lane = np.empty(len(cell), np.int64)
    point_lane[order] = lane
    return _Slots(slot_cell, slot_point, point_lane)


class _Evaluator:
    """Evaluates boxes (cell, centre, radius): both bounds, cell-blocked, weights resident on the device."""

    def __init__(self, target, experts, lo, hi, family=None, size=None, bound="auto"):
        self.target, self.n, self.bound, self.depth = target, lo.shape[1], bound, len(experts.layers)
        self.first_order = (target.smoothness is not None or target.constants_source.startswith("computed")
                            if is_formula(target) else target.derivative_order == 1)
        self.num_cells = lo.shape[0]
        self.lip, self.delta, self.lip_axes = cell_constants(experts, lo, hi, family, size, axes=True)
        if bound == "lipschitz":  # the isotropic bound alone: Λρ, boxes halved along their longest axes
            self.lip_axes = np.full_like(self.lip_axes, np.inf)
        if not (np.all(np.isfinite(self.lip)) and np.all(np.isfinite(self.delta))):
            bad = int(np.argmax(~np.isfinite(self.lip) | ~np.isfinite(self.delta)))
            raise ValueError(f"the expert of cell {bad} has non-finite weights or overflows float64 on its cell")
        self.devices = jax.devices()
        widest = max(experts.widths[1:]) + self.n
        self.point_bytes = 8 * 4 * widest + 64
        self.affine_bytes = 8 * 4 * (self.n + 4) * widest
        check_memory(KERNEL_BYTES, "sup_error kernel")
        host = jax.tree_util.tree_map(np.asarray, experts)
        gathered = sum(np.size(a) for a in jax.tree_util.tree_leaves(host) if np.ndim(a) >= 2 and
                       np.shape(a)[0] == self.num_cells) / self.num_cells  # per-cell floats gathered per slot
        self.capacities = CAPACITIES if gathered > 4 * sum(experts.widths) else CAPACITIES[:1]
        self.sharding = None
        if len(self.devices) > 1:
            mesh = jax.sharding.Mesh(np.array(self.devices), ("slots",))
            self.sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("slots"))
        self.experts = jax.tree_util.tree_map(jnp.asarray, experts)
        self.lip_dev, self.delta_dev, self.lip_axes_dev = (jnp.asarray(a) for a in (self.lip, self.delta, self.lip_axes))

    def _run(self, kernel, lane_bytes, cell, *per_box):
        """``kernel`` over the boxes in chunks of at most KERNEL_BYTES, each padded to a power of two."""
        N, start, outs = len(cell), 0, []
        top = max(8, min(MAX_LANES, 1 << int(KERNEL_BYTES // lane_bytes).bit_length() - 1))
        buckets = [max(8, top >> 3 * j) for j in range(BUCKETS - 1, -1, -1)]
        while start < N:
            size = next((b for b in buckets if b >= N - start), top)
            stop = min(N, start + size)
            take = np.arange(start, start + size)
            take = np.where(take < stop, take, start)  # padding repeats the chunk's first box
            slots = _group(cell[take], self.num_cells, size, len(self.devices), self.capacities)
            index = [slots.slot_cell, slots.slot_point]
            if self.sharding is not None:
                index = [jax.device_put(a, self.sharding) for a in index]
            args = [None if a is None else a[take] for a in per_box]
            out = kernel(self.experts, *index, slots.point_lane, *args)
            outs.append([None if o is None else np.asarray(o)[: stop - start] for o in out])
            start = stop
        return [None if outs[0][k] is None else np.concatenate([o[k] for o in outs]) for k in range(len(outs[0]))]

    def points(self, cell, centre, radius):
        """(f(c), Φ(c), Lipschitz upper, lower, ∇f(c) or None, f-variation term) for boxes (N,), (N, n), (N, n)."""
        kernel = partial(_point_kernel, self.target)
        return self._run(lambda ex, sc, sp, pl, c, r, ce: kernel(ex, sc, sp, pl, c, r, ce, self.lip_dev, self.delta_dev,
                                                                    self.lip_axes_dev),
                         self.point_bytes, cell, centre, radius, cell)

    def affine(self, cell, centre, radius, fc, grad):
        """The second bound of boxes with known f(c), ∇f(c): the affine form, or with ``bound="linear"``
        the linear (CROWN-style) relaxation of f − Φ (:mod:`moe_approx.certify_linear`)."""
        linear = self.bound == "linear" or (self.bound == "auto" and self.depth >= LINEAR_DEPTH)
        kernel = partial(linear_kernel, self.target, intermediate="forward") if linear else partial(_affine_kernel, self.target)
        return self._run(kernel, self.affine_bytes, cell, centre, radius, fc, grad)[0]

    def wants_affine(self, cell, radius, omega):
        """Boxes that get the affine-form bound: with ``bound="auto"`` those whose Lipschitz term Λρ
        exceeds AFFINE_GAIN times the target's variation term ``omega`` (only then can the affine
        form, which keeps that term, gain much), or any box of a first-order target; all with
        "affine", none with "lipschitz". First order: a declared s in (1, 2], or a formula known
        to be C¹ (declared smoothness, or a Lipschitz constant computed from its gradient), whose
        mean-value form falls like ρ²."""
        if self.bound != "auto" or self.first_order:
            return np.full(len(cell), self.bound in ("auto", "affine", "linear"))
        return self.lip[cell] * np.max(radius, axis=1) > AFFINE_GAIN * omega


@dataclass
class _State:
    """The branch-and-bound state: per-cell brackets and the open boxes."""

    cell_lower: np.ndarray
    cell_upper: np.ndarray  # max upper over closed boxes of each cell
    cell_evals: np.ndarray
    lower: float = 0.0
    argmax: np.ndarray = None
    evaluations: int = 0
    affine_evaluations: int = 0
    boxes: int = 0
    open_cell: np.ndarray = None
    open_lo: np.ndarray = None  # box endpoints: the boxes cover the cells exactly (moe_approx.boxes)
    open_hi: np.ndarray = None
    open_upper: np.ndarray = None
    open_fc: np.ndarray = None
    lipschitz: np.ndarray = None  # Λ_l of every cell
    centre_margin: np.ndarray = None  # float64 margin of f − Φ at each cell centre (first step)
    float_limited: bool = False  # a box was closed because no float splits it

    open_score: np.ndarray = None  # per-axis variation of f − Φ on each open box: the axes to split

    OPEN = ("open_cell", "open_lo", "open_hi", "open_upper", "open_fc", "open_score")

    def add_open(self, *arrays):
        if self.open_cell is None:
            for name, a in zip(self.OPEN, arrays):
                setattr(self, name, a)
        else:
            for name, a in zip(self.OPEN, arrays):
                setattr(self, name, np.concatenate([getattr(self, name), a]))

    def close(self, mask):
        """Close the open boxes in ``mask``: their upper bounds go to their cells."""
        np.maximum.at(self.cell_upper, self.open_cell[mask], self.open_upper[mask])
        for name in self.OPEN:
            setattr(self, name, getattr(self, name)[~mask])

    def record_lower(self, cell, point, low):
        """Lower bounds ``low`` found at ``point`` in ``cell``: the per-cell and the global ones."""
        np.maximum.at(self.cell_lower, cell, low)
        i = int(np.argmax(low))
        if low[i] > self.lower or self.argmax is None:
            self.lower, self.argmax = float(low[i]), point[i].copy()

    def cell_upper_all(self) -> np.ndarray:
        out = self.cell_upper.copy()
        np.maximum.at(out, self.open_cell, self.open_upper)
        return out


def branch_and_bound(target, lo, hi, experts, threshold, max_evals: int, progress=None, *, family=None, size=None,
                     cell_evals: int | None = None, bound: str = "auto") -> _State:
    """Branch and bound over the cells [lo_i, hi_i] with experts ``experts`` (stack (L,)).

    ``progress``: True for a tqdm bar of the cells decided, or a callable ``progress(state)`` called
    after every step. ``threshold(state) -> (L,)``: a box of cell i stays open while its upper bound exceeds
    threshold[i]. Stops when no box is open or ``max_evals`` boxes have been evaluated. A cell that has
    used ``cell_evals`` evaluations is given up: its open boxes are closed at their upper bounds
    (``approximate`` then splits the cell). ``family``/``size``: the experts' family module and sizes
    (for exact Lipschitz constants). ``bound``: "auto", "lipschitz" or "affine" (see :func:`sup_error`).
    """
    L, n = lo.shape
    fan = 2 ** min(n, MAX_SPLIT_AXES)  # children of a split box, at most
    evaluate = _Evaluator(target, experts, lo, hi, family, size, bound)
    st = _State(np.zeros(L), np.full(L, -np.inf), np.zeros(L, np.int64))
    st.lipschitz = evaluate.lip
    cell, box_lo, box_hi = np.arange(L), lo, hi
    parent_fc, parent_centre = None, None
    report = progress if callable(progress) else None
    bar = _progress_bar(L) if progress and report is None else None
    try:
        while True:
            if len(cell):
                _evaluate_boxes(st, evaluate, threshold, cell, box_lo, box_hi, parent_fc, parent_centre)
            closed = st.open_upper <= threshold(st)[st.open_cell]
            if cell_evals is not None:
                closed |= st.cell_evals[st.open_cell] >= cell_evals
            st.close(closed)
            if bar is not None:
                _update_bar(bar, st, L)
            if report is not None:
                report(st)
            budget = max_evals - st.evaluations
            if not len(st.open_cell) or budget < fan:
                return st
            # split the open boxes with the largest upper bounds (a quarter of them when there are many)
            open_count = len(st.open_cell)
            count = min(open_count, max(STEP_BOXES, min(open_count // 4, MAX_STEP_BOXES)) // fan, budget // fan)
            pick = np.argpartition(-st.open_upper, count - 1)[:count] if count < open_count else np.arange(open_count)
            score = None if bound == "lipschitz" else st.open_score[pick]
            parent, box_lo, box_hi, stuck = split(st.open_lo[pick], st.open_hi[pick], score)
            if stuck.any():  # at float64 resolution: closed at their bounds, their two corners evaluated
                _close_stuck(st, evaluate, pick[stuck])
            cell = st.open_cell[pick][parent]
            parent_fc = st.open_fc[pick][parent]
            parent_centre = covering_box(st.open_lo[pick], st.open_hi[pick])[0][parent]
            st.boxes -= len(pick) - int(stuck.sum())  # stuck boxes stay leaves
            keep = np.ones(open_count, bool)
            keep[pick] = False
            for name in st.OPEN:
                setattr(st, name, getattr(st, name)[keep])
    finally:
        if bar is not None:
            bar.close()


def _evaluate_boxes(st, evaluate, threshold, cell, box_lo, box_hi, parent_fc, parent_centre):
    """Bound the new boxes [box_lo, box_hi] of ``cell`` (both bounds where they can win) and add them to
    the open set; their centres and parents' centres are Hölder pairs to check (declared targets)."""
    target = evaluate.target
    centre, radius = covering_box(box_lo, box_hi)
    fc, phi, upper, low, grad, omega, target_axes = evaluate.points(cell, centre, radius)
    _check_finite(fc, phi, upper, centre)
    if parent_fc is not None and not is_formula(target):
        check_pairs(target, centre, parent_centre, fc, parent_fc)  # (child, parent) pairs for free
    if st.centre_margin is None:
        st.centre_margin = evaluate.delta[cell] + TARGET_RTOL * (np.abs(fc) + np.abs(phi))  # (as every bound's)
    st.evaluations += len(cell)
    st.boxes += len(cell)  # leaves of the box tree: children in, their parent out
    np.add.at(st.cell_evals, cell, 1)
    st.record_lower(cell, centre, low)
    limit = threshold(st)
    todo = np.nonzero((upper > limit[cell]) & evaluate.wants_affine(cell, radius, omega))[0]
    if todo.size:
        affine = evaluate.affine(cell[todo], centre[todo], radius[todo], fc[todo],
                                 None if grad is None else grad[todo])
        upper[todo] = np.minimum(upper[todo], affine)
        st.affine_evaluations += todo.size
    if np.any(low > upper):
        i = int(np.argmax(low - upper))
        raise RuntimeError(f"internal error: a box's lower bound {low[i]!r} exceeds its upper bound "
                           f"{upper[i]!r} at x = {centre[i].tolist()} (cell {cell[i]}); please report it")
    st.add_open(cell, box_lo, box_hi, upper, fc, evaluate.lip_axes[cell] * radius + target_axes)


def _close_stuck(st, evaluate, index):
    """Close the open boxes ``index`` that no float splits (their upper bounds go to their cells) and
    evaluate f − Φ at their lo and hi corners for the lower bound."""
    np.maximum.at(st.cell_upper, st.open_cell[index], st.open_upper[index])
    st.float_limited = True
    corners = np.concatenate([st.open_lo[index], st.open_hi[index]])
    cell = np.tile(st.open_cell[index], 2)
    low = evaluate.points(cell, corners, np.zeros_like(corners))[3]
    st.evaluations += len(cell)
    st.record_lower(cell, corners, low)


def _progress_bar(cells: int):
    from tqdm.auto import tqdm

    return tqdm(total=cells, unit="cell", desc="sup_error (cells decided)")


def _update_bar(bar, st, cells):
    open_cells = np.unique(st.open_cell).size
    bar.n = cells - open_cells
    upper = max(st.cell_upper.max(), st.open_upper.max(initial=-np.inf))
    bar.set_postfix(evals=st.evaluations, lower=f"{st.lower:.6g}", upper=f"{upper:.6g}", open=len(st.open_cell))
    bar.refresh()


def _check_finite(fc, phi, upper, centre):
    for values, what in ((fc, "the target"), (phi, "the MoE")):
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"{what} returned a non-finite value {values[bad][0]} at x = {centre[bad][0].tolist()}")
    if np.isnan(upper).any():
        raise ValueError("the upper bound is NaN (weights or target values overflow float64)")


def family_of(moe, experts=None, lo=None, hi=None):
    """The family module of a mixture's experts (for exact Lipschitz constants), or None.

    A family label is a claim: a family whose constants are read off the weights (``lipschitz``) is
    used only if its ``matches`` confirms that ``experts`` (default: all) on the cells [lo, hi] are
    that construction; otherwise a warning says so and the weight-based bound is used.
    """
    family = _experts.get(moe.family) if moe.family in _experts.FAMILY_NAMES else None
    if family is None or not hasattr(family, "lipschitz"):
        return family
    if lo is None:
        lo, hi = moe.partition.all_bounds()
    host = jax.tree_util.tree_map(np.asarray, moe.experts if experts is None else experts)
    if family.matches(host, lo, hi, **{k: v for k, v in moe.size.items() if k in family.SIZE_DEFAULTS}):
        return family
    warnings.warn(f"the experts are labelled {moe.family!r} but are not that construction (size {moe.size}); "
                  "their Lipschitz constants are bounded from the weights instead", stacklevel=3)
    return None


BOUNDS = ("auto", "lipschitz", "per_axis", "affine", "linear")


def sup_error(target, moe, rtol: float = 1e-3, max_evals: int = 2**22, *, atol: float | None = None,
              bound: str = "auto", cells=None, progress=None) -> SupErrorReport:
    """Certified bracket of sup_{[0,1]^n} |f − Φ| by branch and bound (docs/theory.md §5).

    Parameters
    ----------
    target : HolderTarget
        f with its declared (α, C) (and (s, D) where declared); the certificate is conditional on them.
    moe : MixtureOfExperts or MLP
        Φ: any mixture, or a single network R^n → R (its one cell is the cube).
    rtol : float, default 1e-3
        Stop once ``upper − lower <= rtol·lower + atol``.
    max_evals : int, default 2**22
        Budget of box evaluations; at least the number of experts.
    atol : float or None
        Absolute floor of the bracket width, counted in ``certified``. None: 0 for ``certified``;
        the splitting then stops at ``resolution`` = ATOL_FACTOR times the largest float64 margin of
        f − Φ at the cell centres (about 1e-14 for |f| ~ 1), below which float64 cannot separate the
        bracket's ends, and such a bracket is reported with ``limited_by="float64"``.
    bound : {"auto", "lipschitz", "per_axis", "affine", "linear"}
        "auto": the per-axis Lipschitz bound on every box and the affine-form bound (the linear relaxation
        for experts of depth >= LINEAR_DEPTH) where it can win
        (module docstring). For comparisons: "lipschitz", the isotropic Λρ bound with boxes halved
        along their longest axes (the plain Lipschitz branch and bound); "per_axis", the per-axis
        bound alone; "affine" or "linear" (CROWN-style relaxation, docs/theory.md §5), that bound on
        every box besides the per-axis one. :func:`box_bounds` compares them on given boxes.
    cells : array_like of int, optional
        Bracket the sup over these cells only (per-cell arrays then follow this order). The sup over
        the cube is the max over cells, so processes that take disjoint sets of cells (one per host,
        e.g. ``cells = np.arange(L)[jax.process_index()::jax.process_count()]``) certify the whole
        cube together: lower = max of the lowers, upper = max of the uppers (README, several machines).
    progress : bool or None
        A tqdm bar of the cells decided, with evaluations and the running bracket; None (default):
        shown when stderr is a terminal or in a Jupyter kernel.

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
    check_target(target)
    moe = as_mixture(check_network(moe, "moe"))
    if target.n != moe.n:
        raise ValueError(f"target is defined on n={target.n} but the MoE on n={moe.n}")
    rtol = check_positive(rtol, "rtol")
    max_evals = check_int(max_evals, "max_evals")
    if bound not in BOUNDS:
        raise ValueError(f"bound must be one of {BOUNDS}, got {bound!r}")
    if atol is not None and (isinstance(atol, bool) or not np.isfinite(atol) or atol < 0):
        raise ValueError(f"atol must be a finite number >= 0 or None, got {atol!r}")
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
    resolution = []

    def threshold(st):  # boxes close at rtol, or at the float64 resolution of f − Φ (or the user's atol)
        if not resolution:
            resolution.append(ATOL_FACTOR * float(np.max(st.centre_margin)))
        return np.full(len(lo), st.lower * (1 + rtol) + (resolution[0] if atol is None else atol))

    st = branch_and_bound(target, lo, hi, experts, threshold, max_evals, progress, family=family_of(moe, experts, lo, hi),
                          size=moe.size, bound=bound)
    cell_upper = st.cell_upper_all()
    upper = float(cell_upper.max())
    if st.lower > upper:
        raise RuntimeError(f"internal error: lower bound {st.lower!r} > upper bound {upper!r}; please report it")
    certified, limited_by = _verdict(st, upper, rtol, 0.0 if atol is None else atol, resolution[0])
    return SupErrorReport(
        lower=st.lower, upper=upper, argmax=st.argmax, evaluations=st.evaluations, certified=certified,
        seconds=time.perf_counter() - start, limited_by=limited_by, resolution=resolution[0],
        boxes=st.boxes, rtol=rtol, atol=0.0 if atol is None else atol, affine_evaluations=st.affine_evaluations,
        cell_lower=st.cell_lower, cell_upper=cell_upper, lipschitz=st.lipschitz, assumptions=assumptions,
        basis=basis(target),
    )


def _verdict(st, upper, rtol, atol, resolution) -> tuple[bool, str | None]:
    """(certified, limited_by) of a finished branch and bound (docs/theory.md §5).

    Certified: upper − lower <= rtol·lower + atol, atol being the user's (0 by default). Otherwise
    "float64" when the bracket is within the float64 resolution of f − Φ (or a box could not be split
    further) and no box was left open, else "budget".
    """
    width = upper - st.lower
    if width <= rtol * st.lower + atol:
        return True, None
    if (st.open_cell is None or not len(st.open_cell)) and (st.float_limited or width <= rtol * st.lower + resolution):
        return False, "float64"
    return False, "budget"


def box_bounds(target, moe, cell, lo, hi, method: str = "auto") -> np.ndarray:
    """Upper bounds of sup_B |f − Φ| on the boxes B = [lo_j, hi_j] of cells ``cell_j``, by one method.

    For comparing the per-box bounds of :func:`sup_error` on the same boxes (docs/theory.md §5):
    "lipschitz" (|f(c) − Φ(c)| + ω + Λρ), "per_axis" (Σ_i Λ_i r_i in place of Λρ), "affine" (the
    affine form), "linear" (the CROWN-style relaxation), "auto" (the smallest of per_axis and, where
    ``sup_error`` would compute it, affine). Each box must lie in its cell.

    Parameters
    ----------
    target : HolderTarget
    moe : MixtureOfExperts or MLP
    cell : array_like of int, shape (N,)
    lo, hi : array_like, shape (N, n)
    method : {"auto", "lipschitz", "per_axis", "affine", "linear"}

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
    >>> [bool(ma.supnorm.box_bounds(f, moe, [0], lo, hi, m)[0] >= 0) for m in ("lipschitz", "affine")]
    [True, True]
    """
    if method not in BOUNDS:
        raise ValueError(f"method must be one of {BOUNDS}, got {method!r}")
    check_target(target)
    moe = as_mixture(check_network(moe, "moe"))
    cell = np.asarray(cell, np.int64)
    lo, hi = np.atleast_2d(np.asarray(lo, np.float64)), np.atleast_2d(np.asarray(hi, np.float64))
    cell_lo, cell_hi = moe.partition.all_bounds()
    if lo.shape != hi.shape or lo.shape != (len(cell), moe.n) or np.any(lo > hi) or \
            np.any(lo < cell_lo[cell]) or np.any(hi > cell_hi[cell]):
        raise ValueError("lo, hi must be (N, n) boxes, each inside its cell")
    evaluate = _Evaluator(target, moe.experts, cell_lo, cell_hi, family_of(moe), moe.size,
                          "per_axis" if method in ("per_axis", "auto") else method)
    centre, radius = covering_box(lo, hi)
    fc, _, upper, _, grad, omega, _ = evaluate.points(cell, centre, radius)
    if method in ("lipschitz", "per_axis"):
        return upper
    evaluate.bound = method if method != "auto" else "affine"
    second = evaluate.affine(cell, centre, radius, fc, grad)
    if method != "auto":
        return second
    evaluate.bound = "auto"
    return np.where(evaluate.wants_affine(cell, radius, omega), np.minimum(upper, second), upper)


def basis(target) -> str:
    """What a certificate for ``target`` rests on (docs/theory.md §5, §9)."""
    return "rigorous: from the formula" if is_formula(target) else "conditional on the declared constants"
