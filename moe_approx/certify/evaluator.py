"""Boxes grouped by cell into slots and evaluated in batches, weights resident on the device."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import numpy as np

from .._checks import check_memory
from ..experts import cpwl as _cpwl
from ..boxes import covering_box, row_max
from ..lipschitz import cell_bucket, cell_constants
from ..mlp import index_stack
from .kernels import _affine_kernel, _point_kernel, row_max as kernel_row_max
from .kuhn import MAX_N, KuhnPieces, construction_rounding, kuhn_kernel, kuhn_pieces, lane_bytes
from .linear import linear_kernel
from .report import is_formula

CAPACITIES = (1, 16)  # boxes per slot (all of one cell); 16 only where gathering a cell's weights is costly
MAX_LANES = 2**15  # boxes per kernel call, at most
BUCKETS = 2  # box counts per kernel call: MAX_LANES (or less, for memory) divided by 1, 8 (a third, /64, cost more
# to compile than it saved in bench_supnorm case 11)
ONE_SIZE = 2**12  # boxes per call of the kernels on Kuhn pieces, and 8·ONE_SIZE on large steps (one size of 2^14
# compiled 0.2 s less on bench_supnorm case 2's first call, but padding small steps to it made small runs,
# case 7 on the cusp formula, three times slower)
AFFINE_GAIN = 2.0  # the affine-form bound is tried where Λρ > AFFINE_GAIN·ω(ρ) (or for first-order targets)
KERNEL_BYTES = 2**28  # memory of one kernel call, at most (estimate)
LINEAR_DEPTH = 7  # "auto" uses the linear relaxation in place of the affine form for experts this deep (bench_supnorm case 10)




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


def _identity(cell: np.ndarray) -> _Slots:
    """One box per slot, in order: the kernels on Kuhn pieces read each box's cell and no weights."""
    lanes = np.arange(len(cell))
    return _Slots(cell, lanes[:, None], lanes)


def _box_ends(centre, radius):
    """:func:`.kernels._box_ends` on the host: the same float operations, so the same ends."""
    return np.maximum(centre - radius, 0.0), np.minimum(centre + radius, 1.0)


def _formula_slopes(target, lo, hi, size: int) -> np.ndarray:
    """Per-cell slopes of a formula along each axis, to steer the splitting (not part of any bound):
    sup_cell |∂_i f| from the gradient enclosure, or, where f is not C¹ on the cell (a kink: the
    enclosure is infinite), the variation of f along axis i through the cell's centre over the cell's
    width, so that an infinite slope along one axis does not stop the others from being split. The
    gradient enclosure runs in calls of ``size`` boxes, the second bound's smallest chunk."""
    centre, radius = covering_box(lo, hi)
    box_lo, box_hi = _box_ends(centre, radius)
    d_lo, d_hi = _gradient_enclosure(target, box_lo, box_hi, size)
    slopes = np.nan_to_num(np.maximum(np.abs(d_lo), np.abs(d_hi)), nan=np.inf, posinf=np.inf)
    for i in np.nonzero(~np.all(np.isfinite(slopes), axis=0))[0]:
        line_lo, line_hi = centre.copy(), centre.copy()
        line_lo[:, i], line_hi[:, i] = box_lo[:, i], box_hi[:, i]
        f_lo, f_hi, _ = (np.asarray(a) for a in target._compiled["value"](line_lo, line_hi))
        proxy = np.nan_to_num((f_hi - f_lo) / (box_hi[:, i] - box_lo[:, i]), nan=1e300, posinf=1e300)
        slopes[:, i] = np.where(np.isfinite(slopes[:, i]), slopes[:, i], proxy)
    return slopes


