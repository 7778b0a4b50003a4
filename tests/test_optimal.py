"""The optimal-rate expert (docs/theory.md §4.4): each building block on its own, then the whole expert.

Independent references: floor-based cube indices and a direct boustrophedon formula for the step
networks, the encoded increments for bit extraction, numpy medians for the median network, the
proven bound on dense grids for the expert, and a layer-by-layer count for the closed forms.
"""

import itertools

import numpy as np
import pytest

import moe_approx as ma
from moe_approx import targets
from moe_approx.exact import evaluate_exact
from moe_approx.experts import optimal as opt
from moe_approx.experts import _optimal_data
from moe_approx.experts import _optimal_layers as stages
from moe_approx.experts._optimal_layers import Expr


def _net(layers, out, d_in, activation="relu"):
    return stages._assemble(layers, out, d_in, activation, 1, np.float64)


def _run(layers, out, points, activation="relu"):
    return opt.evaluate(_net(layers, out, points.shape[-1], activation), points[None])[0]


# --- step functions and snake order ---------------------------------------------------------------
@pytest.mark.parametrize("n,M,B", [(1, 11, 3), (1, 23, 6), (2, 4, 3), (2, 6, 5)])
def test_step_network_is_exact_off_the_band_and_wrong_inside_it(n, M, B):
    o = 0.5
    u = [Expr({k: 1.0}) for k in range(n)]
    layers, a, b = stages._index_layers(n, M, B, (o,) * n, u)
    s_expr = a * B + b
    side = np.linspace(0, 1, 1601 if n == 1 else 161)
    x = np.stack(np.meshgrid(*[side] * n, indexing="ij"), -1).reshape(-1, n)
    t = M * x - o
    cube = np.floor(t).astype(int) + 1  # cube i holds t in [i − 1, i)
    if n == 1:
        expected = cube[:, 0]
    else:  # boustrophedon: the second coordinate runs backwards in odd rows
        expected = cube[:, 0] * (M + 1) + np.where(cube[:, 0] % 2 == 1, M - cube[:, 1], cube[:, 1])
    in_band = np.any((np.ceil(t) - t < 1 / 8) & (np.ceil(t) - t > 0), axis=1)
    net = _net(layers, s_expr, n)
    assert in_band.any() and (~in_band).sum() > 0.6 * len(x)
    exact = evaluate_exact(net, x[~in_band][::7])  # exact arithmetic on the same weights: exact integers
    np.testing.assert_array_equal(exact, expected[~in_band][::7])
    np.testing.assert_allclose(opt.evaluate(net, x[None])[0][~in_band], expected[~in_band], rtol=0, atol=1e-9)
    # the band is as wide as stated: just inside both of its ends the index is not an integer
    for c in range(1, M):
        for inside in (c - 1 / 8 + 1e-3, c - 1e-3):
            point = np.full((1, n), (c + o + 0.5) / M)  # other coordinates mid-cube
            point[0, 0] = (inside + o) / M
            assert _run(layers, s_expr, point)[0] % 1 != 0


@pytest.mark.parametrize("n,M", [(1, 5), (2, 4), (2, 5), (3, 3)])
def test_snake_order_visits_every_cube_once_through_faces(n, M):
    cubes = opt.snake_order(n, M)
    assert len({tuple(c) for c in cubes}) == (M + 1) ** n
    steps = np.abs(np.diff(cubes, axis=0))
    assert np.all(steps.sum(axis=1) == 1)


# --- bit extraction ---------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "prelu"])
@pytest.mark.parametrize("B", [2, 5, opt.MAX_BLOCK_FLOAT64])
def test_bit_extraction_returns_every_encoded_digit_exactly(B, activation):
    rng = np.random.default_rng(B)
    d = rng.integers(-1, 2, size=(300, B - 1))
    d[0], d[1] = -1, 1  # extreme encodings: all digits 1, all digits 3
    y = ((d + 2) * 4.0 ** -np.arange(1, B)).sum(axis=1)  # exact: 2(B − 1) <= 52 bits
    start = 3 * B
    layers, S = stages._extraction_layers(B, Expr({0: 1}), Expr({1: 1}), Expr({2: 1}))
    b = np.arange(B)
    pts = np.stack(np.broadcast_arrays(y[:, None], float(start), b[None, :].astype(float)), -1).reshape(-1, 3)
    got = _run(layers, S, pts, activation).reshape(len(y), B)
    want = start + np.concatenate([np.zeros((len(y), 1), int), np.cumsum(d, axis=1)], axis=1)
    np.testing.assert_array_equal(got, want)


# --- median of shifted copies -------------------------------------------------------------------------
def _nested_median(v, n):
    v = v.reshape(v.shape[:1] + (3,) * n)
    for _ in range(n):
        v = np.median(v, axis=-1)
    return v


