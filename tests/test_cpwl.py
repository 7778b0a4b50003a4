"""Tests of the Kuhn piecewise-linear experts (docs/theory.md §4.2), against independent computations:
exact counts of the built weights, the sorted-coordinate Kuhn formula in numpy, exact affine
reproduction, node interpolation, the Hölder bound on random targets, and convergence slopes."""

import jax.numpy as jnp
import numpy as np
import pytest

import moe_approx as ma
from moe_approx import targets
from generic import evaluate, generic_cells, generic_target
from moe_approx.experts import cpwl
from moe_approx.mlp import index_stack

ACTIVATIONS = ("relu", "prelu")
SIZES = [(1, k) for k in (1, 2, 3, 5)] + [(2, k) for k in (1, 2, 3, 8)] + [(3, 1), (3, 2), (4, 1)]


def kuhn_interpolant(values, k, z):
    """Sorted-coordinate Kuhn formula on [0,k]^n: from the sub-cube corner b, walk the vertices
    b, b + e_π(1), … in the order of decreasing fractional parts r_π(1) >= … >= r_π(n)."""
    n = z.shape[-1]
    grid = values.reshape((k + 1,) * n)
    b = np.minimum(np.floor(z), k - 1).astype(int)
    r = z - b
    order = np.argsort(-r, axis=-1, kind="stable")
    vertex = b.copy()
    out = grid[tuple(vertex.T)]
    rows = np.arange(len(z))
    for i in range(n):
        prev = grid[tuple(vertex.T)]
        vertex[rows, order[:, i]] += 1
        out = out + r[rows, order[:, i]] * (grid[tuple(vertex.T)] - prev)
    return out


def points_in_cells(lo, hi, P, seed=1):
    u = np.random.default_rng(seed).uniform(size=(lo.shape[0], P, lo.shape[1]))
    return lo[:, None] + (hi - lo)[:, None] * u


# --- exact counts ------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n,k", SIZES)
def test_closed_forms_equal_counted_weights(n, k, activation):
    lo, hi = generic_cells(n)
    net = cpwl.build(generic_target(n), lo, hi, activation=activation, k=k)
    d = net.widths
    stored = sum(d[l] * d[l + 1] + d[l + 1] for l in range(len(d) - 1)) + (sum(d[1:-1]) if activation == "prelu" else 0)
    nonzero = np.asarray(net.num_nonzero)
    assert (net.depth, net.width) == (cpwl.depth(n, activation, k), cpwl.width(n, activation, k))
    assert stored == net.num_params == cpwl.num_params(n, activation, k)
    assert np.all(nonzero == cpwl.num_nonzero(n, activation, k))  # every cell is in generic position


def test_closed_forms_accept_symbols_for_n_up_to_2():
    import sympy as sp

    k = sp.Symbol("k", positive=True, integer=True)
    for n in (1, 2, 3):
        for activation in ACTIVATIONS:
            for fn in (cpwl.depth, cpwl.width, cpwl.num_params, cpwl.num_nonzero):
                expr = sp.sympify(fn(n, activation, k))
                assert all(expr.subs(k, v) == fn(n, activation, v) for v in (1, 2, 7, 8, 9))


# --- the function --------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_hat_sum_equals_sorted_coordinate_kuhn_formula(n, rng):
    k = 2
    values = rng.normal(size=(k + 1) ** n)
    z = rng.uniform(0, k, size=(400, n))
    z[:50] = rng.integers(0, k + 1, size=(50, n))  # nodes and faces too
    z[50:100, 0] = z[50:100, -1]  # ties between coordinates (simplex boundaries)
    for activation in ACTIVATIONS:
        hat = cpwl.hat_network(n, activation)
        hats = np.stack([evaluate(hat, z - j) for j in cpwl.nodes(n, k)], axis=-1)
        np.testing.assert_allclose(hats @ values, kuhn_interpolant(values, k, z), atol=1e-13)


@pytest.mark.parametrize("n,k", [(1, 1), (1, 4), (2, 1), (2, 3), (3, 2), (4, 1)])
def test_expert_equals_kuhn_interpolant_of_node_values(n, k):
    f = generic_target(n)
    lo, hi = generic_cells(n)
    x = points_in_cells(lo, hi, 300)
    values = cpwl.node_values(f, lo, hi, k)
    for activation in ACTIVATIONS:
        out = evaluate(cpwl.build(f, lo, hi, activation=activation, k=k), x)
        for i in range(len(lo)):
            z = k * (x[i] - lo[i]) / (hi[i] - lo[i])
            np.testing.assert_allclose(out[i], kuhn_interpolant(values[i], k, z), atol=1e-12)


@pytest.mark.parametrize("n,k", [(1, 1), (1, 3), (2, 1), (2, 4), (3, 2)])
def test_reproduces_affine_functions_and_interpolates_nodes(n, k):
    lo, hi = generic_cells(n, seed=n + k)
    grid = cpwl.nodes(n, k) / k
    node_pts = lo[:, None] + (hi - lo)[:, None] * grid
    f = generic_target(n)
    for activation in ACTIVATIONS:
        net = cpwl.build(targets.get("affine", n=n), lo, hi, activation=activation, k=k)
        x = points_in_cells(lo, hi, 500)
        np.testing.assert_allclose(evaluate(net, x), np.asarray(targets.get("affine", n=n)(x)), atol=1e-12)
        net = cpwl.build(f, lo, hi, activation=activation, k=k)
        np.testing.assert_allclose(evaluate(net, node_pts), np.asarray(f(node_pts)), rtol=1e-13, atol=1e-13)


