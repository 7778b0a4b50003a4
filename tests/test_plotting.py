"""plotting.cells draws exactly the partition's cell boundaries."""

import numpy as np
import pytest

import moe_approx as ma
from moe_approx import plotting


def test_cells_2d_one_rectangle_per_cell():
    partition = ma.DyadicPartition(2, 1).refine([2])  # 3 coarse cells and 4 children
    fig, ax = plotting.figure()
    drawn = plotting.cells(ax, partition)
    assert len(drawn.get_paths()) == partition.num_cells
    for i, path in enumerate(drawn.get_paths()):
        lo, hi = partition.bounds(i)
        corners = {(x, y) for x in (lo[0], hi[0]) for y in (lo[1], hi[1])}
        assert {tuple(v) for v in path.vertices} == corners


def test_cells_1d_interior_faces():
    partition = ma.DyadicPartition(1, 2).refine([1])  # faces 1/8 apart inside [1/4, 1/2]
    fig, ax = plotting.figure()
    drawn = plotting.cells(ax, partition)
    xs = sorted(seg[0, 0] for seg in drawn.get_segments())
    assert xs == [0.25, 0.375, 0.5, 0.75]


def test_cells_rejects_n3():
    fig, ax = plotting.figure()
    with pytest.raises(ValueError, match="n = 1 or 2"):
        plotting.cells(ax, ma.GridPartition(3, 2))
