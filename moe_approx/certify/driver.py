"""The branch and bound over boxes (docs/theory.md §5): open set, splitting, closing, stopping."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import jax
import numpy as np

from .. import experts as _experts
from .._config import small_pages
from ..boxes import MAX_SPLIT_AXES, covering_box, split
from ..assumptions import TARGET_RTOL, check_pairs
from . import device_loop
from .evaluator import _Evaluator
from .report import close_limit, is_formula
from .state import _State

PROBE_BOXES, PROBE_BITS, PROBE_INSET = 4, 6, 2.0**-20  # _probe_corners: boxes, corners 2^min(n, 6), inset
STEP_BOXES = 2**14  # children evaluated per branch-and-bound step (at least)
MAX_STEP_BOXES = 2**17  # (at most)
SAMPLE_STRIDE = 61  # _largest: one open bound in SAMPLE_STRIDE sampled (odd, prime: children come in groups of 2^m)


@dataclass
class Threshold:
    """The stopping rule of ``sup_error``: with L = max(lower, floor), a box closes once its upper bound is
    at most L·(1 + rtol) + atol, or, with atol None, L + max(rtol·L, resolution): the resolution (``factor``
    times the largest float64 margin of f − Φ at the cell centres, fixed at the first step) is a floor
    of the width, not a slack added to rtol, so a bracket that float64 can resolve meets rtol
    (:func:`.report.close_limit`). Uniform over cells, so the branch and bound can run on the device
    (:mod:`.device_loop`)."""

    rtol: float
    atol: float | None
    factor: float
    floor: float = 0.0  # an error attained elsewhere: lower is at least this (vector targets)
    resolution: float | None = None

    def offset(self, st) -> float:
        if self.resolution is None:
            self.resolution = self.factor * float(np.max(st.centre_margin))
        return self.resolution if self.atol is None else self.atol

    def limits(self, st) -> tuple:
        """(rtol, offset, floor, additive): the arguments of :func:`.report.close_limit` besides the lower end."""
        return self.rtol, self.offset(st), self.floor, float(self.atol is not None)

    def __call__(self, st) -> np.ndarray:
        return np.full(len(st.cell_lower), close_limit(st.lower, *self.limits(st)))


@small_pages()  # (numpy's arrays on ordinary pages: module _config)
def branch_and_bound(target, lo, hi, experts, threshold, max_evals: int, progress=None, *, family=None, size=None,
                     cell_evals: int | None = None, bound: str = "auto", loop: str = "auto") -> _State:
    """Branch and bound over the cells [lo_i, hi_i] with experts ``experts`` (stack (L,)).

    ``progress``: True for a tqdm bar of the cells decided, or a callable ``progress(state)`` called
    after every step. ``threshold(state) -> (L,)``: a box of cell i stays open while its upper bound exceeds
    threshold[i]; a :class:`Threshold` (uniform over cells) lets the steps run on the device
    (:mod:`.device_loop`; ``loop``: "auto", "host" or "device", see :func:`.sup_error`). Stops when no box is open or ``max_evals`` boxes have been evaluated. A cell that has
    used ``cell_evals`` evaluations is given up: its open boxes are closed at their upper bounds
    (``approximate`` then splits the cell). ``family``/``size``: the experts' family module and sizes
    (for exact Lipschitz constants). ``bound``: "auto", "lipschitz" or "affine" (see :func:`sup_error`).
    """
    L, n = lo.shape
    fan = 2 ** min(n, MAX_SPLIT_AXES)  # children of a split box, at most
    evaluate = _Evaluator(target, experts, lo, hi, family, size, bound)
    st = _State(np.zeros(L), np.full(L, -np.inf), np.zeros(L, np.int64))
    st.lipschitz = evaluate.lip
    blocks = [(np.arange(L), lo, hi, ())]  # the first step's boxes: the cells
    report = progress if callable(progress) else None
    bar = _progress_bar(L) if progress and report is None else None
    swept = None  # the limits of the last pass over the whole open set
    try:
        while True:
            if blocks is not None:
                _evaluate_boxes(st, evaluate, threshold, blocks)
                blocks = None
            limit = threshold(st)
            if cell_evals is not None or swept is None or not np.array_equal(limit, swept):
                # new boxes were closed against these limits already: a pass over all is due only when they rose
                upper, where = st.open.raw("upper"), st.open.raw("cell")
                closed = upper <= _per_box(limit, where)
                if cell_evals is not None:
                    closed |= st.cell_evals[where] >= cell_evals
                st.close(closed & (upper > -np.inf))
                swept = limit
            if bar is not None:
                _update_bar(bar, st, L)
            if report is not None:
                report(st)
            budget = max_evals - st.evaluations
            open_count = st.open_count
            if not open_count or budget < fan:
                return st
            if isinstance(threshold, Threshold) and cell_evals is None and \
                    _device_steps(st, evaluate, threshold, max_evals, bar, L, loop):
                continue  # the device's children are in the open set already
            # split the open boxes with the largest upper bounds, for about as many children as boxes are open
            # (a quarter as many cost bench_supnorm case 2 a third more time: each step passes over the open set)
            count = min(open_count, max(STEP_BOXES, min(open_count, MAX_STEP_BOXES)) // fan, budget // fan)
            rows = {name: st.open.raw(name) for name in st.open.names}  # dead rows (upper −inf) are never picked
            pick = _largest(rows["upper"], count)
            # copies of the picked rows (np.take: numpy's fancy indexing of (N, n) rows was six times slower)
            picked = {name: rows[name].take(pick, axis=0) for name in rows if name != "score" or bound != "lipschitz"}
            st.boxes -= len(pick)  # leaves of the box tree: the parents out (their children come in)
            st.open.kill(pick)  # split, or closed if stuck
            blocks = _children(st, evaluate, picked, max(1, evaluate.part_size // fan))
    finally:
        if bar is not None:
            bar.close()


def _per_box(limit, cell):
    """The cells' limits for boxes of ``cell``: one number where all cells have the same (a Threshold's)."""
    return limit[0] if len(limit) and limit.min() == limit.max() else limit.take(cell)


def _largest(values, count):
    """Indices of the ``count`` largest ``values`` (all where there are fewer, none for count 0), as
    ``np.argpartition`` picks them, without partitioning millions of rows (the open boxes' bounds): the rows
    at or above a threshold read off a strided sample (a quarter more than ``count`` expected) are
    partitioned among themselves. Where that lets through ``count`` rows or more, the ``count`` largest
    are among them; else all rows are partitioned."""
    N = len(values)
    if count <= 0:
        return np.arange(0)
    if count >= N:
        return np.arange(N)
    sample = values[::SAMPLE_STRIDE]
    m = len(sample) - 1 - int(1.25 * count / SAMPLE_STRIDE)
    if N > 16 * count and m > 0:
        candidates = np.flatnonzero(values >= np.partition(sample, m)[m])
        if len(candidates) >= count:
            return candidates.take(np.argpartition(-values.take(candidates), count - 1)[:count])
    return np.argpartition(-values, count - 1)[:count]


def _children(st, evaluate, picked, first):
    """The children of the picked boxes (``picked``: copies of their rows) in blocks (cell, lo, hi, extra):
    those of the first ``first`` boxes, then the rest's, split only when the device has the first block
    (:meth:`.evaluator._Evaluator.points_in_parts` asks for a block after dispatching the last one's
    kernels: the host splits while the device bounds). ``extra``: the parents' f and centres (Hölder
    pairs, declared targets). Boxes that no float splits are closed (:func:`_close_stuck`)."""
    for group in (slice(0, first), slice(first, len(picked["lo"]))):
        lo, hi = picked["lo"][group], picked["hi"][group]
        if not len(lo):
            continue
        parent, box_lo, box_hi, stuck = split(lo, hi, picked["score"][group] if "score" in picked else None)
        if stuck.any():  # at float64 resolution: closed at their bounds, their two corners evaluated
            _close_stuck(st, evaluate, *(picked[name][group][stuck] for name in ("cell", "upper", "lo", "hi")))
            st.boxes += int(stuck.sum())  # stuck boxes stay leaves
        extra = ()
        if not is_formula(evaluate.target):
            centre = lo + hi
            centre *= 0.5  # covering_box's centre
            extra = (picked["fc"][group].take(parent), centre.take(parent, axis=0))
        st.boxes += len(parent)
        yield picked["cell"][group].take(parent), box_lo, box_hi, extra


def _evaluate_boxes(st, evaluate, threshold, blocks):
    """Bound the new boxes in ``blocks`` (cell, lo, hi, extra) part by part (the host works on one part while
    the device computes the next, :meth:`.evaluator._Evaluator.points_in_parts`; the first step, the cells,
    in one part: it fixes the resolution), then probe the corners of the best (:func:`_probe_corners`)."""
    record, best = st.lower, []
    if st.centre_margin is None:
        (cell, lo, hi, extra), = blocks
        centre, radius = covering_box(lo, hi)
        parts = [(cell, lo, hi, extra, centre, radius, evaluate.points(cell, centre, radius))]
        st.boxes += len(cell)
    else:
        parts = evaluate.points_in_parts(blocks)
    for cell, lo, hi, extra, centre, radius, out in parts:
        low = _bound_part(st, evaluate, threshold, cell, lo, hi, centre, radius, out, extra)
        top = _largest(low, PROBE_BOXES)
        best.append((cell.take(top), lo.take(top, axis=0), hi.take(top, axis=0), low.take(top)))
    if best:  # (none where every box picked was stuck)
        _probe_corners(st, evaluate, *(np.concatenate(a) for a in zip(*best)), record)


def _bound_part(st, evaluate, threshold, cell, box_lo, box_hi, centre, radius, out, pair):
    """Both bounds of new boxes (the point kernel's outputs ``out``, the second bound where it can win): close
    those within the threshold and add the rest to the open set; their centres and their parents' (``pair``:
    the parents' f and centres, or ()) are Hölder pairs to check. Returns the lower bounds."""
    fc, phi, upper, low, grad, omega, target_axes = out
    _check_finite(fc, phi, upper, centre)
    if pair:
        check_pairs(evaluate.target, centre, pair[1], fc, pair[0], implied=False)  # (child, parent) pairs for free
    if st.centre_margin is None:
        st.centre_margin = evaluate.delta[cell] + TARGET_RTOL * (np.abs(fc) + np.abs(phi))  # (as every bound's)
    st.evaluations += len(cell)
    st.cell_evals += np.bincount(cell, minlength=len(st.cell_evals))  # (np.add.at of a scalar: 40 times slower)
    st.record_lower(cell, centre, low)
    limit = _per_box(threshold(st), cell)
    keep = upper > limit  # the rest are closed at once: their bounds go to their cells
    todo = np.flatnonzero(keep & evaluate.wants_affine(cell, radius, omega))
    if todo.size:
        affine = evaluate.affine(cell[todo], centre[todo], radius[todo], fc[todo],
                                 None if grad is None else grad[todo])
        upper = upper.copy()  # (a kernel's output is read-only)
        upper[todo] = np.minimum(upper[todo], affine)
        st.affine_evaluations += todo.size
        keep = upper > limit
    if np.any(low > upper):
        i = int(np.argmax(low - upper))
        raise _crossed(float(low[i]), float(upper[i]), centre[i], cell[i])
    done = ~keep
    st.record_upper(np.compress(done, cell), np.compress(done, upper))
    cell, radius, target_axes = (np.compress(keep, a, axis=0) for a in (cell, radius, target_axes))
    st.add_open(cell, *(np.compress(keep, a, axis=0) for a in (box_lo, box_hi, upper, fc)),
                evaluate.split_slopes.take(cell, axis=0) * radius + target_axes)
    return low


def _probe_corners(st, evaluate, cell, box_lo, box_hi, low, record):
    """Evaluate f − Φ near the corners of the PROBE_BOXES new boxes whose centres reach the lower bound
    ``record`` held before them (all 2^n corners for n <= PROBE_BITS, else the 2^PROBE_BITS that vary the
    first PROBE_BITS axes, the others at their low ends), for the lower bound: where |f − Φ|
    peaks on a cell's faces (constant experts of ``cone``) the centres approach the peak only as the boxes
    shrink. The points lie a relative PROBE_INSET inside the box and strictly inside the cell, so the
    mixture as routed attains each error found (docs/theory.md §5)."""
    best = _largest(low, PROBE_BOXES)
    best = best[low[best] >= record]
    if not best.size:
        return
    n = box_lo.shape[1]
    corners = (np.arange(2 ** min(n, PROBE_BITS))[:, None] >> np.arange(n)) & 1
    t = np.where(corners == 1, 1.0 - PROBE_INSET, PROBE_INSET)
    lo, hi = box_lo[best, None], box_hi[best, None]
    inside_lo, inside_hi = (np.nextafter(a[cell[best]], b[cell[best]])[:, None] for a, b in
                            ((evaluate.cell_lo, evaluate.cell_hi), (evaluate.cell_hi, evaluate.cell_lo)))
    x = np.clip(lo + t * (hi - lo), np.maximum(lo, inside_lo), np.minimum(hi, inside_hi)).reshape(-1, n)
    where = np.repeat(cell[best], len(corners))
    probe = evaluate.points(where, x, np.zeros_like(x))[3]
    st.evaluations += len(where)
    st.probe_evaluations += len(where)
    st.record_lower(where, x, probe)


def _device_steps(st, evaluate, threshold, max_evals, bar, cells, loop) -> bool:
    """Run steps on the device (:mod:`.device_loop`) with the batch that suits the open set, while it
    suits it and a step fits the budget; the state comes back to ``st``. Returns whether any step ran;
    a check that needs the host is done here."""
    K = device_loop.batch_for(st.open_count, loop)
    n = st.open.raw("lo").shape[1]
    if K is None or st.evaluations + device_loop.children_per_step(K, n) > max_evals:
        return False
    F = device_loop.capacity(K, n)
    cfg, consts = device_loop.config(evaluate, K), device_loop.constants(evaluate)
    limits = threshold.limits(st)
    s, ran = device_loop.to_device(st, F, evaluate.sharding if F % len(evaluate.devices) == 0 else None), 0
    while True:
        t, s = device_loop.run(cfg, consts, limits, (device_loop.STEPS, max_evals), s)
        ran += int(t)
        st.device_steps += int(t)
        if bar is not None:
            alive = np.asarray(s.alive)
            bar.n = cells - np.unique(np.asarray(s.cell)[alive]).size
            bar.set_postfix(evals=int(s.evaluations), lower=f"{float(s.lower):.6g}", open=int(alive.sum()))
            bar.refresh()
        if int(s.stop) != device_loop.RUNNING or int(t) < device_loop.STEPS:
            break
    device_loop.to_host(s, st)
    _device_check(st, evaluate, int(s.stop), np.asarray(s.witness))
    return ran > 0 or int(s.stop) == device_loop.STUCK


def _device_check(st, evaluate, stop, witness):
    """The host's part of a device stop: raise for a bad value or a contradicted constant, close
    the boxes that no float splits (module :mod:`.device_loop`)."""
    x, a, y, b = witness[0, :-1], witness[0, -1], witness[1, :-1], witness[1, -1]
    if stop == device_loop.NONFINITE:
        _check_finite(np.array([a]), np.array([b]), np.array([np.nan]), x[None])
    elif stop == device_loop.CROSSED:
        raise _crossed(a, b, x)
    elif stop == device_loop.PAIR:
        check_pairs(evaluate.target, x[None], y[None], np.array([a]), np.array([b]))
    elif stop == device_loop.STUCK:
        mid = 0.5 * (st.open_lo + st.open_hi)
        stuck = ~np.any((st.open_lo < mid) & (mid < st.open_hi), axis=1)
        _close_stuck(st, evaluate, *(a[stuck] for a in (st.open_cell, st.open_upper, st.open_lo, st.open_hi)))
        st.close(stuck)


def _crossed(low, upper, x, cell=None) -> RuntimeError:
    where = "" if cell is None else f" (cell {cell})"
    return RuntimeError(f"internal error: a box's lower bound {low!r} exceeds its upper bound {upper!r} at "
                        f"x = {x.tolist()}{where}; please report it")


def _close_stuck(st, evaluate, cell, upper, lo, hi):
    """Record the upper bounds of boxes [lo, hi] of ``cell`` that no float splits in their cells and evaluate
    f − Φ at their lo and hi corners for the lower bound (the caller takes them out of the open set)."""
    st.record_upper(cell, upper)
    st.float_limited = True
    corners = np.concatenate([lo, hi])
    cell = np.tile(cell, 2)
    low = evaluate.points(cell, corners, np.zeros_like(corners))[3]
    st.evaluations += len(cell)
    st.record_lower(cell, corners, low)


def _progress_bar(cells: int):
    from tqdm.auto import tqdm

    return tqdm(total=cells, unit="cell", desc="sup_error (cells decided)")


def _update_bar(bar, st, cells):
    upper = st.open.raw("upper")
    live = upper > -np.inf  # (the rows, without dropping the dead ones)
    bar.n = cells - np.unique(st.open.raw("cell")[live]).size
    top = max(st.cell_upper.max(), upper.max(initial=-np.inf))
    bar.set_postfix(evals=st.evaluations, lower=f"{st.lower:.6g}", upper=f"{top:.6g}", open=int(live.sum()))
    bar.refresh()


def _check_finite(fc, phi, upper, centre):
    if np.isfinite(fc.sum() + phi.sum()) and not np.isnan(upper.sum()):  # (a sum is non-finite where a term is)
        return
    for values, what in ((fc, "the target"), (phi, "the MoE")):
        if not np.isfinite(values).all():
            bad = ~np.isfinite(values)
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
