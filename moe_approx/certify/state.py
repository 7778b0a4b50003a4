"""The branch-and-bound state (docs/theory.md §5): per-cell brackets and the open boxes, kept in buffers
with room to grow."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class _Rows:
    """Arrays of rows under names (the open boxes) in buffers with room to grow. Rows are appended in
    place; a row leaves by being marked dead (its ``upper`` set to −inf, below every bound), and the dead
    rows are dropped when they are half of all or a view is asked for. (A new array per step, as
    concatenating and filtering make, copies every open box and page-faults on it: that cost bench_supnorm
    case 6, whose open set reaches millions of boxes, more than its kernels.)"""

    def __init__(self, names):
        self.names, self.count, self.dead, self.live, self.spare = names, 0, 0, None, None

    def raw(self, name):
        """The rows of ``name``, dead ones included."""
        return None if self.live is None else self.live[name][: self.count]

    def view(self, name):
        """The live rows of ``name`` (a view, until the next change)."""
        self._drop_dead()
        return self.raw(name)

    def kill(self, index):
        """Mark the live rows ``index`` (distinct) dead."""
        self.live["upper"][index] = -np.inf
        self.dead += len(index)
        if 2 * self.dead > self.count:
            self._drop_dead()

    def add(self, new):
        """Append the rows ``new`` (arrays, in the order of ``names``)."""
        added = len(new[0])
        if self.live is None or len(self.live[self.names[0]]) < self.count + added:
            self._move(added, new)
        for name, a in zip(self.names, new):
            self.live[name][self.count : self.count + added] = a
        self.count += added

    def _drop_dead(self):
        if self.dead:
            self._move(0, [self.live[name][:0] for name in self.names])

    def _move(self, room, like):
        """Take the live rows into the spare buffers (grown to twice what is needed with ``room`` more rows,
        dtypes and shapes as ``like``), and swap."""
        index = np.arange(self.count) if not self.dead else np.flatnonzero(self.raw("upper") > -np.inf)
        if self.spare is None or len(self.spare[self.names[0]]) < len(index) + room:
            self.spare = {name: np.empty((2 * (len(index) + room),) + a.shape[1:], a.dtype)
                          for name, a in zip(self.names, like)}
        for name in self.names if len(index) else ():  # (np.take: numpy's fancy indexing of rows is slower)
            np.take(self.live[name], index, axis=0, out=self.spare[name][: len(index)], mode="clip")
        self.live, self.spare, self.count, self.dead = self.spare, self.live, len(index), 0


def _open_view(name):
    return property(lambda self: self.open.view(name), doc=f"the open boxes' {name} (a view)")


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
    probe_evaluations: int = 0
    boxes: int = 0
    lipschitz: np.ndarray = None  # Λ_l of every cell
    centre_margin: np.ndarray = None  # float64 margin of f − Φ at each cell centre (first step)
    float_limited: bool = False  # a box was closed because no float splits it
    device_steps: int = 0  # steps run by the compiled loop (module device_loop)
    # the open boxes: cell, endpoints (they cover the cells exactly, moe_approx.boxes), upper bound, f at
    # the centre, and the per-axis variation of f − Φ on the box (the axes to split)
    open: _Rows = field(default_factory=lambda: _Rows(("cell", "lo", "hi", "upper", "fc", "score")))
    open_cell, open_lo, open_hi = _open_view("cell"), _open_view("lo"), _open_view("hi")
    open_upper, open_fc, open_score = _open_view("upper"), _open_view("fc"), _open_view("score")

    @property
    def open_count(self) -> int:
        """Boxes open."""
        return self.open.count - self.open.dead

    def add_open(self, *arrays):
        """Append boxes (cell, lo, hi, upper, fc, score) to the open set."""
        self.open.add(arrays)

    def replace_open(self, *arrays):
        self.open = _Rows(self.open.names)
        self.open.add(arrays)

    def record_upper(self, cell, upper):
        """Upper bounds of closed boxes in ``cell``: each cell keeps the largest."""
        np.maximum.at(self.cell_upper, cell, upper)

    def close(self, mask):
        """Close the open boxes in ``mask`` (over the rows, dead ones included, which it must leave out):
        their upper bounds go to their cells."""
        self.record_upper(self.open.raw("cell")[mask], self.open.raw("upper")[mask])
        self.open.kill(np.flatnonzero(mask))

    def record_lower(self, cell, point, low):
        """Lower bounds ``low`` found at ``point`` in ``cell``: the per-cell and the global ones."""
        np.maximum.at(self.cell_lower, cell, low)
        i = int(np.argmax(low))
        if low[i] > self.lower or self.argmax is None:
            self.lower, self.argmax = float(low[i]), point[i].copy()

    def cell_upper_all(self) -> np.ndarray:
        out = self.cell_upper.copy()
        if self.open.live is not None:  # (a dead row's −inf changes nothing)
            np.maximum.at(out, self.open.raw("cell"), self.open.raw("upper"))
        return out
