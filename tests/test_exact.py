"""Exact and fixed-precision evaluation (moe_approx.exact), and the float64 limit of the optimal expert."""

from fractions import Fraction

import numpy as np
import pytest

from moe_approx import calculus, targets
from moe_approx.exact import evaluate_exact
from moe_approx.experts import optimal as opt
from moe_approx.experts import _optimal_layers as stages
from moe_approx.experts._optimal_layers import Expr
from moe_approx.mlp import MLP


def test_exact_evaluation_of_a_hand_computed_network():
    # x ↦ |x − 1/3| · 3/7 with PReLU slope −1: a rational result float64 cannot hold
    net = MLP(((np.array([[1.0]], dtype=object) * 1, np.array([Fraction(-1, 3)], dtype=object)),
               (np.array([[Fraction(3, 7)]], dtype=object), np.array([0], dtype=object))),
              (np.array([-1]),), "prelu")
    x = np.array([[Fraction(0)], [Fraction(1, 2)], [0.25]], dtype=object)
    assert list(evaluate_exact(net, x)) == [Fraction(1, 7), Fraction(1, 14), Fraction(1, 28)]


def test_exact_evaluation_of_float_weights_matches_float64_where_exact():
    net = calculus.maximum(5)
    x = np.random.default_rng(0).integers(-1000, 1000, size=(50, 5)).astype(float)
    assert np.array_equal(np.array([float(v) for v in evaluate_exact(net, x)]), x.max(axis=1))


@pytest.mark.parametrize("activation", ["relu", "prelu"])
@pytest.mark.parametrize("n,A,B", [(1, 4, 4), (2, 3, 3)])
def test_float64_and_exact_evaluation_of_an_expert_agree(n, A, B, activation):
    f = targets.get("cone", n=n)
    lo, hi = np.array([[0.0] * n, [0.5] * n]), np.array([[1.0] * n, [0.75] * n])
    net = opt.build(f, lo, hi, activation=activation, A=A, B=B)
    unit = np.random.default_rng(n).random((2, 40 if n == 1 else 12, n))
    x = lo[:, None] + unit * (hi - lo)[:, None]
    exact = np.vectorize(float)(evaluate_exact(net, x))
    np.testing.assert_allclose(opt.evaluate(net, x), exact, rtol=0, atol=1e-12)
    if n == 1:
        rounded = np.vectorize(float)(evaluate_exact(net, x, precision=53))
        np.testing.assert_allclose(rounded, exact, rtol=0, atol=1e-12)


def test_exact_weights_match_float_weights_inside_float64_range():
    f = targets.get("sine_product", n=1)
    lo, hi = np.zeros((1, 1)), np.ones((1, 1))
    fl, ex = opt.build(f, lo, hi, A=3, B=5), opt.build_exact(f, lo, hi, A=3, B=5)
    for (wf, bf), (we, be) in zip(fl.layers[1:-1], ex.layers[1:-1]):  # first and last layer: rounded reciprocals
        assert np.array_equal(np.asarray(wf, float), np.vectorize(float)(we))
        assert np.array_equal(np.asarray(bf, float), np.vectorize(float)(be))


def test_beyond_float64_the_exact_expert_stays_within_its_bound():
    f = targets.get("cone", n=1)
    A, B = 3, opt.MAX_BLOCK_FLOAT64 + 3
    net = opt.build_exact(f, np.zeros((1, 1)), np.ones((1, 1)), A=A, B=B)
    x = np.linspace(0, 1, 61)[None, :, None]
    out = np.vectorize(float)(evaluate_exact(net, x))[0]
    err = np.abs(out - np.asarray(f(x[0]))).max()
    assert err <= opt.error_bound(1, f.constant, 1.0, 1, A=A, B=B)


def test_bit_extraction_past_27_digits_needs_exact_arithmetic():
    """B = 28: 54 encoded bits. Rounded to float64 the last digit is lost; exact evaluation keeps it."""
    B = opt.MAX_BLOCK_FLOAT64 + 1
    layers, S = stages._extraction_layers(B, Expr({0: 1}), Expr({1: 1}), Expr({2: 1}))
    net = stages._assemble(layers, S, 3, "relu", 1, object)
    rng = np.random.default_rng(3)
    d = rng.integers(-1, 2, size=(20, B - 1))
    d[:, -1] = 1  # last digit 3: bits 53 and 54 set, so rounding to 53 bits carries into digit B − 2
    y = [sum(Fraction(int(k) + 2, 4**m) for m, k in enumerate(row, start=1)) for row in d]
    x = np.array([[v, B, B - 1] for v in y], dtype=object)  # running sum starts at B >= 0
    assert list(evaluate_exact(net, x)) == list(B + d.sum(axis=1))
    x_float = np.array([[float(v), B, B - 1] for v in y], dtype=object)
    assert list(evaluate_exact(net, x_float)) != list(B + d.sum(axis=1))


def test_bad_input():
    net = calculus.maximum(2)
    with pytest.raises(TypeError, match="MLP"):
        evaluate_exact("net", np.zeros((1, 2)))
    with pytest.raises(ValueError, match="shape"):
        evaluate_exact(net, np.zeros((1, 3)))
    with pytest.raises(ValueError, match="precision"):
        evaluate_exact(net, np.zeros((1, 2)), precision=1)
