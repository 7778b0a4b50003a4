"""Boxes of the branch and bound: exact covering in floating point (docs/theory.md §5, "Covering").

A box is stored by its float endpoints [lo, hi] (per axis). Splitting an axis at the float
m = fl((lo + hi)/2), which lies in [lo, hi] because rounding is monotone, gives the children
[lo, m] and [m, hi], whose union is the parent exactly: no point falls between two boxes. The
bounds are computed on the box's covering centre and radius (:func:`covering_box`), c = fl((lo + hi)/2)
and r = the float after max(fl(hi − c), fl(c − lo)), for which c − r ≤ lo and c + r ≥ hi hold in
exact arithmetic (a float rounded to nearest is within half an ulp of the exact difference, and the
next float up is a whole ulp above it). Then fl(c − r) ≤ lo and fl(c + r) ≥ hi too (rounding is
monotone and lo, hi are floats), so enclosures over [fl(c − r), fl(c + r)] cover the box.

The routers compare points with the very floats that ``all_bounds`` returns (``GridPartition``
corrects floor(x·K) against the faces k/K; the tree router compares with its thresholds), so every
point routed to a cell lies in the closed float box [lo, hi] of that cell, and the boxes cover it.
"""

from __future__ import annotations

import numpy as np

MAX_SPLIT_AXES = 4  # a box is split along at most this many (longest) axes: at most 16 children


def covering_box(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Centre c and per-axis radius r with [c − r, c + r] ⊇ [lo, hi] in exact arithmetic (module docstring)."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    centre = lo + hi
    centre *= 0.5  # 0.5·(lo + hi), in place (fresh temporaries cost more than the arithmetic)
    radius = hi - centre
    np.maximum(radius, centre - lo, out=radius)
    return centre, np.nextafter(radius, np.inf, out=radius)


def split(lo, hi, score=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Children (parent index, lo, hi) of boxes (N, n), and the mask of boxes that cannot be split.

    The splittable axes with the largest ``score`` (default: the width; the branch and bound passes
    each axis's share of the box's bound, docs/theory.md §5, per-axis bounds) — those scoring at least
    half the largest, at most MAX_SPLIT_AXES of them — are cut at their float midpoints; an axis is
    splittable while a float lies strictly between its ends. An axis that scores 0 (neither f nor Φ
    varies along it) is not cut. The children of a box cover it exactly (module docstring); a box
    with no splittable axis (float64 resolution) gets no children.
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    mid = lo + hi
    mid *= 0.5
    splittable = (lo < mid) & (mid < hi)
    width = hi - lo if score is None else np.nan_to_num(np.asarray(score, np.float64), nan=np.inf, posinf=np.inf)
    width = np.where(splittable, width, 0.0)
    unscored = ~(row_max(width) > 0)
    if unscored.any():  # nothing scores: cut by width
        np.copyto(width, hi - lo, where=unscored[:, None] & splittable)
    largest = row_max(width)
    stuck = ~(largest > 0)
    use = width >= 0.5 * largest[:, None]
    use &= width > 0  # (N, n): the axes to cut
    if lo.shape[1] <= MAX_SPLIT_AXES:
        return _cut_all(lo, hi, mid, use, stuck) + (stuck,)
    return _cut_largest(lo, hi, mid, width, use, stuck) + (stuck,)


def _cut_all(lo, hi, mid, use, stuck):
    """(parent, lo, hi) of the children of boxes cut along every axis in ``use`` (N, n)."""
    n = lo.shape[1]
    children = np.arange(2**n)
    bits = (children[:, None] >> np.arange(n)) & 1 == 1  # (2^n, n): child c takes the upper half of axis i
    used = np.zeros(len(lo), np.int64)  # the cut axes as a bit mask, 2^n for a stuck box (a row of no children)
    for i in range(n):
        used |= use[:, i].astype(np.int64) << i
    used[stuck] = 2**n
    made = np.append((children & ~children[:, None]) == 0, np.zeros((1, 2**n), bool), axis=0)  # (2^n + 1, 2^n):
    # the children of each mask of cut axes (along cut axes only)
    index = np.flatnonzero(made.take(used, axis=0))
    parent, child = index >> n, index & (2**n - 1)
    upper_half = bits.take(child, axis=0)  # (take: numpy's fancy indexing of (N, n) rows was six times slower)
    cut_at, new_lo, new_hi = (a.take(parent, axis=0) for a in (mid, lo, hi))
    np.copyto(new_lo, cut_at, where=upper_half)
    np.copyto(new_hi, cut_at, where=use.take(parent, axis=0) & ~upper_half)
    return parent, new_lo, new_hi


def _cut_largest(lo, hi, mid, width, use, stuck):
    """:func:`_cut_all` restricted to the MAX_SPLIT_AXES axes of largest ``width`` (ties: the first)."""
    top = np.argsort(-width, axis=1, kind="stable")[:, :MAX_SPLIT_AXES]  # axes by decreasing width
    use = np.take_along_axis(use, top, 1)  # (N, k)
    k = top.shape[1]
    bits = np.stack(np.unravel_index(np.arange(2**k), (2,) * k), axis=-1).astype(bool)  # (2^k, k)
    valid = ~np.any(bits[None] & ~use[:, None], axis=2) & ~stuck[:, None]  # children along unsplit axes dropped
    parent, child = np.nonzero(valid)
    axes, cut = top[parent], use[parent]
    upper_half = bits[child] & cut
    cut_at = np.take_along_axis(mid, top, 1)[parent]
    new_lo, new_hi = lo[parent].copy(), hi[parent].copy()
    rows = np.arange(len(parent))[:, None]
    new_lo[rows, axes] = np.where(upper_half, cut_at, new_lo[rows, axes])
    new_hi[rows, axes] = np.where(cut & ~upper_half, cut_at, new_hi[rows, axes])
    return parent, new_lo, new_hi


def row_max(a: np.ndarray) -> np.ndarray:
    """max over the (short) last axis, column by column (numpy's reduction over a short axis is slower)."""
    return np.maximum.reduce([a[:, i] for i in range(a.shape[1])]) if a.shape[1] else np.zeros(len(a))


def cell_grid(lo, hi, points_per_side: int) -> np.ndarray:
    """Midpoints of a p^n sub-grid of every cell: (L, p^n, n), each row inside its (half-open) cell."""
    lo, hi = np.asarray(lo), np.asarray(hi)
    n = lo.shape[-1]
    t = (np.arange(points_per_side) + 0.5) / points_per_side
    local = np.stack(np.meshgrid(*([t] * n), indexing="ij"), axis=-1).reshape(-1, n)
    return lo[:, None, :] + local[None] * (hi - lo)[:, None, :]