@pytest.mark.parametrize("activation", ["relu", "prelu"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_median_of_copies_is_exact(n, activation):
    rng = np.random.default_rng(n)
    layers, out = stages._median_layers([Expr({i: 1}) for i in range(3**n)])
    values = rng.integers(0, 2**40, size=(500, 3**n)).astype(float)
    values[:50] = rng.integers(0, 3, size=(50, 3**n))  # many ties
    np.testing.assert_array_equal(_run(layers, out, values, activation), _nested_median(values, n))


@pytest.mark.parametrize("n", [1, 2])
def test_median_discards_one_bad_copy_per_coordinate(n):
    """Good copies within [lo, hi]; per coordinate one offset bad (any value): the result stays in [lo, hi]."""
    rng = np.random.default_rng(7)
    layers, out = stages._median_layers([Expr({i: 1}) for i in range(3**n)])
    P = 400
    values = rng.integers(100, 111, size=(P, 3**n)).astype(float)
    bad = rng.integers(0, 3, size=(P, n))
    copies = np.array(list(itertools.product(range(3), repeat=n)))
    is_bad = (copies[None] == bad[:, None]).any(axis=-1)
    values[is_bad] = rng.integers(-10**6, 10**6, size=is_bad.sum())
    got = _run(layers, out, values)
    assert np.all((got >= 100) & (got <= 110))


# --- the whole expert ------------------------------------------------------------------------------
CASES = [(1, "cone", 4, 4), (1, "sine_product", 5, 6), (2, "cone", 3, 3), (2, "l2_distance", 4, 4)]


@pytest.mark.parametrize("activation", ["relu", "prelu"])
@pytest.mark.parametrize("n,name,A,B", CASES)
def test_expert_error_on_a_dense_grid_is_within_its_proven_bound(n, name, A, B, activation):
    f = targets.get(name, n=n)
    lo = np.array([[0.0] * n, [0.25] * n])
    hi = np.array([[1.0] * n, [0.75] + [0.5] * (n - 1)])  # a unit cell and a non-square one
    net = opt.build(f, lo, hi, activation=activation, A=A, B=B)
    k = 3001 if n == 1 else 81
    unit = np.stack(np.meshgrid(*[np.linspace(0, 1, k)] * n, indexing="ij"), -1).reshape(-1, n)
    x = lo[:, None] + unit[None] * (hi - lo)[:, None]
    err = np.abs(opt.evaluate(net, x) - np.asarray(f(x))).max(axis=1)
    bound = opt.error_bound(f.alpha, f.constant, (hi - lo).max(axis=1), n, A=A, B=B)
    assert np.all(err <= bound * (1 + 1e-9)), (err, bound)
    assert np.all(err >= 0.2 * bound)  # the bound is not vacuous


def test_expert_plugs_into_build_moe():
    f = targets.get("cone", n=1)
    moe = ma.build_moe(f, ma.GridPartition(1, 2), expert="optimal", A=3, B=2)
    assert moe.expert_params == opt.num_params(1, "relu", A=3, B=2)
    x = np.linspace(0, 1, 401)[:, None]
    err = np.abs(np.asarray(moe(x)) - np.asarray(f(x))).max()
    assert err <= opt.error_bound(1, f.constant, 0.5, 1, A=3, B=2)


# --- closed forms ------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "prelu"])
@pytest.mark.parametrize("n,A,B", [(1, 1, 1), (1, 3, 2), (1, 5, 7), (2, 1, 1), (2, 3, 3), (2, 4, 6), (3, 2, 4)])
def test_closed_forms_equal_the_built_weights(n, A, B, activation):
    f = targets.get("cone", n=n)
    M = opt.grid_side(n, A, B)
    layers, out = _optimal_data._network(f, np.zeros((1, n)), np.ones((1, n)), activation, M, B, exact=False)
    net = stages._assemble(layers, out, n, activation, 1, np.float64)
    assert net.depth == opt.depth(n, activation, A=A, B=B)
    assert net.width == opt.width(n, activation, A=A, B=B)
    assert net.num_params == opt.num_params(n, activation, A=A, B=B)
    assert opt.structural_nonzero(layers, out, activation) == opt.num_nonzero(n, activation, A=A, B=B)
    assert np.all(net.num_nonzero <= opt.num_nonzero(n, activation, A=A, B=B))
    assert opt.num_blocks(n, M, B) <= A or A * B < 2**n


def test_parameters_grow_like_a_plus_b():
    """P ≍ A + B (dense storage included): doubling A = B doubles P, for n = 1 and 2."""
    for n in (1, 2):
        ratio = opt.num_params(n, A=64, B=64) / opt.num_params(n, A=32, B=32)
        assert 1.8 < ratio < 2.2, (n, ratio)


# --- bad input ---------------------------------------------------------------------------------------
def test_sizes_beyond_float64_raise_and_name_the_exact_evaluator():
    f = targets.get("cone", n=1)
    with pytest.raises(ValueError, match=r"build_exact.*evaluate_exact"):
        opt.build(f, np.zeros((1, 1)), np.ones((1, 1)), A=2, B=opt.MAX_BLOCK_FLOAT64 + 1)


@pytest.mark.parametrize("kwargs,exc", [({"A": 0}, ValueError), ({"B": 1.5}, TypeError), ({"A": True}, TypeError),
                                        ({"activation": "tanh"}, ValueError)])
def test_bad_sizes_and_activation(kwargs, exc):
    f = targets.get("cone", n=1)
    with pytest.raises(exc):
        opt.build(f, np.zeros((1, 1)), np.ones((1, 1)), **kwargs)


def test_bad_cells():
    f = targets.get("cone", n=2)
    with pytest.raises(ValueError, match="lo and hi"):
        opt.build(f, np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="lo and hi"):
        opt.build(f, np.zeros((1, 1)), np.ones((1, 1)))