class _Evaluator:
    """Evaluates boxes (cell, centre, radius): both bounds, cell-blocked, weights resident on the device."""

    def __init__(self, target, experts, lo, hi, family=None, size=None, bound="auto"):
        self.target, self.n, self.bound, self.depth = target, lo.shape[1], bound, len(experts.layers)
        self.first_order = (target.smoothness is not None or target.constants_source.startswith("computed")
                            if is_formula(target) else target.derivative_order == 1)
        self.num_cells = lo.shape[0]
        self.cell_lo, self.cell_hi = lo, hi
        host = jax.tree_util.tree_map(np.asarray, experts)
        k = (size or {}).get("k", _cpwl.SIZE_DEFAULTS["k"])
        # the Kuhn pieces of checked cpwl experts (n >= 2): Φ(c), and the second bound for n <= MAX_N
        pieces = kuhn_pieces(host, lo, hi, k) if family is _cpwl and bound in ("auto", "kuhn") else None
        exact = None if pieces is None else _cpwl.lipschitz(host, lo, hi, k)
        if exact is not None:  # Φ(c) and its δ from the pieces, exact Λ: the weights' bounds are not needed
            self.lip, self.lip_axes = exact, _cpwl.axis_lipschitz(host, lo, hi, k)
            self.delta = pieces.centre_error(self.lip)
        else:
            self.lip, self.delta, self.lip_axes = cell_constants(experts, lo, hi, family, size, axes=True)
            if family is _cpwl:  # Λ is exact for the interpolant K, and |Φ − K| <= η: |Φ(x) − Φ(c)| <= Λρ + 2η
                self.delta = self.delta + 2 * construction_rounding(host, lo, hi, k)
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
        gathered = sum(np.size(a) for a in jax.tree_util.tree_leaves(host) if np.ndim(a) >= 2 and
                       np.shape(a)[0] == self.num_cells) / self.num_cells  # per-cell floats gathered per slot
        self.capacities = CAPACITIES if gathered > 4 * sum(experts.widths) else CAPACITIES[:1]
        self.sharding = None
        if len(self.devices) > 1:
            mesh = jax.sharding.Mesh(np.array(self.devices), ("slots",))
            self.sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("slots"))
        pad = np.resize(np.arange(self.num_cells), cell_bucket(self.num_cells))  # repeated cells: few kernel shapes
        self.experts = jax.device_put(index_stack(host, pad))  # (device_put: jnp.asarray compiles a copy per shape)
        self.lip_dev, self.delta_dev, self.lip_axes_dev = jax.device_put([a[pad] for a in (self.lip, self.delta, self.lip_axes)])
        pieces = None if pieces is None else KuhnPieces(*jax.device_put([a[pad] for a in pieces]))
        self.point_operand = self.experts if pieces is None else pieces
        self.kuhn = pieces if self.n <= MAX_N else None
        if bound == "kuhn" and self.kuhn is None:
            raise ValueError(f"bound='kuhn' needs cpwl experts (checked by their label) with 2 <= n <= {MAX_N}")
        self.second_operand = self.experts if self.kuhn is None else self.kuhn
        self.second_bytes = self.affine_bytes if self.kuhn is None else lane_bytes(self.n)
        self.target_axes = np.zeros_like(self.lip_axes)  # a formula's slopes sup_cell |∂_i f|, to steer the splitting
        if is_formula(target):
            self.target_axes = _formula_slopes(target, lo, hi, _buckets(self.second_bytes, self.kuhn is not None)[0])
        self.split_slopes = self.lip_axes + self.target_axes  # per cell: a box's per-axis scores are these times r
        self.part_size = _buckets(self._points_kernel()[1], self.point_operand is not self.experts)[-1]  # the point
        # kernel's largest call

    def _plan(self, N: int, lane_bytes: int, operand):
        """The kernel calls (start, stop, size) for N boxes in chunks of at most KERNEL_BYTES, each padded to the
        smallest of the BUCKETS that fits (few shapes: each costs a compilation of tenths of a second or more).
        On the Kuhn pieces (``operand`` not the experts; cheap per box): chunks of ONE_SIZE, and of 8·ONE_SIZE
        while that many boxes are left (a small step is not padded to a large size, a large one is not cut
        into many calls, and only large steps compile the large size)."""
        buckets, start = _buckets(lane_bytes, operand is not self.experts), 0
        top = buckets[-1]
        while start < N:
            if operand is not self.experts:
                size = top if N - start >= top else buckets[0]
            else:
                size = next((b for b in buckets if b >= N - start), top)
            yield start, min(N, start + size), size
            start += size

    def _call(self, kernel, operand, cell, size: int, per_box):
        """Dispatch ``kernel`` on the boxes of ``cell`` and ``per_box`` (at most ``size``; padded by repeating the
        first box), without waiting for it."""
        take = slice(None)
        if len(cell) < size:
            take = np.zeros(size, np.int64)
            take[: len(cell)] = np.arange(len(cell))
        slots = _identity(cell[take]) if operand is not self.experts else \
            _group(cell[take], self.num_cells, size, len(self.devices), self.capacities)
        index = [slots.slot_cell, slots.slot_point]
        if self.sharding is not None:
            index = [jax.device_put(a, self.sharding) for a in index]
        return kernel(operand, *index, slots.point_lane, *(None if a is None else a[take] for a in per_box))

    def _run(self, kernel, lane_bytes, operand, cell, *per_box):
        """``kernel`` over the boxes in the chunks of :meth:`_plan`, the outputs concatenated."""
        outs = [_fetch(self._call(kernel, operand, cell[start:stop], size, [None if a is None else a[start:stop]
                                                                              for a in per_box]), stop - start)
                for start, stop, size in self._plan(len(cell), lane_bytes, operand)]
        return [None if outs[0][k] is None else np.concatenate([o[k] for o in outs]) for k in range(len(outs[0]))]

    def _points_kernel(self):
        """The point kernel as :meth:`_run` calls it and its bytes per box."""
        kernel = partial(_point_kernel, self.target)
        return (lambda ex, sc, sp, pl, c, r, ce: kernel(ex, sc, sp, pl, c, r, ce, self.lip_dev, self.delta_dev,
                                                        self.lip_axes_dev),
                self.point_bytes if self.point_operand is self.experts else 64 * (self.n + 8) ** 2)

    def points(self, cell, centre, radius):
        """(f(c), Φ(c), Lipschitz upper, lower, ∇f(c) or None, f-variation term) for boxes (N,), (N, n), (N, n)."""
        return self._run(*self._points_kernel(), self.point_operand, cell, centre, radius, cell)

    def points_in_parts(self, blocks):
        """:meth:`points` on ``blocks`` of boxes (cell, lo, hi, extra: arrays along the boxes), handed back
        part by part as (cell, lo, hi, extra, centre, radius, outputs), each part one kernel call on its
        covering boxes (:func:`covering_box`). The next part's call is dispatched before a part is handed
        back, and the next block is asked for only after the last part of a block is dispatched: the host's
        work on one part, or on making the next block, runs while the device computes (on a CPU, XLA runs
        this kernel on one core, and the other is free)."""
        kernel, lane_bytes = self._points_kernel()
        pending = None
        for cell, lo, hi, extra in blocks:
            for start, stop, size in self._plan(len(cell), lane_bytes, self.point_operand):
                part = slice(start, stop)
                centre, radius = covering_box(lo[part], hi[part])
                out = self._call(kernel, self.point_operand, cell[part], size, (centre, radius, cell[part]))
                if pending is not None:
                    yield *pending[:-1], _fetch(pending[-1], len(pending[0]))
                pending = (cell[part], lo[part], hi[part], tuple(a[part] for a in extra), centre, radius, out)
        if pending is not None:
            yield *pending[:-1], _fetch(pending[-1], len(pending[0]))

    def affine(self, cell, centre, radius, fc, grad):
        """The second bound of boxes with known f(c), ∇f(c) (a formula's enclosures in its place; the point
        kernel's outputs, :func:`second_bound_kernel`)."""
        kernel = second_bound_kernel(self.target, self.bound, self.depth, self.kuhn is not None)
        if is_formula(self.target):  # ∇f's enclosure in a call of its own, per chunk (:func:`_gradient_enclosure`)
            kernel = partial(_with_gradient, self.target, kernel)
        return self._run(kernel, self.second_bytes, self.second_operand, cell, centre, radius, fc, grad)[0]

    def wants_affine(self, cell, radius, omega):
        """The boxes that get the second bound (:func:`affine_wanted`), as a mask or one bool for all."""
        return affine_wanted(self.bound, self.first_order, self.lip[cell], radius, omega)


