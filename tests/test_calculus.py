"""Network calculus (docs/theory.md §3): each operation equals the function it must compute."""

import itertools

import numpy as np
import pytest

from moe_approx import MLP, calculus as c

ACTS = ["relu", "prelu"]


def random_net(rng, widths, activation="relu", batch=()):
    layers = tuple((rng.standard_normal(batch + (a, b)), rng.standard_normal(batch + (b,)))
                   for a, b in zip(widths[:-1], widths[1:]))
    slopes = tuple((rng.uniform(-1, 1, batch + (w,)) if activation == "prelu" else np.zeros(batch + (w,)))
                   for w in widths[1:-1])
    return MLP(layers, slopes, activation)


def numpy_forward(net, x):
    """Independent forward pass in plain numpy, one network (no stack)."""
    h = np.asarray(x, float)
    for l, (w, b) in enumerate(net.layers):
        h = h @ np.asarray(w) + np.asarray(b)
        if l < len(net.slopes):
            h = np.where(h >= 0, h, np.asarray(net.slopes[l]) * h)
    return h


@pytest.mark.parametrize("act", ACTS)
def test_mlp_matches_numpy_and_counts(rng, act):
    net = random_net(rng, (3, 5, 4, 2), act)
    x = rng.standard_normal((50, 3))
    np.testing.assert_allclose(net(x), numpy_forward(net, x), rtol=1e-13, atol=1e-13)
    stored = 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2 + (9 if act == "prelu" else 0)
    assert net.num_params == stored
    assert (net.depth, net.width, net.in_dim, net.out_dim) == (3, 5, 3, 2)
    assert np.asarray(net(x)).dtype == np.float64


def test_num_nonzero_counts_exact_zeros(rng):
    net = random_net(rng, (2, 3, 1), "prelu")
    w, b = net.layers[0]
    w = w.copy()
    w[0, 1] = 0.0
    slopes = (np.array([0.0, 1.0, 0.0]),)
    net2 = MLP(((w, b), net.layers[1]), slopes, "prelu")
    assert net2.num_nonzero == net2.num_params - 1 - 2


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("d,depth", [(1, 1), (1, 4), (3, 2), (2, 5)])
def test_identity_is_exact_and_has_stated_width(rng, act, d, depth):
    net = c.identity(d, depth, act)
    x = rng.standard_normal((64, d)) * 10
    np.testing.assert_array_equal(net(x), x)
    assert net.depth == depth
    assert net.width == (0 if depth == 1 else (d if act == "prelu" else 2 * d))


@pytest.mark.parametrize("act", ACTS)
def test_compose_merges_and_equals_composition(rng, act):
    outer, inner = random_net(rng, (4, 6, 2), act), random_net(rng, (3, 5, 4), act)
    net = c.compose(outer, inner)
    x = rng.standard_normal((40, 3))
    assert net.depth == outer.depth + inner.depth - 1
    np.testing.assert_allclose(net(x), numpy_forward(outer, numpy_forward(inner, x)), rtol=1e-12, atol=1e-12)


def test_compose_rejects_mismatch(rng):
    with pytest.raises(ValueError, match="outer takes"):
        c.compose(random_net(rng, (3, 2)), random_net(rng, (2, 4)))
    with pytest.raises(ValueError, match="different activations"):
        c.compose(random_net(rng, (2, 3, 1), "prelu"), random_net(rng, (2, 3, 2), "relu"))


@pytest.mark.parametrize("act", ACTS)
def test_parallel_add_scale_linear_combination(rng, act):
    a, b = random_net(rng, (3, 4, 2), act), random_net(rng, (3, 5, 3, 6, 2), act)
    x = rng.standard_normal((30, 3))
    ya, yb = numpy_forward(a, x), numpy_forward(b, x)
    np.testing.assert_allclose(c.parallel(a, b)(x), np.hstack([ya, yb]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c.add(a, b)(x), ya + yb, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c.scale(a, -2.5)(x), -2.5 * ya, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c.linear_combination([a, b], [0.5, 3.0], offset=1.0)(x), 0.5 * ya + 3 * yb + 1,
                               rtol=1e-12, atol=1e-12)
    assert c.parallel(a, b).depth == 4


@pytest.mark.parametrize("act", ACTS)
def test_affine_pre_and_post(rng, act):
    net = random_net(rng, (2, 3, 1), act)
    A, v = rng.standard_normal((2, 2)), rng.standard_normal(2)
    x = rng.standard_normal((20, 2))
    np.testing.assert_allclose(c.pre_affine(net, A, v)(x), numpy_forward(net, x @ A + v), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c.post_affine(net, [[2.0]], [1.0])(x), 2 * numpy_forward(net, x) + 1, rtol=1e-12)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("m", range(1, 10))
def test_max_min_trees(rng, act, m):
    x = rng.standard_normal((200, m))
    mx, mn = c.maximum(m, act), c.minimum(m, act)
    np.testing.assert_allclose(np.asarray(mx(x))[:, 0], x.max(1), rtol=0, atol=1e-15 * np.abs(x).max() * 8)
    np.testing.assert_allclose(np.asarray(mn(x))[:, 0], x.min(1), rtol=0, atol=1e-15 * np.abs(x).max() * 8)
    assert mx.depth == c.tree_depth(m) == (int(np.ceil(np.log2(m))) + 1 if m > 1 else 1)
    # exact small cases: integers are represented exactly, so the tree is exact
    ints = np.array(list(itertools.product(range(-2, 3), repeat=min(m, 3))), float)
    if m <= 3:
        np.testing.assert_array_equal(np.asarray(c.maximum(m, act)(ints))[:, 0], ints.max(1))


def test_prelu_tree_is_smaller(rng):
    for m in range(2, 9):
        assert c.maximum(m, "prelu").num_params < c.maximum(m, "relu").num_params


def test_batched_stack_broadcasts_against_shared_layers(rng):
    L = 6
    first = c.affine(rng.standard_normal((L, 2, 3)), rng.standard_normal((L, 3)))
    net = c.compose(c.maximum(3), first)
    assert net.batch_shape == (L,)
    x = rng.standard_normal((L, 10, 2))
    expect = np.einsum("lpi,lij->lpj", x, first.layers[0][0]) + first.layers[0][1][:, None, :]
    np.testing.assert_allclose(np.asarray(net(x))[..., 0], expect.max(-1), atol=1e-14)


def test_bad_inputs():
    with pytest.raises(ValueError, match="activation"):
        c.identity(2, 2, "tanh")
    with pytest.raises(ValueError, match="d >= 1"):
        c.identity(0, 2)
    with pytest.raises(ValueError, match="m >= 1"):
        c.maximum(0)
    with pytest.raises(ValueError, match="slopes"):
        MLP(((np.ones((2, 3)), np.zeros(3)), (np.ones((3, 1)), np.zeros(1))), (), "relu")
    with pytest.raises(ValueError, match="all slopes 0"):
        MLP(((np.ones((2, 3)), np.zeros(3)), (np.ones((3, 1)), np.zeros(1))), (np.ones(3),), "relu")
    with pytest.raises(ValueError, match="input width"):
        MLP(((np.ones((2, 3)), np.zeros(3)), (np.ones((4, 1)), np.zeros(1))), (np.zeros(3),), "relu")
