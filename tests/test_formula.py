"""Targets given as formulas (moe_approx.formula, docs/theory.md §9)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import moe_approx as ma
from moe_approx import formula
from moe_approx import intervals as iv
from moe_approx.formula import FormulaTarget, from_sympy, variables

X1, X2, X3 = variables(3)


def _boxes(rng, n, count, width):
    lo = rng.uniform(0, 1 - width, size=(count, n))
    return lo, lo + width


def _samples(rng, lo, hi, per_box=32):
    return lo[:, None, :] + rng.uniform(0, 1, size=(len(lo), per_box, lo.shape[1])) * (hi - lo)[:, None, :]


@pytest.mark.parametrize("name", formula.library_names())
def test_library_formulas_match_targets_and_enclose_them(name, rng):
    for n in (1, 2, 3):
        f, ref = formula.library(name, n), ma.targets.get(name, n)
        assert isinstance(f, ma.HolderTarget) and (f.alpha, f.constant, f.smoothness) == (ref.alpha, ref.constant, ref.smoothness)
        x = rng.uniform(size=(200, n))
        assert np.max(np.abs(np.asarray(f(x)) - np.asarray(ref(x)))) < 1e-13
    n = 1 if name == "weierstrass" else 2  # (12 cosines in 2-D take long to compile)
    f, ref = formula.library(name, n), ma.targets.get(name, n)
    lo, hi = _boxes(rng, n, 64, 0.05)
    f_lo, f_hi = (np.asarray(a) for a in f.enclose(lo, hi))
    m_lo, m_hi = (np.asarray(a) for a in f.mean_value_enclosure(lo, hi))
    values = np.asarray(ref(_samples(rng, lo, hi)))
    slack = 1e-14  # the library rounds 1/3 and (√5 − 1)/2 to floats; the formula is exact
    assert np.all(f_lo[:, None] - slack <= values) and np.all(values <= f_hi[:, None] + slack)
    assert np.all(m_lo[:, None] - slack <= values) and np.all(values <= m_hi[:, None] + slack)
    assert np.all(m_lo >= f_lo) and np.all(m_hi <= f_hi)
    assert "proven in moe_approx/targets/library.py" in repr(f)


def test_string_and_sympy_give_the_same_target(rng):
    a = from_sympy("sqrt(abs(x1 - 1/3)) + sin(3*x2) + arctan(x1^2) + min(x1, x2)", 2, alpha=0.5, constant=10.0)
    b = from_sympy(sp.sqrt(sp.Abs(X1 - sp.Rational(1, 3))) + sp.sin(3 * X2) + sp.atan(X1**2) + sp.Min(X1, X2), 2, alpha=0.5, constant=10.0)
    assert a.expr == b.expr
    x = rng.uniform(size=(50, 2))
    np.testing.assert_array_equal(np.asarray(a(x)), np.asarray(b(x)))
    plain = sp.Symbol("x1")  # symbols without the real assumption are renamed to the real ones
    assert from_sympy(plain**2, 1).expr == X1**2
    assert "declared by the user" in repr(a)


def test_computed_lipschitz_constant_is_rigorous_and_tight(rng):
    # sup ‖∇f‖_1 of sin(3 x1) + x2²/2 on [0,1]² is 3 + 1, at the corner (0, 1)
    f = from_sympy("sin(3*x1) + x2^2/2", 2)
    assert f.alpha == 1.0 and 4.0 <= f.constant <= 4.0 * (1 + 1e-12)
    assert "computed" in f.constants_source and "computed" in repr(f)
    a = from_sympy(formula.library("affine", 3).expr, 3)  # ‖w‖_1 = (n + 1)/2
    assert 2.0 <= a.constant <= 2.0 * (1 + 1e-12)
    # refined cover: within ~1 % of sup ‖∇f‖_1 = π for Π sin(π x_i), n = 2 (at x1 + x2 = 1/2) and of the
    # attained library constant √n e^(−1/2)/σ of the Gaussian bump
    assert math.pi <= formula.library("sine_product", 2).lipschitz_bound() <= math.pi * 1.02
    bump = formula.library("gaussian_bump", 2)
    assert bump.constant <= bump.lipschitz_bound() <= bump.constant * 1.02
    g = from_sympy("exp(-x1*x2) * cos(5*x2) + erf(x1 - x2) + tanh(x1)", 2)
    grad = jax.vmap(jax.grad(g.fn))(jnp.asarray(rng.uniform(size=(4000, 2))))
    assert float(jnp.max(jnp.sum(jnp.abs(grad), axis=-1))) <= g.constant


def test_gradient_enclosure_contains_autodiff_and_is_whole_line_at_kinks(rng):
    f = from_sympy("exp(-x1*x2) * cos(5*x2) + x1**3 / (1 + x2**2) + log(1 + x1) + x3 * tan(x2)", 3)
    lo, hi = _boxes(rng, 3, 64, 0.02)
    g_lo, g_hi = (np.asarray(a) for a in f.enclose_gradient(lo, hi))
    pts = _samples(rng, lo, hi, 16)
    grads = np.asarray(jax.vmap(jax.vmap(jax.grad(f.fn)))(jnp.asarray(pts)))
    tol = 1e-13 * np.maximum(1, np.abs(grads))
    assert np.all(np.isfinite(g_lo)) and np.all(g_lo[:, None] - tol <= grads) and np.all(grads <= g_hi[:, None] + tol)
    kink = formula.library("kink", 2)
    g_lo, g_hi = (np.asarray(a) for a in kink.enclose_gradient(np.array([[0.3, 0.0], [0.5, 0.0], [0.0, 0.0]]), np.array([[0.4, 1.0], [0.6, 1.0], [0.2, 1.0]])))
    assert g_lo[0, 0] == -np.inf and g_hi[0, 0] == np.inf  # the box contains x1 = 1/3
    assert g_lo[1, 0] == g_hi[1, 0] == 1.0 and g_lo[2, 0] == g_hi[2, 0] == -1.0
    assert np.all(g_lo[:, 1] == 0) and np.all(g_hi[:, 1] == 0)
    pw = from_sympy("Piecewise((x1**2, x1 < 1/2), (x1, True))", 1, alpha=1.0, constant=1.0)
    g_lo, g_hi = (np.asarray(a) for a in pw.enclose_gradient(np.array([[0.4], [0.1]]), np.array([[0.6], [0.2]])))
    assert g_lo[0, 0] == -np.inf and g_hi[0, 0] == np.inf  # both branches possible
    assert 0.2 * (1 - 1e-15) <= g_lo[1, 0] <= 0.2 and 0.4 <= g_hi[1, 0] <= 0.4 * (1 + 1e-15)


def test_mean_value_form_is_much_tighter_on_small_boxes_where_dependencies_cancel(rng):
    f = from_sympy("x1*(1 - x1) + x1*x2 - x2*x1 + sin(x2) - sin(x2)**2", 2)
    lo, hi = _boxes(rng, 2, 100, 1e-3)
    n_lo, n_hi = (np.asarray(a) for a in f.enclose(lo, hi))
    m_lo, m_hi = (np.asarray(a) for a in f.mean_value_enclosure(lo, hi))
    values = np.asarray(f(_samples(rng, lo, hi)))
    assert np.all(m_lo[:, None] <= values) and np.all(values <= m_hi[:, None])
    assert np.all(m_lo >= n_lo) and np.all(m_hi <= n_hi)
    assert np.median((m_hi - m_lo) / (n_hi - n_lo)) < 0.6


def test_formula_target_works_as_a_holder_target():
    f = formula.library("sine_product", 2)
    ref = ma.targets.get("sine_product", 2)
    part = ma.GridPartition(2, 4)
    a, b = ma.build_moe(f, part, expert="cpwl"), ma.build_moe(ref, part, expert="cpwl")
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(256, 2)))
    assert float(jnp.max(jnp.abs(a(x) - b(x)))) < 1e-13
    assert f.modulus(0.5) == ref.modulus(0.5) and f.taylor_remainder_bound(0.1) == ref.taylor_remainder_bound(0.1)


@pytest.mark.parametrize("text", ["x1 +* 2", "sin(x1", "x1 x2 )", "", "lambda: 3"])
def test_malformed_strings_are_refused_showing_the_string(text):
    with pytest.raises(ValueError) as err:
        from_sympy(text, 2)
    assert repr(text) in str(err.value) or text in str(err.value)


@pytest.mark.parametrize(
    "text, names",
    [("gamma(x1) + floor(x2)", ["gamma"]), ("zeta(x1 + 2)", ["zeta"]), ("myfun(x1)", ["myfun"]),
     ("x1 + x3", ["x3"]), ("besselj(0, x1)", ["besselj"]), ("sqrt(-1) * x1", ["I"])],
)
def test_unsupported_atoms_are_refused_by_name(text, names):
    with pytest.raises(ValueError, match="is not allowed|complex-valued") as err:  # the parser's allow-list
        from_sympy(text, 2)
    for name in names:
        assert name in str(err.value)
    with pytest.raises(ValueError, match="unsupported atoms: floor, gamma"):  # SymPy input: the enclosures' list
        from_sympy(sp.gamma(X1) + sp.floor(X2), 2)


def test_other_refusals():
    kink = from_sympy("abs(x1 - 1/3)", 1)  # constants left undetermined (docs/theory.md §9)
    assert kink.alpha is None and kink.constant is None and kink.constants_source.startswith("undetermined")
    with pytest.raises(ValueError, match="modulus needs the Hölder constants"):
        kink.modulus(0.1)
    with pytest.raises(ValueError, match="together"):
        from_sympy("x1", 1, alpha=1.0)
    with pytest.raises(ValueError, match="not finite"):
        from_sympy("log(x1 - 2)", 1)
    with pytest.raises(ValueError, match="not a real-valued"):
        from_sympy("x1 < 1", 1)
    with pytest.raises(ValueError, match="accepted"):
        formula.library("nope", 2)
    with pytest.raises(ValueError, match="n must be"):
        from_sympy("x1", 0)
    with pytest.raises(TypeError):
        from_sympy(3j, 1)
    f = from_sympy("x1 + x2", 2)
    with pytest.raises(ValueError, match="shape"):
        f.enclose(np.zeros((3, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="lo <= hi"):
        f.enclose(np.ones((1, 2)), np.zeros((1, 2)))
    with pytest.warns(UserWarning, match="could not prove"):
        from_sympy("sqrt(x1 - x1**2)", 1, alpha=0.5, constant=1.0)  # defined, but the interval test cannot show it


def test_defined_on_flags_domain_violations():
    expr = sp.log(X1) + sp.sqrt(X2 - sp.Rational(1, 4)) + 1 / (X1 - sp.Rational(7, 8))
    g = FormulaTarget(iv.compile_point(expr, (X1, X2)), 2, 1.0, 1.0, "partly undefined", expr=expr)
    lo = np.array([[0.0, 0.5], [0.5, 0.5], [0.5, 0.0], [0.5, 0.3], [0.75, 0.5]])
    hi = lo + 0.25
    # log at 0; fine; sqrt of a negative; fine; a vanishing denominator at x1 = 7/8
    np.testing.assert_array_equal(np.asarray(g.defined_on(lo, hi)), [False, True, False, True, False])


def test_re_exported_from_targets():
    assert ma.targets.from_sympy is from_sympy and ma.targets.FormulaTarget is FormulaTarget


# --- certificates from formulas (docs/theory.md §9): no declared constant is used -----------------


def test_certificates_from_formulas_contain_the_closed_forms():
    """Constant experts on kink: 1/(2K); Yarotsky's square f_m of x²: 2^(−2m−2); product P_m of xy:
    2^(−2m−1) (docs/theory.md §4.1, §4.3) — each inside a bracket that rests on the formula alone."""
    from moe_approx.experts.yarotsky import product_network, square_network

    kink = formula.library("kink", 2)
    report = ma.sup_error(kink, ma.build_moe(ma.targets.get("kink", n=2), ma.GridPartition(2, 4)), rtol=1e-4)
    assert report.basis == "rigorous: from the formula" and report.assumptions is None
    assert report.certified and report.lower <= 1 / 8 <= report.upper
    for expr, n, net, truth in (("x1**2", 1, square_network(6, "relu"), 2.0**-14),
                                ("x1*x2", 2, product_network(2, "prelu"), 2.0**-5)):
        report = ma.sup_error(formula.from_sympy(expr, n), net, rtol=1e-4)
        assert report.certified and report.lower <= truth <= report.upper, (expr, report)


def test_formula_certificate_is_sound_against_dense_sampling():
    """A smooth formula with a slope of 20 in one corner and cpwl experts: upper >= the dense-grid error."""
    f = formula.from_sympy("exp(-20*((x1-1)**2 + (x2-1)**2)) + x1/4", 2)
    moe = ma.build_moe(f, ma.GridPartition(2, 4), expert="cpwl")
    report = ma.sup_error(f, moe, rtol=1e-3)
    x = np.stack(np.meshgrid(*[np.linspace(0, 1, 401)] * 2, indexing="ij"), -1).reshape(-1, 2)
    dense = float(np.max(np.abs(np.asarray(f(x)) - np.asarray(moe(x)))))
    assert report.certified and dense <= report.upper
    at = report.argmax[None]  # the lower bound is attained where the branch and bound found it
    assert float(np.abs(np.asarray(f(at)) - np.asarray(moe(at)))[0]) >= report.lower


def test_approximate_with_a_formula_is_rigorous():
    f = formula.library("cusp", 1)
    moe = ma.approximate(f, 0.05, expert="cpwl")
    assert moe.certificate.basis == "rigorous: from the formula" and moe.certificate.bound <= 0.05
    x = np.linspace(0, 1, 100001)[:, None]
    assert float(np.max(np.abs(np.asarray(f(x)) - np.asarray(moe(x))))) <= moe.certificate.bound
