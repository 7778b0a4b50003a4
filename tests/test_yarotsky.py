"""Tests of Yarotsky's square, product and Taylor experts (docs/theory.md §4.3), against independent
computations: np.interp of x² on the dyadic grid, exact attaining points, counts derived by hand,
SymPy derivatives, and convergence slopes."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import moe_approx as ma
from moe_approx import targets
from generic import evaluate, generic_cells, generic_target
from moe_approx.experts import yarotsky as y

ACTIVATIONS = ("relu", "prelu")


def smooth_target(n, amplitude=1.0, seed=None, s=4.0):
    """a·sin(w·x + b), ‖w‖_1 <= 1: every partial of every order is bounded
    by a and a-Lipschitz in ‖·‖_∞ (the class of :func:`yarotsky.error_bound` with C = a, α = 1)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n)
    w /= np.abs(w).sum()
    b = rng.uniform(0, 2 * np.pi)
    return targets.HolderTarget(lambda x: amplitude * jnp.sin(x @ w + b), n, 1.0, amplitude, "sine", s, amplitude)


# --- square and product --------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_square_error_is_exactly_two_to_minus_2m_minus_2(activation):
    for m in range(1, 9):
        x = np.linspace(0, 1, 2 ** (m + 3) + 1)[:, None]  # contains every midpoint of the grid 2^-m
        err = evaluate(y.square_network(m, activation), x) - x[:, 0] ** 2
        assert abs(err.max() - 2.0 ** (-2 * m - 2)) <= 1e-15 and err.min() >= -1e-15
        assert float(y.square_error(m)) == 2.0 ** (-2 * m - 2)


def test_square_is_the_dyadic_linear_interpolant(rng):
    x = rng.uniform(size=2000)
    for m in (1, 3, 6):
        grid = np.linspace(0, 1, 2**m + 1)
        for activation in ACTIVATIONS:
            np.testing.assert_allclose(evaluate(y.square_network(m, activation), x[:, None]), np.interp(x, grid, grid**2), atol=1e-15)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_product_error_bound_and_attained_sup(activation):
    for m in range(1, 6):
        e = 2.0 ** (-2 * m - 2)
        net = y.product_network(m, activation)
        g = np.linspace(0, 1, 2 ** (m + 2) + 1)
        X = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
        err = evaluate(net, X) - X[:, 0] * X[:, 1]
        assert err.max() <= 3 * e and -err.min() <= 3 * e
        assert abs(err.max() - 2 * e) <= 1e-15 and err.min() >= -e - 1e-15  # −e <= P − xy <= 2e
        attain = np.array([[0.0, 2.0**-m], [2.0**-m, 0.0], [1 - 2.0**-m, 1.0]])  # nodes with a midpoint mean
        np.testing.assert_allclose(evaluate(net, attain) - attain[:, 0] * attain[:, 1], 2 * e, atol=1e-15)


@pytest.mark.parametrize("m", range(1, 7))
def test_square_and_product_counts_derived_by_hand(m):
    """ReLU: layers (1,4), m−1 × (4,4), (4,1); nonzeros 5 + 13(m−1) + 4. PReLU: width 3, slope-1 carry."""
    relu, prelu = (y.square_network(m, a) for a in ACTIVATIONS)
    assert (relu.depth, relu.width, relu.num_params, relu.num_nonzero) == (m + 1, 4, 20 * m - 7, 13 * m - 4)
    assert (prelu.depth, prelu.width, prelu.num_params, prelu.num_nonzero) == (m + 1, 3, 15 * m - 2, 9 * m - 1)
    for a, w in (("relu", 12), ("prelu", 9)):
        assert (y.product_network(m, a).depth, y.product_network(m, a).width) == (m + 1, w)


# --- Taylor experts ------------------------------------------------------------------------------
CASES = [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3), (3, 2)]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n,degree", CASES)
def test_closed_forms_equal_counted_weights(n, degree, activation):
    lo, hi = generic_cells(n)
    msym = sp.Symbol("m", positive=True, integer=True)
    for m in (1, 2, 3, 5):
        net = y.build(generic_target(n), lo, hi, activation=activation, m=m, degree=degree)
        d = net.widths
        stored = sum(d[l] * d[l + 1] + d[l + 1] for l in range(len(d) - 1)) + (sum(d[1:-1]) if activation == "prelu" else 0)
        want = [f(n, activation, m=m, degree=degree) for f in (y.depth, y.width, y.num_params, y.num_nonzero)]
        assert [net.depth, net.width, stored, net.num_params] == want[:3] + [want[2]]
        assert np.all(net.num_nonzero == want[3])  # every cell in generic position
        symbolic = [sp.sympify(f(n, activation, m=msym, degree=degree)).subs(msym, m) for f in (y.depth, y.num_params, y.num_nonzero)]
        assert symbolic == [want[0], want[2], want[3]]


