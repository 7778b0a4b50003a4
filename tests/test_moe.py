"""MixtureOfExperts: cell-blocked evaluation equals a naive per-point evaluation; sizes; errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moe_approx as ma
from moe_approx.moe import MixtureOfExperts

from test_calculus import numpy_forward, random_net


def random_moe(rng, part, widths=(None, 6, 5, 1), act="relu"):
    widths = (part.n,) + tuple(widths[1:])
    return MixtureOfExperts(part, random_net(rng, widths, act, batch=(part.num_cells,)))


def naive(moe, x):
    """Independent reference: route with numpy bounds, run each point's expert in numpy."""
    lo, hi = moe.partition.all_bounds()
    out = np.empty(len(x))
    for i, p in enumerate(x):
        cell = int(np.nonzero(moe.partition.contains(np.broadcast_to(p, lo.shape), np.arange(len(lo))))[0][0])
        net = ma.mlp.index_stack(moe.experts, cell)
        out[i] = numpy_forward(net, p[None])[0, 0]
    return out


@pytest.mark.parametrize("act", ["relu", "prelu"])
@pytest.mark.parametrize("part", [ma.GridPartition(2, 5), ma.DyadicPartition(2, 1).refine([1]),
                                  ma.PrototypePartition(np.random.default_rng(0).random((9, 3)))], ids=repr)
