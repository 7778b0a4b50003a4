"""Partitions: every point of [0,1]^n, faces and corners included, lies in exactly one cell."""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

import moe_approx as ma

unit = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 0.25, 1 / 3, 2 / 3, 0.1, 0.7, np.nextafter(1.0, 0), 1e-300]),
                 st.floats(0, 1, allow_nan=False))


def partitions():
    rng = np.random.default_rng(7)
    return [
        ma.GridPartition(1, 7),
        ma.GridPartition(2, 10),
        ma.GridPartition(3, 3),
        ma.DyadicPartition(2, 1).refine([0, 3]).refine([2]),
        ma.DyadicPartition(3, 1).refine([5]),
        ma.PrototypePartition(rng.random((23, 2))),
        ma.PrototypePartition(np.array([[0.0], [1.0], [0.5]])),
    ]


PARTS = partitions()


@pytest.mark.parametrize("part", PARTS, ids=repr)
def test_cells_tile_the_cube(part):
    lo, hi = part.all_bounds()
    assert lo.shape == hi.shape == (part.num_cells, part.n)
    assert np.all(lo < hi) and np.all(lo >= 0) and np.all(hi <= 1)
    np.testing.assert_allclose(np.prod(hi - lo, axis=1).sum(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("part", PARTS, ids=repr)
@given(data=st.data())
def test_every_point_has_exactly_one_cell(part, data):
    x = data.draw(arrays(np.float64, (16, part.n), elements=unit))
    cells = np.asarray(part.locate(x))
    assert cells.shape == (16,) and np.all((cells >= 0) & (cells < part.num_cells))
    assert np.all(part.contains(x, cells))
    # exactly one: no other cell contains the point under the half-open rule
    for point, cell in zip(x, cells):
        holders = np.nonzero(part.contains(np.broadcast_to(point, (part.num_cells, part.n)), np.arange(part.num_cells)))[0]
        assert holders.tolist() == [cell]


@pytest.mark.parametrize("part", PARTS, ids=repr)
def test_corners_and_faces(part):
    corners = np.array(np.meshgrid(*[[0.0, 0.5, 1.0]] * part.n)).reshape(part.n, -1).T
    cells = np.asarray(part.locate(corners))
    assert np.all(part.contains(corners, cells))
    assert int(part.locate(np.ones((1, part.n)))[0]) == int(np.argmax(np.all(part.all_bounds()[1] == 1.0, axis=1)))


def test_grid_cell_order_and_bounds():
    part = ma.GridPartition(2, 4)
    assert int(part.locate(np.array([[0.3, 0.8]]))[0]) == 1 * 4 + 3
    lo, hi = part.bounds(7)
    np.testing.assert_array_equal(lo, [0.25, 0.75])
    np.testing.assert_array_equal(hi, [0.5, 1.0])
    assert (part.router_params_active, part.router_params_total) == (4, 6)


def test_grid_face_rounding_is_consistent():
    """Points just below a face k/K whose product x*K rounds up are still placed below the face."""
    K = 10
    x = np.nextafter(np.arange(1, K) / K, 0)[:, None]
    cells = np.asarray(ma.GridPartition(1, K).locate(x))
    assert np.all(ma.GridPartition(1, K).contains(x, cells))


def test_dyadic_refine_counts():
    p = ma.DyadicPartition(2, 0).refine([0])
    assert p.num_cells == 4
    p2 = p.refine([1, 2])
    assert p2.num_cells == 10 and sorted(set(p2.levels.tolist())) == [1, 2]
    np.testing.assert_allclose(p2.side().min(), 0.25)
    assert p2.router_params_active == 2 * 2  # n comparisons per level, max level 2
    assert p2.router_params_total == 2 * 3  # internal nodes: root and two refined cells


def test_prototype_tree_cells_contain_prototypes_and_depth_is_logarithmic():
    rng = np.random.default_rng(3)
    protos = rng.random((100, 3))
    part = ma.PrototypePartition(protos)
    np.testing.assert_array_equal(np.asarray(part.locate(protos)), np.arange(100))
    assert part.router_params_active <= int(np.ceil(np.log2(100)))
    assert part.router_params_total == 99
    assert 0 < part.voronoi_agreement(rng.random((500, 3))) <= 1


@pytest.mark.parametrize("bad", [np.array([[1.5, 0.2]]), np.array([[-0.1, 0.2]]), np.array([[np.nan, 0.2]]),
                                 np.array([[0.1, 0.2, 0.3]]), np.array([[np.inf, 0.0]])])
def test_bad_points_are_refused(bad):
    for part in (ma.GridPartition(2, 3), ma.DyadicPartition(2, 1), ma.PrototypePartition([[0.2, 0.2], [0.8, 0.8]])):
        with pytest.raises(ValueError, match="x must"):
            part.locate(bad)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="n must"):
        ma.GridPartition(0, 3)
    with pytest.raises(TypeError, match="cells_per_side"):
        ma.GridPartition(2, 2.5)
    with pytest.raises(ValueError, match="cells_per_side"):
        ma.GridPartition(2, 0)
    with pytest.raises(MemoryError, match="GiB"):
        ma.GridPartition(6, 10**4)
    with pytest.raises(ValueError, match="distinct"):
        ma.PrototypePartition([[0.1, 0.1], [0.1, 0.1]])
    with pytest.raises(ValueError, match="prototypes"):
        ma.PrototypePartition([[1.1, 0.1]])
    with pytest.raises(ValueError, match="cell index"):
        ma.GridPartition(1, 3).bounds(3)
    with pytest.raises(ValueError, match="cells must be"):
        ma.DyadicPartition(1, 1).refine([5])
