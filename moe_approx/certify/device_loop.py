"""The branch and bound on the device: a compiled loop over a fixed-capacity frontier (docs/theory.md §5).

The boxes live in a log of SLOTS_PER_BOX·batch device slots (a mask marks the open ones). One step,
inside ``lax.while_loop``: take open boxes with (nearly) the largest upper bounds (:func:`_worst`), about
2·batch/2^m of them, and cut each into 2^m children (m = min(n, MAX_SPLIT_AXES)) along the axes with the
largest shares of its bound, as :func:`moe_approx.boxes.split` does (children that would cut an axis left
whole are masked: fixed shapes), bound the children with the same kernels as the host loop (:mod:`.kernels`, :mod:`.linear`),
record their lower bounds, append them to the log and close every box whose upper bound is within
the stopping threshold (:func:`.report.close_limit`). A closed box keeps its slot and its upper bound until
the log is compacted, when its bound is folded into its cell's (a max, so the order does not matter).
The host only starts a run of steps and reads a few scalars between runs (progress, budget).

The loop stops, and leaves the rest to the host loop (:func:`.driver.branch_and_bound`), when a step
would not fit (the frontier is full or the budget is short), when a box to split has no float strictly
inside it (the host closes it at its bound), or when a check needs the host: a (child, parent) pair
that may contradict a declared constant, a non-finite value, or a lower bound above an upper one.
Children are cut at the float midpoint and bounded on their covering centre and radius, exactly as
on the host (:mod:`moe_approx.boxes`), so the covering argument and every margin are unchanged.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..assumptions import HOLDER_SLACK, SCALE_RTOL, TARGET_RTOL
from .evaluator import affine_wanted, second_bound_kernel
from .kernels import _point_kernel, power, row_max
from ..boxes import MAX_SPLIT_AXES
from .report import close_limit, is_formula
from .._config import kernel_jit

BATCHES = (2**10, 2**13, 2**15)  # boxes split per step (2·batch children bounded): one compiled loop each
SLOTS_PER_BOX = 8  # frontier slots per batch box
STEPS = 64  # steps per run between host visits (progress, budget)
SELECT_ROUNDS = 12  # bisection rounds of the selection of the boxes to split

RUNNING, FULL, STUCK, PAIR, NONFINITE, CROSSED = range(6)  # why a run stopped ("RUNNING": the step count)


class Frontier(NamedTuple):
    """The device state: open boxes in ``capacity`` slots and the per-cell and global brackets."""

    alive: jax.Array  # (F,) bool
    cell: jax.Array  # (F,) int
    lo: jax.Array  # (F, n)
    hi: jax.Array
    upper: jax.Array  # (F,)
    fc: jax.Array  # (F,) f at the box centre (for (child, parent) pairs)
    score: jax.Array  # (F, n) per-axis share of the bound: the axis to split
    cell_upper: jax.Array  # (L,) max upper over the closed boxes of each cell
    cell_lower: jax.Array
    cell_evals: jax.Array
    lower: jax.Array  # () the best attained error and where
    argmax: jax.Array  # (n,)
    evaluations: jax.Array
    affine_evaluations: jax.Array
    boxes: jax.Array
    ptr: jax.Array  # () the log's end: slots from ptr on are free
    stop: jax.Array  # why the run stopped (module constants)
    witness: jax.Array  # (2, n + 1): the points (and values) behind a PAIR or NONFINITE stop


class Config(NamedTuple):
    """What the compiled loop is specialised on (static)."""

    target: object
    bound: str
    first_order: bool
    depth: int
    kuhn: bool
    check_pairs: bool
    batch: int


def _covering(lo, hi):
    """:func:`moe_approx.boxes.covering_box` in JAX (the same float operations)."""
    centre = 0.5 * (lo + hi)
    return centre, jnp.nextafter(jnp.maximum(hi - centre, centre - lo), jnp.inf)


def _children(lo, hi, score, by_width):
    """The 2^m children (m = min(n, MAX_SPLIT_AXES)) of boxes (P, n), as :func:`moe_approx.boxes.split` cuts
    them: the splittable axes scoring at least half the largest (by width where nothing scores), at most
    m of them, at their float midpoints. Returns lo, hi (P·2^m, n), the mask of real children (those
    that cut no unsplit axis) and whether each box has a float strictly inside (P,)."""
    P, n = lo.shape
    m = min(n, MAX_SPLIT_AXES)
    mid = 0.5 * (lo + hi)
    splittable = (lo < mid) & (mid < hi)
    width = jnp.where(splittable, hi - lo, 0.0)
    share = width if by_width else jnp.where(splittable, jnp.where(jnp.isnan(score), jnp.inf, score), 0.0)
    share = jnp.where(jnp.any(share > 0, axis=1, keepdims=True), share, width)  # nothing scores: by width
    bits = np.array(np.unravel_index(np.arange(2**m), (2,) * m)).T.astype(bool)  # (2^m, m)
    if n <= MAX_SPLIT_AXES:  # every axis is a candidate (as boxes._cut_all): no sort
        use = (share >= 0.5 * row_max(share)[:, None]) & (share > 0)
        raise_lo, lower_hi = bits[None] & use[:, None], ~bits[None] & use[:, None]  # (P, 2^n, n)
    else:
        top_share, top = jax.lax.top_k(share, m)  # (P, m), m <= 4: a tiny sort per box
        use = (top_share >= 0.5 * top_share[:, :1]) & (top_share > 0)
        onehot = top[..., None] == jnp.arange(n)  # (P, m, n): bit p of a child cuts axis top[p]
        raise_lo = jnp.any((bits[None] & use[:, None])[..., None] & onehot[:, None], axis=2)  # (P, 2^m, n)
        lower_hi = jnp.any((~bits[None] & use[:, None])[..., None] & onehot[:, None], axis=2)
    real = ~jnp.any(bits[None] & ~use[:, None], axis=2)  # (P, 2^m)
    child_lo = jnp.where(raise_lo, mid[:, None], lo[:, None]).reshape(-1, n)
    child_hi = jnp.where(lower_hi, mid[:, None], hi[:, None]).reshape(-1, n)
    return child_lo, child_hi, real.reshape(-1), jnp.any(splittable, axis=1)


def _pair_suspect(target, x, y, fx, fy, valid):
    """The (child, parent) pairs that may contradict the declared (α, C) or per-axis constants (the test
    of :func:`moe_approx.assumptions.check_pairs`, which the host then runs on the pair)."""
    dist = row_max(jnp.abs(x - y))
    observed = jnp.abs(fx - fy)
    scale = jnp.max(jnp.where(valid, jnp.maximum(jnp.abs(fx), jnp.abs(fy)), 0.0))
    margin = TARGET_RTOL * (jnp.abs(fx) + jnp.abs(fy)) + SCALE_RTOL * scale
    excess = observed - (target.constant * power(dist, target.alpha) * (1 + HOLDER_SLACK) + margin)
    axis_constants = getattr(target, "axis_constants", None)
    if axis_constants is not None:
        per_axis = power(jnp.abs(x - y), target.alpha) @ jnp.asarray(axis_constants)
        excess = jnp.maximum(excess, observed - (per_axis * (1 + HOLDER_SLACK) + margin))
    return valid & (excess > 0)


def _bound_children(cfg, consts, cell, lo, hi, threshold):
    """Both bounds of the boxes [lo, hi] of ``cell`` (the host's ``_evaluate_boxes`` without grouping)."""
    experts, lip, delta, lip_axes, target_axes, second_operand = consts
    N = cell.shape[0]
    lanes, slots = jnp.arange(N), jnp.arange(N)[:, None]  # one box per slot
    centre, radius = _covering(lo, hi)
    fc, phi, upper, low, grad, omega, f_axes = _point_kernel(cfg.target, experts, cell, slots, lanes, centre, radius,
                                                             cell, lip, delta, lip_axes)
    affine_count = jnp.zeros((), jnp.int64)
    wanted = affine_wanted(cfg.bound, cfg.first_order, lip[cell], radius, omega)
    if wanted is not False:
        wants = (upper > threshold) & wanted
        kernel = second_bound_kernel(cfg.target, cfg.bound, cfg.depth, cfg.kuhn)

        def second(upper):
            return jnp.where(wants, jnp.minimum(upper, kernel(second_operand, cell, slots, lanes, centre, radius, fc, grad)[0]),
                             upper)

        upper = jax.lax.cond(jnp.any(wants), second, lambda u: u, upper)
        affine_count = jnp.sum(wants)
    score = (lip_axes[cell] + target_axes[cell]) * radius + f_axes
    return centre, fc, phi, upper, low, score, affine_count


def _worst(alive, upper, K, rounds=SELECT_ROUNDS):
    """K slots among the open boxes with (nearly) the largest upper bounds, and which of them are real.

    A bisection (``rounds`` halvings between the smallest and largest open bound; ``lax.top_k`` sorts,
    ten times slower on a CPU) brackets the K-th largest bound in [below, above), at most K bounds
    being >= above (or all tied at the maximum). All of those are taken, then boxes from [below, above):
    an open box left out is beaten by every box taken by less than (max − min)/2^rounds.
    """
    low, high = jnp.min(jnp.where(alive, upper, jnp.inf)), jnp.max(jnp.where(alive, upper, -jnp.inf))

    def halve(_, bracket):
        below, above = bracket  # count(upper >= below) > K or below = min; count(upper >= above) <= K or above = max
        mid = 0.5 * (below + above)
        many = jnp.sum(alive & (upper >= mid)) > K
        return jnp.where(many, mid, below), jnp.where(many, above, mid)

    below, above = jax.lax.fori_loop(0, rounds, halve, (low, high))
    first, rest = alive & (upper >= above), alive & (upper >= below) & (upper < above)
    # the boxes of ``first``, then those of ``rest``, each in slot order: one running count for both
    count = jnp.cumsum(first.astype(jnp.int64) + (rest.astype(jnp.int64) << 32))
    taken = count[-1] & 0xFFFFFFFF
    lane = jnp.where(first, (count & 0xFFFFFFFF) - 1, jnp.where(rest, taken + (count >> 32) - 1, K))
    pick = jnp.zeros(K, jnp.int64).at[lane].set(jnp.arange(upper.shape[0]), mode="drop")
    return pick, jnp.arange(K) < taken + (count[-1] >> 32)


def _fanout(K: int, n: int) -> tuple[int, int]:
    """Boxes split per step and children per box: about 2K children per step, 2^min(n, 4) per box."""
    fan = 2 ** min(n, MAX_SPLIT_AXES)
    return max(1, 2 * K // fan), fan


def _step(cfg, consts, rtol_atol, s: Frontier) -> Frontier:
    """One step: split the ``batch`` worst boxes, bound the children, insert them, close (module docstring)."""
    rtol, offset, floor, additive = rtol_atol
    F, n = s.lo.shape
    K = cfg.batch
    parents, fan = _fanout(K, n)
    pick, chosen = _worst(s.alive, s.upper, parents)
    plo, phi_, cell = s.lo[pick], s.hi[pick], s.cell[pick]
    lo, hi, real, splittable = _children(plo, phi_, s.score[pick], cfg.bound == "lipschitz")
    valid = chosen & splittable  # a box with no float inside stays open: the host closes it (STUCK)
    ccell, cvalid = jnp.repeat(cell, fan), jnp.repeat(valid, fan) & real
    threshold = close_limit(s.lower, rtol, offset, floor, additive, jnp)
    centre, fc, phi, upper, low, score, affine = _bound_children(cfg, consts, ccell, lo, hi, threshold)
    low = jnp.where(cvalid, low, 0.0)
    best = jnp.argmax(low)
    better = low[best] > s.lower
    lower = jnp.where(better, low[best], s.lower)
    argmax = jnp.where(better, centre[best], s.argmax)
    # the parents leave (their slots hold no box any more); the children are appended at ptr
    gone = jnp.where(valid, pick, F)
    alive = s.alive.at[gone].set(False, mode="drop")
    upper_all = s.upper.at[gone].set(-jnp.inf, mode="drop")

    def put(a, b):
        return jax.lax.dynamic_update_slice_in_dim(a, b.astype(a.dtype), s.ptr, 0)

    upper_all = put(upper_all, jnp.where(cvalid, upper, -jnp.inf))  # the log grows by 2^m slots per parent
    # a closed box keeps its upper bound in its slot (folded into its cell's later)
    alive = put(alive, cvalid) & (upper_all > close_limit(lower, rtol, offset, floor, additive, jnp))
    checks = [(cvalid & ~(jnp.isfinite(fc) & jnp.isfinite(phi) & ~jnp.isnan(upper)), NONFINITE, centre, fc, phi),
              (cvalid & (low > upper), CROSSED, centre, low, upper)]
    if cfg.check_pairs:
        pcentre, pfc = jnp.repeat(0.5 * (plo + phi_), fan, axis=0), jnp.repeat(s.fc[pick], fan)
        checks.append((_pair_suspect(cfg.target, centre, pcentre, fc, pfc, cvalid), PAIR, pcentre, fc, pfc))
    stop, witness = jnp.where(jnp.any(chosen & ~splittable), STUCK, RUNNING), s.witness
    for failed, code, other, a, b in checks[::-1]:  # the first failed check in this order is reported
        i = jnp.argmax(failed)
        stop = jnp.where(failed[i], code, stop)
        witness = jnp.where(failed[i], jnp.stack([jnp.append(centre[i], a[i]), jnp.append(other[i], b[i])]), witness)
    return s._replace(
        alive=alive, cell=put(s.cell, ccell), lo=put(s.lo, lo), hi=put(s.hi, hi), upper=upper_all, fc=put(s.fc, fc),
        score=put(s.score, score), ptr=s.ptr + lo.shape[0], cell_lower=s.cell_lower.at[ccell].max(low),
        cell_evals=s.cell_evals.at[ccell].add(cvalid.astype(s.cell_evals.dtype)), lower=lower, argmax=argmax,
        evaluations=s.evaluations + jnp.sum(cvalid), affine_evaluations=s.affine_evaluations + affine,
        boxes=s.boxes + jnp.sum(cvalid) - jnp.sum(valid), stop=stop, witness=witness)


def _fold(s: Frontier) -> jax.Array:
    """cell_upper with the closed boxes of the log folded in (slots below ptr that are neither open nor split)."""
    closed = ~s.alive & (s.upper > -jnp.inf) & (jnp.arange(s.upper.shape[0]) < s.ptr)
    return s.cell_upper.at[s.cell].max(jnp.where(closed, s.upper, -jnp.inf))


def _compact(s: Frontier) -> Frontier:
    """Fold the closed boxes into cell_upper and move the open ones to the front of the log."""
    F = s.upper.shape[0]
    count = jnp.sum(s.alive)
    index = jnp.nonzero(s.alive, size=F, fill_value=0)[0]
    keep = jnp.arange(F) < count
    return s._replace(cell_upper=_fold(s), alive=keep, cell=s.cell[index], lo=s.lo[index], hi=s.hi[index],
                      upper=jnp.where(keep, s.upper[index], -jnp.inf), fc=s.fc[index], score=s.score[index], ptr=count)


@partial(kernel_jit, static_argnums=0)
def run(cfg: Config, consts, rtol_atol, limits, s: Frontier):
    """(steps taken, frontier) after steps until no box is open, ``limits = (steps, max_evals)`` is
    reached, the frontier is full or a check stops the run (``s.stop``)."""
    steps, max_evals = limits
    F, n = s.lo.shape
    C = children_per_step(cfg.batch, n)
    K = cfg.batch

    def going(carry):  # the steps of one pass over the log, while the open set fills a sixteenth of a batch
        t, s = carry
        return (s.stop == RUNNING) & (t < steps) & (jnp.sum(s.alive) >= max(1, K // 16)) & \
            (s.evaluations + C <= max_evals) & (s.ptr + C <= F)

    def body(carry):
        t, s = carry
        return t + 1, _step(cfg, consts, rtol_atol, s)

    def again(carry):  # another pass after compaction
        t, s = carry
        count = jnp.sum(s.alive)
        return (s.stop == RUNNING) & (t < steps) & (count >= max(1, K // 16)) & (s.evaluations + C <= max_evals) & \
            (count + C <= F)

    def compact_and_step(carry):
        t, s = carry
        return jax.lax.while_loop(going, body, (t, _compact(s)))

    t, s = jax.lax.while_loop(again, compact_and_step, (jnp.asarray(0), s._replace(stop=jnp.asarray(RUNNING))))
    s = _compact(s)
    stop = jnp.where((s.stop == RUNNING) & (s.ptr > 0) & (s.ptr + C > F), FULL, s.stop)
    return t, s._replace(stop=stop)


def capacity(K: int, n: int) -> int:
    """Slots of the log for batch K in dimension n (at least four steps' children)."""
    return max(SLOTS_PER_BOX * K, 4 * int(np.prod(_fanout(K, n))))


def children_per_step(K: int, n: int) -> int:
    return int(np.prod(_fanout(K, n)))


def batch_for(open_count: int, loop: str) -> int | None:
    """The batch of the compiled loop for ``open_count`` open boxes (the smallest with open <= 4·batch), or
    None where the host loop goes on: too few or too many boxes, ``loop="host"``, or ``loop="auto"`` on
    a CPU (measured there: no clear gain over the host loop, and each batch compiles for seconds)."""
    if loop == "host" or (loop == "auto" and jax.default_backend() == "cpu"):
        return None
    if open_count < BATCHES[0] // 4:
        return None
    return next((K for K in BATCHES if open_count <= 4 * K), None)


def config(evaluate, batch: int) -> Config:
    """The static configuration of the loop for an evaluator (:class:`.evaluator._Evaluator`)."""
    return Config(evaluate.target, evaluate.bound, bool(evaluate.first_order), evaluate.depth,
                  evaluate.kuhn is not None, not is_formula(evaluate.target), batch)


def constants(evaluate):
    """The per-cell arrays the kernels read, on the device."""
    return (evaluate.point_operand, evaluate.lip_dev, evaluate.delta_dev, evaluate.lip_axes_dev,
            jax.device_put(evaluate.target_axes), evaluate.second_operand)


def to_device(st, capacity: int, sharding=None) -> Frontier:
    """The host state's open set and brackets in a frontier of ``capacity`` slots; with a ``sharding``
    (a NamedSharding over one axis of devices) the slots are sharded over the devices and the rest
    replicated, and XLA partitions the loop (same operations, so the same result as on one device)."""
    count, n = st.open_lo.shape
    pad = capacity - count

    def slots(a, fill=0.0):
        a = np.asarray(a)
        a = np.concatenate([a, np.full((pad,) + a.shape[1:], fill, a.dtype)])
        return jnp.asarray(a) if sharding is None else jax.device_put(a, sharding)

    if sharding is not None:
        replicated = jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
        frontier = _frontier(st, slots, n, count)
        return jax.tree_util.tree_map(lambda a: a if a.ndim and a.shape[0] == capacity else
                                      jax.device_put(a, replicated), frontier)
    return _frontier(st, slots, n, count)


def _frontier(st, slots, n, count) -> Frontier:
    """The frontier of the host state ``st``, its per-slot arrays made by ``slots``."""
    return Frontier(
        alive=slots(np.ones(count, bool), False), cell=slots(st.open_cell.astype(np.int64), 0),
        lo=slots(st.open_lo), hi=slots(st.open_hi), upper=slots(st.open_upper, -np.inf), fc=slots(st.open_fc),
        score=slots(st.open_score), cell_upper=jnp.asarray(st.cell_upper), cell_lower=jnp.asarray(st.cell_lower),
        cell_evals=jnp.asarray(st.cell_evals), lower=jnp.asarray(st.lower, jnp.float64),
        argmax=jnp.asarray(st.argmax, jnp.float64), evaluations=jnp.asarray(st.evaluations, jnp.int64),
        affine_evaluations=jnp.asarray(st.affine_evaluations, jnp.int64), boxes=jnp.asarray(st.boxes, jnp.int64),
        ptr=jnp.asarray(count), stop=jnp.asarray(RUNNING), witness=jnp.zeros((2, n + 1)))


def to_host(s: Frontier, st) -> None:
    """Write the frontier back into the host state ``st`` (its open set: the live slots)."""
    alive = np.asarray(s.alive)
    st.replace_open(*(np.compress(alive, np.asarray(a), axis=0) for a in (s.cell, s.lo, s.hi, s.upper, s.fc, s.score)))
    st.cell_upper, st.cell_lower, st.cell_evals = (np.array(a) for a in (s.cell_upper, s.cell_lower, s.cell_evals))
    st.lower, st.argmax = float(s.lower), np.array(s.argmax)
    st.evaluations, st.affine_evaluations, st.boxes = (int(a) for a in (s.evaluations, s.affine_evaluations, s.boxes))