def test_taylor_coefficients_match_sympy_derivatives(rng):
    n, degree = 2, 3
    xs = sp.symbols("x0 x1")
    expr = sp.exp(sp.Rational(3, 10) + sp.sin(sp.Rational(21, 10) * (sp.Rational(7, 10) * xs[0] - sp.Rational(45, 100) * xs[1])))
    centres = rng.uniform(size=(4, n))
    got = y.taylor_coefficients(generic_target(n), centres, degree)
    for j, beta in enumerate(y.monomials(n, degree)):
        d = sp.diff(expr, *[v for v, b in zip(xs, beta) for _ in range(b)]) if sum(beta) else expr
        exact = [float(d.subs(dict(zip(xs, c)))) / math.prod(math.factorial(b) for b in beta) for c in centres]
        np.testing.assert_allclose(got[:, j], exact, rtol=1e-12, atol=1e-13)


def test_polynomial_targets_are_reproduced():
    """A degree-2 polynomial is its own Taylor polynomial: only the product networks err (m = 26)."""
    f = targets.HolderTarget(lambda x: 0.3 + x[..., 0] * x[..., 1] - 0.7 * x[..., 1] ** 2 + 0.2 * x[..., 0], 2, 1.0, 3.0, "poly", 3.0, 1.0)
    lo, hi = generic_cells(2)
    x = lo[:, None] + (hi - lo)[:, None] * np.random.default_rng(3).uniform(size=(3, 400, 2))
    for activation in ACTIVATIONS:
        net = y.build(f, lo, hi, activation=activation, m=26, degree=2)
        np.testing.assert_allclose(evaluate(net, x), np.asarray(f(x)), atol=1e-13)


@pytest.mark.parametrize("seed", range(4))
def test_error_bound_never_exceeded_on_random_smooth_targets(seed):
    n, degree = 1 + seed % 2, 1 + seed % 3
    f = smooth_target(n, amplitude=1.5, seed=seed)
    part = ma.GridPartition(n, 2)
    lo, hi = part.all_bounds()
    x = lo[:, None] + (hi - lo)[:, None] * np.random.default_rng(seed).uniform(size=(len(lo), 3000, n))
    for m in (1, 2, 4):
        net = y.build(f, lo, hi, activation=ACTIVATIONS[seed % 2], m=m, degree=degree)
        err = np.max(np.abs(evaluate(net, x) - np.asarray(f(x))))
        assert err <= float(y.error_bound(1.0, 1.5, 0.5, n, m=m, degree=degree)) * (1 + 1e-12)


def test_prelu_computes_the_same_function_and_is_never_larger():
    for n, degree in CASES:
        lo, hi = generic_cells(n)
        relu, prelu = (y.build(generic_target(n), lo, hi, activation=a, m=3, degree=degree) for a in ACTIVATIONS)
        x = lo[:, None] + (hi - lo)[:, None] * np.random.default_rng(1).uniform(size=(3, 200, n))
        np.testing.assert_allclose(evaluate(relu, x), evaluate(prelu, x), atol=1e-12)
        assert np.all(prelu.num_nonzero <= relu.num_nonzero) and prelu.width <= relu.width
        if degree >= 2:  # identity carries and the square's carry: one slope-1 neuron instead of two
            assert prelu.num_params < relu.num_params and prelu.width < relu.width


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_error_slope_is_minus_degree_plus_one_in_h(degree):
    f = targets.HolderTarget(lambda x: jnp.sin(3 * x[..., 0] + 0.5), 1, 1.0, 3.0, "sin3", 4.0, 81.0)
    Ks = [4, 8, 16, 32]
    errs = []
    for K in Ks:
        lo, hi = ma.GridPartition(1, K).all_bounds()
        x = lo[:, None] + (hi - lo)[:, None] * np.linspace(0, 1, 257)[None, :, None]
        net = y.build(f, lo, hi, m=24, degree=degree)
        errs.append(np.max(np.abs(evaluate(net, x) - np.asarray(f(x)))))
    slope = np.polyfit(np.log(1 / np.array(Ks)), np.log(errs), 1)[0]
    assert abs(slope - (degree + 1)) < 0.1, (slope, errs)


# --- bad input -----------------------------------------------------------------------------------
def test_bad_input_raises():
    lo, hi = generic_cells(1)
    with pytest.raises(ValueError, match="declares no smoothness"):
        y.build(targets.get("cone", n=1), lo, hi)
    with pytest.raises(ValueError, match="degree=3 needs derivatives of order 3"):
        y.build(targets.get("sine_product", n=1), lo, hi, degree=3)
    for kw, err in (({"m": 0}, ValueError), ({"degree": 0}, ValueError), ({"m": 1.5}, TypeError)):
        with pytest.raises(err, match=f"{next(iter(kw))} must be an integer >= 1"):
            y.build(generic_target(1), lo, hi, **kw)
    with pytest.raises(MemoryError, match="yarotsky experts with m=40, degree=25 on n=6"):
        y.build(targets.HolderTarget(lambda x: x.sum(-1), 6, 1.0, 6.0, "lin", 30.0, 1.0), *generic_cells(6), m=40, degree=25)
    with pytest.raises(ValueError, match="size degree must be an integer >= 1"):
        ma.build_moe(generic_target(1), ma.GridPartition(1, 2), expert="yarotsky", degree=0)