def test_blocked_equals_naive(rng, part, act):
    moe = random_moe(rng, part, act=act)
    x = rng.random((300, part.n))
    x[:5] = np.round(x[:5] * 4) / 4  # faces and corners
    y = np.asarray(moe(x))
    np.testing.assert_allclose(y, naive(moe, x), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(y, np.asarray(moe.apply_per_point(jnp.asarray(x))), rtol=1e-14, atol=1e-14)
    assert y.dtype == np.float64 and y.shape == (300,)


def lanes_of(routing):
    """Host expansion of a Routing: (cell, point) of every occupied lane, over all slots that run."""
    order = np.asarray(routing.order)
    cells, points = [], []
    for cap, (used, cell, start, length) in zip(routing.caps, routing.passes):
        cell, start, length = (np.asarray(a) for a in (cell, start, length))
        assert np.all(length <= cap) and not np.any(length[int(used) * ma.moe._group(cap):])  # skipped chunks are empty
        for c, s, m in zip(cell, start, length):
            cells += [c] * int(m)
            points += list(order[s : s + m])
    return np.array(cells, int), np.array(points, int)


def test_skewed_points_use_several_slots_per_cell(rng):
    moe = random_moe(rng, ma.GridPartition(2, 8))
    x = np.concatenate([rng.random((2000, 2)) * 0.1, rng.random((50, 2))])  # one crowded cell
    d = moe.dispatch(x)
    cells, points = lanes_of(d)
    np.testing.assert_array_equal(np.sort(points), np.arange(len(x)))  # every point in exactly one lane
    assert np.all(moe.partition.contains(x[points], cells))  # ... of a slot of its own cell
    crowded = np.bincount(cells[np.isin(points, np.arange(2000))]).argmax()
    slots = sum(int(np.sum(np.asarray(p[1])[np.asarray(p[3]) > 0] == crowded)) for p in d.passes)
    lanes = sum(cap * int(np.count_nonzero(np.asarray(p[3]))) for cap, p in zip(d.caps, d.passes))
    assert slots >= 2 and lanes <= 1.125 * len(x) + 8 * moe.num_experts  # split over slots; padding bounded
    np.testing.assert_allclose(np.asarray(moe(x)), np.asarray(moe.apply_per_point(jnp.asarray(x))), atol=1e-14)


@pytest.mark.parametrize("counts", [[256] * 64, [0] * 63 + [5000], [1] * 500, [0, 3, 700, 0, 90, 260, 255], [0, 0, 50000, 3]])
def test_plan_slots_covers_every_point_once(counts):
    """Each sorted position lies in exactly one slot of its own cell; the padded work is no more than
    that of two simple plans: slots of 8 lanes only, or one slot per cell of a fine bucket above the largest count."""
    counts = np.array(counts)
    passes = ma.moe.plan_slots(counts)
    ends = np.cumsum(counts)
    covered, work = np.zeros(ends[-1], int), 0
    for cap, cell, start, length in passes:
        assert np.all((length >= 1) & (length <= cap))
        assert np.all((ends[cell] - counts[cell] <= start) & (start + length <= ends[cell]))
        for s, m in zip(start, length):
            covered[s : s + m] += 1
        work += (cap + ma.moe.SLOT_OVERHEAD) * len(cell)
    np.testing.assert_array_equal(covered, 1)
    c = counts[counts > 0]
    assert work <= np.sum(-(-c // 8)) * (8 + ma.moe.SLOT_OVERHEAD)
    assert work <= c.size * (ma.moe._fine_bucket(c.max()) + ma.moe.SLOT_OVERHEAD) and ma.moe._fine_bucket(c.max()) <= 1.125 * c.max() + 8


@st.composite
def partitions_and_points(draw):
    """A random Grid, refined Dyadic or Prototype partition of [0,1]^n and points, some on cell faces and at 1."""
    n = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["grid", "dyadic", "prototype"]))
    if kind == "grid":
        part = ma.GridPartition(n, draw(st.integers(1, 6)))
    elif kind == "dyadic":
        part = ma.DyadicPartition(n, draw(st.integers(0, 2)))
        part = part.refine(rng.choice(part.num_cells, size=min(2, part.num_cells), replace=False))
    else:
        part = ma.PrototypePartition(rng.random((draw(st.integers(1, 12)), n)))
    x = rng.random((draw(st.integers(1, 300)), n))
    lo, hi = part.all_bounds()
    faces = np.concatenate([lo.ravel(), hi.ravel(), [0.0, 1.0]])
    snap = rng.random(x.shape) < 0.3
    x[snap] = rng.choice(faces, size=int(snap.sum()))
    return part, x, seed


@settings(max_examples=10, deadline=None)  # each example compiles new shapes
@given(partitions_and_points(), st.sampled_from(["relu", "prelu"]))
def test_call_equals_per_point_on_random_partitions(case, act):
    part, x, seed = case
    moe = random_moe(np.random.default_rng(seed), part, widths=(None, 4, 3, 1), act=act)
    y = np.asarray(moe(x))
    np.testing.assert_allclose(y, np.asarray(moe.apply_per_point(jnp.asarray(x))), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(moe(jnp.asarray(x))), y)  # device input: same routing, same values


def test_more_than_2_16_cells_use_wide_sort_keys(rng):
    moe = random_moe(rng, ma.GridPartition(1, 2**16 + 3), widths=(None, 2, 1))
    x = np.concatenate([rng.random((500, 1)), [[0.0], [1.0], [2**-16]]])
    np.testing.assert_allclose(np.asarray(moe(x)), np.asarray(moe.apply_per_point(jnp.asarray(x))), rtol=1e-12, atol=1e-12)


def test_call_shapes_and_device_input_errors(rng):
    moe = random_moe(rng, ma.GridPartition(2, 3))
    x = rng.random((3, 7, 2))
    y = moe(x)
    assert y.shape == (3, 7) and y.dtype == jnp.float64
    np.testing.assert_array_equal(np.asarray(y).ravel(), np.asarray(moe(x.reshape(-1, 2))))
    assert moe(np.zeros((0, 2))).shape == (0,)
    with pytest.raises(ValueError, match="finite"):
        moe(jnp.asarray([[0.5, jnp.nan]]))
    with pytest.raises(ValueError, match="unit cube"):
        moe(jnp.asarray([[0.5, 1.5]]))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        moe(jnp.zeros((4, 3)))


def test_jit_and_grad(rng):
    part = ma.GridPartition(1, 4)
    moe = random_moe(rng, part)
    x = jnp.asarray(rng.random((21, 1)))  # 21 points: padded to the bucket 24 inside
    np.testing.assert_allclose(jax.jit(moe)(x), moe(x), atol=1e-14)
    g = jax.grad(lambda z: moe(z).sum())(x)
    h = 1e-6
    fd = (np.asarray(moe(x + h)) - np.asarray(moe(x - h))) / (2 * h)
    np.testing.assert_allclose(np.asarray(g)[:, 0], fd, rtol=1e-5, atol=1e-6)
    d = moe.dispatch(np.asarray(x))
    g2 = jax.grad(lambda z: moe.apply_dispatched(z, d).sum())(x)
    np.testing.assert_allclose(g2, g, atol=1e-12)
    np.testing.assert_allclose(jax.jit(lambda z: moe.apply_dispatched(z, d))(x), moe(x), atol=1e-14)
    cells = ma.certify.cell_grid(*part.all_bounds(), 5)  # (4, 5, 1): points grouped by cell
    flat = jnp.asarray(cells.reshape(-1, 1))
    g3 = jax.grad(lambda z: jax.jit(moe.apply_blocked)(z).sum())(jnp.asarray(cells))
    g4 = jax.grad(lambda z: moe.apply_per_point(z).sum())(flat)
    np.testing.assert_allclose(np.asarray(g3).reshape(-1, 1), g4, atol=1e-12)


def test_sizes_and_counts():
    f = ma.targets.get("cone", n=2)
    moe = ma.build_moe(f, ma.GridPartition(2, 8))
    assert moe.num_experts == 64
    assert moe.expert_params == 3 and moe.expert_depth == 1 and moe.expert_width == 0
    assert moe.active_params == 3 + 2 * 3
    assert moe.total_params == 64 * 3 + 2 * 7


def test_constant_expert_error_is_c_h_over_2():
    """Cone 1 − ‖x − ½‖_∞ with constant experts on a K^n grid: error exactly C·h/2 (docs/theory.md §4.1)."""
    for n, K in [(1, 5), (2, 4), (3, 2)]:
        f = ma.targets.get("cone", n=n)
        moe = ma.build_moe(f, ma.GridPartition(n, K))
        lo, hi = moe.partition.all_bounds()
        x = ma.certify.cell_grid(lo, hi, 9)  # cell midpoint grid includes near-corner points
        err = np.abs(np.asarray(f(x)) - np.asarray(moe.apply_blocked(x))).max()
        assert err <= 1 / (2 * K) + 1e-15
        # a corner of the central-most cell attains C·h/2 exactly (approached from inside)
        report = ma.sup_error(f, moe, max_evals=4000 * moe.num_experts)
        assert report.lower <= 1 / (2 * K) + 1e-15 and report.lower > 0.9 / (2 * K)


def test_bad_inputs():
    f = ma.targets.get("cone", n=2)
    part = ma.GridPartition(2, 3)
    with pytest.raises(ValueError, match="unknown expert family"):
        ma.build_moe(f, part, expert="spline")
    with pytest.raises(ValueError, match="n=1"):
        ma.build_moe(ma.targets.get("cone", n=1), part)
    with pytest.raises(ValueError, match="activation"):
        ma.build_moe(f, part, activation="tanh")
    with pytest.raises(ValueError, match="unknown size"):
        ma.build_moe(f, part, k=3)
    moe = ma.build_moe(f, part)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        moe(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        moe(np.array([[np.nan, 0.1]]))
    with pytest.raises(TypeError, match="MLP"):
        MixtureOfExperts(part, "not a network")
    with pytest.raises(ValueError, match="stack of 9"):
        MixtureOfExperts(part, random_net(np.random.default_rng(0), (2, 3, 1), batch=(4,)))
    with pytest.raises(MemoryError, match="GiB"):
        ma.build_moe(ma.targets.get("cone", n=3), ma.GridPartition(3, 1000))