def _fetch(out, count: int) -> list:
    """A kernel call's outputs on the host, the padding cut off (waits for the call)."""
    return [None if o is None else np.asarray(o)[:count] for o in out]


def _buckets(lane_bytes: int, one_size: bool) -> list:
    """The box counts of a kernel's calls (:meth:`_Evaluator._run`), smallest first."""
    top = max(8, min(MAX_LANES, 1 << int(KERNEL_BYTES // lane_bytes).bit_length() - 1))
    if one_size:
        return [min(top, ONE_SIZE), min(top, 8 * ONE_SIZE)]
    return [max(8, top >> 3 * j) for j in range(BUCKETS - 1, -1, -1)]


def _gradient_enclosure(target, lo, hi, size: int):
    """A formula's compiled gradient enclosure on boxes [lo, hi] (N, n), in calls of ``size`` boxes (the
    last padded): the second-bound kernels' chunks and the cells' slopes then share one compilation."""
    out = []
    for start in range(0, len(lo), size):
        take = np.resize(np.arange(start, min(len(lo), start + size)), size)
        out.append([np.asarray(d)[: min(size, len(lo) - start)] for d in target._compiled["gradient"](lo[take], hi[take])])
    return tuple(np.concatenate(parts) for parts in zip(*out))


def _with_gradient(target, kernel, operand, slot_cell, slot_point, point_lane, centre, radius, fc, known):
    """``kernel`` on a chunk of boxes, the formula's gradient enclosure on them (:func:`_box_ends`), from a
    call of its own, appended to the point kernel's enclosures ``known``."""
    if known is not None:  # (None: the kernel computes every enclosure itself)
        known = np.concatenate([known, *_gradient_enclosure(target, *_box_ends(centre, radius), len(centre))], axis=1)
    return kernel(operand, slot_cell, slot_point, point_lane, centre, radius, fc, known)


def second_bound_kernel(target, bound: str, depth: int, kuhn: bool = False):
    """The jitted kernel of the second bound: the Kuhn-piece bound of cpwl experts
    (:mod:`moe_approx.certify.kuhn`, ``kuhn``: their pieces are known) with "auto" or "kuhn"; the linear
    (CROWN-style) relaxation of f − Φ (:mod:`moe_approx.certify.linear`) with ``bound="linear"``, or with
    "auto" on experts of depth >= LINEAR_DEPTH; the affine form otherwise. Its first argument is the
    evaluator's ``second_operand`` (the pieces or the experts)."""
    if kuhn and bound in ("auto", "kuhn"):
        return partial(kuhn_kernel, target)
    linear = bound == "linear" or (bound == "auto" and depth >= LINEAR_DEPTH)
    return partial(linear_kernel, target, intermediate="forward") if linear else partial(_affine_kernel, target)


def affine_wanted(bound: str, first_order: bool, lip, radius, omega):
    """Boxes that get the second bound, for numpy or JAX arrays: with ``bound="auto"`` those whose Lipschitz
    term Λρ (``lip`` per box) exceeds AFFINE_GAIN times the target's variation term ``omega`` (only then can
    the second bound, which keeps that term, gain much), or any box of a first-order target; all with
    "affine", "linear" or "kuhn", none with "lipschitz" or "per_axis" (then a bool for all boxes). First
    order: a declared s in (1, 2], or a formula known to be C¹ (declared smoothness, or a Lipschitz
    constant computed from its gradient), whose mean-value form falls like ρ². (The Kuhn bound on every
    box of other targets measured slower: bench_supnorm case 2, 4.4 s against 3.4 s for 4% fewer boxes.)"""
    if bound != "auto" or first_order:
        return bound in ("auto", "affine", "linear", "kuhn")
    rho = row_max(radius) if isinstance(radius, np.ndarray) else kernel_row_max(radius)
    return lip * rho > AFFINE_GAIN * omega