def random_holder_target(n, rng):
    """Σ_i a_i |w_i·x − b_i|^α: (α, Σ|a_i| ‖w_i‖_1^α)-Hölder in ‖·‖_∞ (|s^α − t^α| <= |s − t|^α)."""
    alpha = float(rng.choice([0.25, 0.5, 0.8, 1.0]))
    a, w, b = rng.normal(size=4), rng.normal(size=(4, n)), rng.uniform(0, 1, 4)
    C = float(np.sum(np.abs(a) * np.abs(w).sum(1) ** alpha))
    return targets.HolderTarget(lambda x: jnp.abs(x @ w.T - b) ** alpha @ a, n, alpha, C)


@pytest.mark.parametrize("seed", range(6))
def test_holder_bound_never_exceeded_on_random_targets(seed):
    rng = np.random.default_rng(seed)
    n = 1 + seed % 3
    f = random_holder_target(n, rng)
    part = ma.GridPartition(n, 2)
    x = rng.uniform(size=(4000, n))
    for k in (1, 2 if n == 3 else 3):
        moe = ma.build_moe(f, part, expert="cpwl", activation=["relu", "prelu"][seed % 2], k=k)
        cells = np.asarray(part.locate(x))
        err = max(np.max(np.abs(evaluate(index_stack(moe.experts, [c]), x[None, cells == c]) - np.asarray(f(x[cells == c]))))
                  for c in range(part.num_cells))
        assert err <= cpwl.error_bound(f.alpha, f.constant, 0.5, n, k=k) * (1 + 1e-12)


def test_prelu_computes_the_same_function_and_is_never_larger():
    for n, k in SIZES:
        lo, hi = generic_cells(n)
        f = generic_target(n)
        relu, prelu = (cpwl.build(f, lo, hi, activation=a, k=k) for a in ACTIVATIONS)
        x = points_in_cells(lo, hi, 200)
        np.testing.assert_allclose(evaluate(relu, x), evaluate(prelu, x), atol=1e-13)
        assert np.all(prelu.num_nonzero <= relu.num_nonzero) and prelu.width <= relu.width
        if n == 1:  # same neurons; PReLU stores one (zero) slope per neuron more
            assert prelu.num_params == relu.num_params + k
        else:  # |t| by one slope −1 neuron, max/min and identities by slope-1 neurons
            assert prelu.num_params < relu.num_params
            assert np.all(prelu.num_nonzero < relu.num_nonzero)


# --- rates ---------------------------------------------------------------------------------------
def fitted_slope(ks, errors):
    return np.polyfit(np.log(ks), np.log(errors), 1)[0]


def sup_error(f, k, points_per_side):
    """Error of the expert on the single cell [0,1]^n, on a dense grid that contains every node."""
    n = f.n
    x = np.stack(np.meshgrid(*[np.linspace(0, 1, points_per_side)] * n, indexing="ij"), -1).reshape(1, -1, n)
    net = cpwl.build(f, np.zeros((1, n)), np.ones((1, n)), k=k)
    return np.max(np.abs(evaluate(net, x) - np.asarray(f(x))))


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_error_slope_is_minus_alpha_for_holder_targets(alpha):
    """|x − 1/3|^α: at k = 2^j the kink sits at the same relative place of its sub-interval."""
    f = targets.HolderTarget(lambda x: jnp.abs(x[..., 0] - 1 / 3) ** alpha, 1, alpha, 1.0)
    ks = [4, 8, 16, 32, 64]
    slope = fitted_slope(ks, [sup_error(f, k, 2**14 + 1) for k in ks])
    assert abs(slope + alpha) < 0.1, slope


@pytest.mark.parametrize("n", [1, 2])
def test_error_slope_is_minus_two_for_c2_targets(n):
    ks = [4, 8, 16, 32]
    errs = [sup_error(targets.get("sine_product", n=n), k, 2**12 + 1 if n == 1 else 129) for k in ks]
    assert abs(fitted_slope(ks, errs) + 2) < 0.1, errs


# --- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("k,err", [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError)])
def test_bad_size_raises(k, err):
    lo, hi = generic_cells(1)
    with pytest.raises(err, match="k must be an integer >= 1"):
        cpwl.build(generic_target(1), lo, hi, k=k)


def test_bad_cells_and_memory_raise():
    lo, hi = generic_cells(2)
    with pytest.raises(ValueError, match="lo and hi"):
        cpwl.build(generic_target(2), lo, lo, k=1)
    with pytest.raises(MemoryError, match="cpwl experts with k=400 on n=4"):
        cpwl.build(generic_target(4), *generic_cells(4, L=1), k=400)
    with pytest.raises(ValueError, match="size k must be an integer >= 1"):
        ma.build_moe(generic_target(2), ma.GridPartition(2, 2), expert="cpwl", k=0)
