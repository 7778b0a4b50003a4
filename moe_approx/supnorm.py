"""Certified uniform error ‖f − Φ‖_∞ of a mixture of experts (THEORY.md §5).

Branch and bound over boxes, each inside one cell (expert Φ_l), with centre c and per-axis
radius r (∞-radius ρ = max r):

- lower bound: |f(c) − Φ(c)| at every evaluated centre;
- upper bound on sup_B |f − Φ|: Φ_l is enclosed by an affine form with interval remainder,
  Φ_l(c + r∘u) ∈ g₀ + g·u + [−ρ_Φ, ρ_Φ] for u ∈ [−1, 1]^n, propagated through the explicit
  weights (DeepZ-style: a pre-activation that keeps its sign on B passes through exactly, one
  that changes sign is replaced by its chord plus an interval). Where no pre-activation changes
  sign ρ_Φ = 0 and the form is Φ_l itself. With f(B) ⊆ f(c) ± ω(ρ), ω(ρ) = C ρ^α,

      sup_B |f − Φ| ≤ |f(c) − g₀| + Σ|g_i| + ρ_Φ + ω(ρ)                 (Hölder bound),

  and, for a target of smoothness s ∈ (1, 2] (∇f (s−1, D)-Hölder), with the first-order
  Taylor remainder T(ρ) = D n ρ^s Γ(s)/Γ(s+1) (HolderTarget.taylor_remainder_bound),

      sup_B |f − Φ| ≤ |f(c) − g₀| + Σ|∂_i f(c) r_i − g_i| + ρ_Φ + T(ρ)  (first-order bound).

  The smaller of the two is used.
- floating-point margin (stated): every affine layer adds three times the standard dot-product
  rounding bound γ_{d+2}·(|W|ᵀ M + |b|) (Higham 2002, §3.1; M bounds |layer input| on B by the
  enclosure; once each for the centre row, the generator rows together, and the remainder) to
  each neuron, carried to the output by the linearised network (chords, a backward pass), or by
  |W|ᵀ and the activations' Lipschitz constants where that is smaller; plus
  ``TARGET_RTOL``·(|f(c)| + |g₀| + Σ|g_i| + ρ_Φ + ω(ρ) + Σ|∂_i f(c)| r_i), which covers the target's
  own evaluation error (assumed below ``TARGET_RTOL`` relative) and the final sums.

The box with the largest upper bound is split (a batch of the largest at each step, halving every
long axis) until ``upper − lower ≤ rtol·lower + atol``. Boxes of one step are grouped by cell
into slots and every expert runs as dense batched matmuls over its own boxes (jitted, float64,
bucketed shapes); with several JAX devices the slots are sharded across them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_int, check_memory, check_positive
from .mlp import index_stack
from .moe import group_by_cell

UNIT_ROUNDOFF = 2.0**-53
TARGET_RTOL = 2.0**-48  # assumed relative accuracy of the target's float64 evaluation
DEFAULT_ATOL = 1e-12  # absolute floor of the bracket width, times max(1, max|f(c)|) when atol is None
HOLDER_SLACK = 1e-9  # relative slack when checking sampled pairs against the declared (alpha, C)
STEP_BOXES = 2**14  # children evaluated per branch-and-bound step (at least)
MAX_STEP_BOXES = 2**17  # (at most)
CAPACITY = 16  # boxes per slot (all of one cell)
MAX_SLOTS = 2**10  # slots per kernel call, at most
KERNEL_BYTES = 2**28  # memory of one kernel call, at most (estimate)
BUCKETS = 3  # kernel shapes per architecture


@dataclass(frozen=True)
class SupErrorReport:
    """Bracket ``lower <= sup|f − Φ| <= upper``; ``certified`` when ``upper − lower <= rtol·lower + atol``.

    ``evaluations``: boxes evaluated (one f and one Φ evaluation plus one expert enclosure each);
    ``boxes``: the final boxes (leaves of the splitting tree) that cover the cube.
    ``cell_lower``/``cell_upper``: the same bracket per cell (the upper bounds are proven for every
    cell; the bracket meets rtol only for the cells that decide the global maximum).
    """

    lower: float
    upper: float
    argmax: np.ndarray
    evaluations: int
    certified: bool
    seconds: float
    boxes: int = 0
    rtol: float = math.nan
    atol: float = math.nan
    cell_lower: np.ndarray = field(default=None, repr=False)
    cell_upper: np.ndarray = field(default=None, repr=False)


def cell_grid(lo, hi, points_per_side: int) -> np.ndarray:
    """Midpoints of a p^n sub-grid of every cell: (L, p^n, n), each row inside its (half-open) cell."""
    lo, hi = np.asarray(lo), np.asarray(hi)
    n = lo.shape[-1]
    t = (np.arange(points_per_side) + 0.5) / points_per_side
    local = np.stack(np.meshgrid(*([t] * n), indexing="ij"), axis=-1).reshape(-1, n)
    return lo[:, None, :] + local[None] * (hi - lo)[:, None, :]


def sampled_error(target, moe, points_per_side: int, chunk_points: int = 2**20):
    """max |f − Φ| over the cell grid of ``points_per_side``^n points per cell, and its argmax."""
    lo, hi = moe.partition.all_bounds()
    per_cell = points_per_side**moe.n
    cells_per_chunk = max(1, chunk_points // per_cell)
    best, where = -np.inf, None
    for start in range(0, moe.num_experts, cells_per_chunk):
        sl = slice(start, start + cells_per_chunk)
        pts = cell_grid(lo[sl], hi[sl], points_per_side)
        err = np.asarray(jnp.abs(target(pts) - moe.apply_blocked(pts, sl)))
        i = np.unravel_index(np.argmax(err), err.shape)
        if err[i] > best:
            best, where = float(err[i]), pts[i]
    return best, where


# --- the bound of one box ------------------------------------------------------------------------


def _gamma(k: int) -> float:
    """γ_k = k u / (1 − k u): relative rounding bound of a k-term float64 dot product."""
    return k * UNIT_ROUNDOFF / (1 - k * UNIT_ROUNDOFF)


def _lift(v, extra: int):
    """A per-neuron array (d,) or (S, d) broadcast against (S, P, [k,] d)."""
    if v.ndim == 1:
        return v
    return v.reshape(v.shape[:1] + (1,) * (extra + 1) + v.shape[1:])


@jax.jit
def _expert_kernel(nets, centre, radius):
    """Φ(c) and the affine form g₀ + g·u ± rem of Φ on each box, plus the rounding bound ``margin``.

    ``nets``: one expert per slot (stack (S,), or shared layers), boxes (S, P, n).
    Returns arrays (S, P) except g (S, P, n).
    """
    S, P, n = centre.shape
    # rows: 0 = Φ at the centre, 1 = centre of the affine form, 2.. = its generators r_i e_i
    h = jnp.concatenate([centre[:, :, None, :], centre[:, :, None, :], radius[..., None] * jnp.eye(n)], axis=2)
    bias_rows = jnp.zeros(n + 2).at[:2].set(1.0)[:, None]
    rem = jnp.zeros((S, P, n))  # interval remainder of the form
    mag = jnp.abs(centre) + radius  # bound of |layer input| on the box
    err = jnp.zeros((S, P, n))  # crude bound of the accumulated rounding error (widens the intervals)
    rounding, chords, slacks = [], [], []
    for l, (w, b) in enumerate(nets.layers):
        wa = jnp.abs(w)
        spec = "spkd,sde->spke" if w.ndim == 3 else "spkd,de->spke"
        h = jnp.einsum(spec, h, w) + bias_rows * _lift(b, 1)
        mat = (lambda v: jnp.einsum("spd,sde->spe", v, wa)) if w.ndim == 3 else (lambda v: v @ wa)
        rem = mat(rem)
        # rounding of this layer: centre row, generator rows, remainder, each <= γ (|W|ᵀ|y| + |b|)
        rounding.append(3 * _gamma(w.shape[-2] + 2) * (mat(mag) + _lift(jnp.abs(b), 0)))
        err = mat(err) + rounding[-1]
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
    return h[:, :, 0, 0], h[:, :, 1, 0], h[:, :, 2:, 0], rem[..., 0], jnp.minimum(margin, err[..., 0])


@partial(jax.jit, static_argnums=0)
def _target_kernel(target, x):
    """f(x) and, for smoothness s in (1, 2], ∇f(x), for points (N, n)."""
    if target.derivative_order == 1:
        return target.fn(x), jax.grad(lambda z: jnp.sum(target.fn(z)))(x)
    return target.fn(x), None


def _box_upper(target, fc, grad, g0, g, rem, err, radius):
    """The proven upper bound of sup_B |f − Φ| (module docstring: Hölder and first-order bounds, margin)."""
    rho = np.max(radius, axis=-1)
    omega = target.modulus(rho)
    gap = np.abs(fc - g0) + rem
    g_abs = np.sum(np.abs(g), -1)
    upper = gap + g_abs + omega
    scale = np.abs(fc) + np.abs(g0) + g_abs + rem + omega
    if grad is not None:
        taylor = target.taylor_remainder_bound(rho)
        upper = np.minimum(upper, gap + np.sum(np.abs(grad * radius - g), -1) + taylor)
        scale = scale + np.sum(np.abs(grad) * radius, -1) + taylor
    return upper + err + TARGET_RTOL * scale


def _activation(h, rem, err, a):
    """σ_a on the point row and the chord relaxation of σ_a on the affine form (THEORY.md §5).

    Also returns the bound of |σ_a| on the box, the chord slopes and the relaxation's rounding slack.
    """
    centre, gens = h[:, :, 1], h[:, :, 2:]
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
    point = sigma(h[:, :, 0])
    form = chord[:, :, None] * h[:, :, 1:]
    form = form.at[:, :, 0].add(0.5 * (low + high))
    rem = jnp.abs(chord) * rem + 0.5 * (high - low)
    slack = jnp.where(crossing, _gamma(4) * (jnp.abs(s_lo) + jnp.abs(s_hi) + jnp.abs(chord) * (hi - lo)), 0.0)
    mag = jnp.maximum(jnp.abs(s_lo), jnp.abs(s_hi))  # σ_a is piecewise linear with σ_a(0) = 0
    return jnp.concatenate([point[:, :, None], form], axis=2), rem, err + slack, mag, chord, slack


# --- evaluation of a batch of boxes ---------------------------------------------------------------


class _Evaluator:
    """Evaluates boxes (cell, centre, radius) cell-blocked, sharded across the JAX devices.

    The expert kernel runs on ``slots`` slots of CAPACITY boxes, ``slots`` one of BUCKETS sizes
    (a memory-bounded maximum divided by powers of 8), with the slots' expert weights gathered on the host: a whole run,
    whatever the number of cells, compiles the expert kernel at most a few times per architecture
    and the target kernel once per shape and target.
    """

    def __init__(self, target, experts, n: int):
        self.target, self.n = target, n
        self.devices = jax.devices()
        self.num_cells = experts.batch_shape[0]
        self.experts = jax.tree_util.tree_map(np.asarray, experts)
        lane_bytes = 8 * 4 * (n + 4) * (max(experts.widths[1:]) + n)  # activations, forms, temporaries
        most = max(1, min(MAX_SLOTS, KERNEL_BYTES // (CAPACITY * lane_bytes)))
        self.buckets = sorted({max(1, most >> 3 * j) for j in range(BUCKETS)})
        check_memory(self.buckets[-1] * CAPACITY * lane_bytes, "sup_error kernel")
        ndev = len(self.devices)
        self.buckets = [-(-b // ndev) * ndev for b in self.buckets]
        self.sharding = None
        if ndev > 1:
            mesh = jax.sharding.Mesh(np.array(self.devices), ("slots",))
            self.sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("slots"))

    def _put(self, tree):
        if self.sharding is None:
            return jax.tree_util.tree_map(jnp.asarray, tree)
        return jax.tree_util.tree_map(lambda a: jax.device_put(a, self.sharding), tree)

    def __call__(self, cell, centre, radius):
        """(f(c), Φ(c), upper) for boxes given as arrays (N,), (N, n), (N, n)."""
        d = group_by_cell(cell, self.num_cells, 8, CAPACITY, self.buckets[0])
        parts, start, total = [], 0, len(d.slot_cell)
        while start < total:
            size = next((b for b in self.buckets if b >= total - start), self.buckets[-1])
            take = np.arange(start, start + size) % total  # the last chunk repeats slots as padding
            nets = index_stack(self.experts, d.slot_cell[take])
            lanes = d.slot_point[take]
            out = _expert_kernel(*self._put((nets, centre[lanes], radius[lanes])))
            parts.append([np.asarray(o)[: min(size, total - start)] for o in out])
            start += size
        phi, g0, g, rem, err = (np.concatenate([p[k].reshape(-1, *p[k].shape[2:]) for p in parts])[d.point_lane]
                                for k in range(5))
        fc, grad = self._target(centre)
        return fc, phi, _box_upper(self.target, fc, grad, g0, g, rem, err, radius)

    def _target(self, x):
        """f and ∇f at the points (N, n), in chunks of bucket shapes."""
        parts, start, sizes = [], 0, [b * CAPACITY for b in self.buckets]
        while start < len(x):
            size = next((b for b in sizes if b >= len(x) - start), sizes[-1])
            take = np.arange(start, start + size) % len(x)
            out = _target_kernel(self.target, self._put(x[take]))
            parts.append([None if o is None else np.asarray(o)[: min(size, len(x) - start)] for o in out])
            start += size
        fc = np.concatenate([p[0] for p in parts])
        return fc, None if parts[0][1] is None else np.concatenate([p[1] for p in parts])


def _split(centre, radius):
    """Children of boxes: every axis at least half as long as the longest is halved."""
    n = centre.shape[1]
    bits = np.stack(np.unravel_index(np.arange(2**n), (2,) * n), axis=-1).astype(bool)  # (2^n, n)
    long = radius >= 0.5 * radius.max(axis=1, keepdims=True)  # (B, n)
    valid = ~np.any(bits[None] & ~long[:, None], axis=2)  # (B, 2^n): children of unsplit axes dropped
    parent, child = np.nonzero(valid)
    half = np.where(long, 0.5 * radius, radius)[parent]
    sign = np.where(bits[child], 1.0, -1.0)
    offset = np.where(long[parent], sign * half, 0.0)
    return parent, centre[parent] + offset, half


@dataclass
class _State:
    """The branch-and-bound state: per-cell brackets and the open boxes."""

    cell_lower: np.ndarray
    cell_upper: np.ndarray  # max upper over closed boxes of each cell
    lower: float = -np.inf
    argmax: np.ndarray = None
    evaluations: int = 0
    boxes: int = 0
    open_cell: np.ndarray = None
    open_centre: np.ndarray = None
    open_radius: np.ndarray = None
    open_upper: np.ndarray = None
    open_fc: np.ndarray = None

    OPEN = ("open_cell", "open_centre", "open_radius", "open_upper", "open_fc")

    def add_open(self, *arrays):
        if self.open_cell is None:
            self.open_cell, self.open_centre, self.open_radius, self.open_upper, self.open_fc = arrays
        else:
            for name, a in zip(self.OPEN, arrays):
                setattr(self, name, np.concatenate([getattr(self, name), a]))

    def keep_open(self, mask):
        for name in self.OPEN:
            setattr(self, name, getattr(self, name)[mask])

    def cell_upper_all(self) -> np.ndarray:
        out = self.cell_upper.copy()
        np.maximum.at(out, self.open_cell, self.open_upper)
        return out


def branch_and_bound(target, lo, hi, experts, threshold, max_evals: int, progress=None) -> _State:
    """Branch and bound over the cells [lo_i, hi_i] with experts ``experts`` (stack (L,)).

    ``threshold(state) -> (L,)``: a box of cell i stays open while its upper bound exceeds
    threshold[i]. Stops when no box is open or ``max_evals`` boxes have been evaluated.
    """
    L, n = lo.shape
    evaluate = _Evaluator(target, experts, n)
    st = _State(np.full(L, -np.inf), np.full(L, -np.inf))
    cell, centre, radius = np.arange(L), 0.5 * (lo + hi), 0.5 * (hi - lo)
    parent_fc, parent_centre = None, None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_evals, unit="box", desc="sup_error")
    try:
        while True:
            fc, phi, upper = evaluate(cell, centre, radius)
            _check_finite(fc, phi, upper, centre)
            if parent_fc is not None:
                _check_holder(target, fc, parent_fc, centre, parent_centre)
            err = np.abs(fc - phi)
            np.maximum.at(st.cell_lower, cell, err)
            i = int(np.argmax(err))
            if err[i] > st.lower:
                st.lower, st.argmax = float(err[i]), centre[i].copy()
            st.evaluations += len(cell)
            st.boxes += len(cell)  # leaves of the box tree: children in, their parent out
            st.add_open(cell, centre, radius, upper, fc)
            closed = st.open_upper <= threshold(st)[st.open_cell]
            np.maximum.at(st.cell_upper, st.open_cell[closed], st.open_upper[closed])
            if bar is not None:
                bar.update(len(cell))
                bar.set_postfix(lower=f"{st.lower:.6g}", upper=f"{max(st.cell_upper.max(), st.open_upper.max(initial=-np.inf)):.6g}",
                                open=len(st.open_cell))
            budget = max_evals - st.evaluations
            open_count = len(st.open_cell) - int(closed.sum())
            if not open_count or budget < 2**n:
                st.keep_open(~closed)
                return st
            # split the open boxes with the largest upper bounds (a quarter of them when there are many)
            count = min(open_count, max(STEP_BOXES, min(open_count // 4, MAX_STEP_BOXES)) // 2**n, budget // 2**n)
            score = np.where(closed, -np.inf, st.open_upper)
            pick = np.argpartition(-score, count - 1)[:count] if count < len(score) else np.nonzero(~closed)[0]
            parent, centre, radius = _split(st.open_centre[pick], st.open_radius[pick])
            cell = st.open_cell[pick][parent]
            parent_fc, parent_centre = st.open_fc[pick][parent], st.open_centre[pick][parent]
            st.boxes -= len(pick)
            closed[pick] = True
            st.keep_open(~closed)
    finally:
        if bar is not None:
            bar.close()


def _check_finite(fc, phi, upper, centre):
    for values, what in ((fc, "the target"), (phi, "the MoE")):
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"{what} returned a non-finite value {values[bad][0]} at x = {centre[bad][0].tolist()}")
    if np.isnan(upper).any():
        raise ValueError("the upper bound is NaN (weights or target values overflow float64)")


def _check_holder(target, fc, parent_fc, centre, parent_centre):
    """Sampled pairs (parent centre, child centre) must satisfy |f(x) − f(y)| <= C ‖x − y‖_∞^α."""
    dist = np.max(np.abs(centre - parent_centre), axis=1)
    allowed = target.modulus(dist) * (1 + HOLDER_SLACK) + TARGET_RTOL * (np.abs(fc) + np.abs(parent_fc))
    bad = np.abs(fc - parent_fc) > allowed
    if bad.any():
        j = int(np.argmax(np.abs(fc - parent_fc) - allowed))
        raise ValueError(
            f"target {target.name or 'anonymous'} violates its declared (alpha={target.alpha}, C={target.constant}): "
            f"|f(x) - f(y)| = {abs(fc[j] - parent_fc[j]):.6g} > C·‖x - y‖^alpha = {target.modulus(dist[j]):.6g} "
            f"at x = {centre[j].tolist()}, y = {parent_centre[j].tolist()}; no bound can be certified"
        )


def sup_error(target, moe, rtol: float = 1e-3, max_evals: int = 2**22, *, atol: float | None = None,
              progress=None) -> SupErrorReport:
    """Certified bracket of sup_{[0,1]^n} |f − Φ| by branch and bound (THEORY.md §5).

    Stops when ``upper − lower <= rtol·lower + atol`` (``certified``) or after ``max_evals`` box
    evaluations (``certified = False``; ``upper`` is still a proven bound). ``atol`` defaults to
    ``DEFAULT_ATOL``·max(1, max|f(c)| over the cell centres). ``progress=True`` shows a tqdm bar.
    """
    if target.n != moe.n:
        raise ValueError(f"target is defined on n={target.n} but the MoE on n={moe.n}")
    rtol = check_positive(rtol, "rtol")
    max_evals = check_int(max_evals, "max_evals")
    if max_evals < moe.num_experts:
        raise ValueError(f"max_evals must be at least the number of experts ({moe.num_experts}), got {max_evals}")
    if atol is not None and (isinstance(atol, bool) or not np.isfinite(atol) or atol < 0):
        raise ValueError(f"atol must be a finite number >= 0 or None, got {atol!r}")
    start = time.perf_counter()
    lo, hi = moe.partition.all_bounds()
    floor = [atol]

    def threshold(st):
        if floor[0] is None:
            floor[0] = DEFAULT_ATOL * max(1.0, float(np.max(np.abs(st.open_fc))))
        return np.full(len(lo), st.lower * (1 + rtol) + floor[0])

    st = branch_and_bound(target, lo, hi, moe.experts, threshold, max_evals, progress)
    cell_upper = st.cell_upper_all()
    upper = float(cell_upper.max())
    return SupErrorReport(
        lower=st.lower, upper=upper, argmax=st.argmax, evaluations=st.evaluations,
        certified=upper - st.lower <= rtol * st.lower + floor[0], seconds=time.perf_counter() - start,
        boxes=st.boxes, rtol=rtol, atol=floor[0], cell_lower=st.cell_lower, cell_upper=cell_upper,
    )
