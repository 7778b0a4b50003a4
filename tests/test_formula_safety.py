"""Issue 18, items 4, 5 and 7 (formula parts): formula strings cannot run code, non-smooth formulas
need no declared constants, numbers beyond float64 and complex values are refused, and a target's
fn is traced at construction (docs/theory.md §9)."""

from __future__ import annotations

import io
import os
import tempfile
import tokenize
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import moe_approx as ma
from moe_approx import formula
from moe_approx import intervals as iv
from moe_approx.formula import from_sympy, variables

X1, X2 = variables(2)
WITNESS = Path(tempfile.gettempdir()) / f"moe_approx_formula_safety_witness_{os.getpid()}"


# --- item 4: a formula string is never run ---------------------------------------------------------


def _attacks(witness: Path) -> list[str]:
    w = repr(str(witness))
    return [
        f"__import__('os').system('touch {witness}') + x1",
        f"__import__('pathlib').Path({w}).touch() or x1",
        f"open({w}, 'w') and x1",
        f"exec(\"open({w}, 'w')\") + x1",
        f"eval(\"open({w}, 'w')\") + x1",
        f"getattr(x1, '__class__') + x1",
        "x1.__class__.__base__.__subclasses__()",
        f"(lambda: open({w}, 'w'))() + x1",
        f"[open({w}, 'w') for _ in (1,)] and x1",
        "globals()['x1']",
        "x1[0]",
        "sin(x=x1)",
        "'x1'",
    ]


@pytest.mark.parametrize("index", range(len(_attacks(WITNESS))))
def test_formula_strings_that_would_run_code_are_refused(tmp_path, index):
    witness = tmp_path / "witness"
    text = _attacks(witness)[index]
    with pytest.raises(ValueError, match="is not allowed|are not allowed"):
        from_sympy(text, 2)
    with pytest.raises(ValueError, match="is not allowed|are not allowed"):
        formula.parse(text, 2)
    assert not witness.exists()


def test_refusals_name_the_construct():
    with pytest.raises(ValueError, match=r"name '__import__' is not allowed; allowed: variables x1 … x1"):
        from_sympy(f"__import__('os').system('touch {WITNESS}') + x1", 1)
    with pytest.raises(ValueError, match=r"attribute access 'x1.__class__' is not allowed"):
        formula.parse("x1.__class__", 1)
    with pytest.raises(ValueError, match=r"keyword arguments"):
        formula.parse("log(x1, base=2)", 1)
    with pytest.raises(ValueError, match=r"function 'sin' must be called"):
        formula.parse("sin + x1", 1)
    with pytest.raises(ValueError, match=r"name 'x2' is not allowed; allowed: variables x1 … x1"):
        formula.parse("x1 + x2", 1)


def test_accepted_syntax_builds_the_same_expression_as_sympy():
    cases = {
        "sqrt(abs(x1 - 1/3)) + sin(3*x2) + arctan(x1^2) + min(x1, x2)":
            sp.sqrt(sp.Abs(X1 - sp.Rational(1, 3))) + sp.sin(3 * X2) + sp.atan(X1**2) + sp.Min(X1, X2),
        "-x1**-2 + ln(e + x2) - 2.5e-1*pi*E": -X1**-2 + sp.log(sp.E + X2) - sp.Float("0.25") * sp.pi * sp.E,
        "Piecewise((x1, (x1 < 1/2) & ~(x2 >= 0.25)), (x2, True))":
            sp.Piecewise((X1, sp.And(X1 < sp.Rational(1, 2), sp.Not(X2 >= sp.Float("0.25")))), (X2, True)),
        "Max(x1, 0.1) * real_root(x2 - 1/2, 3) + Heaviside(x1 - x2) + tanh(x1) * erf(x2) + cot(1 + x1)":
            sp.Max(X1, sp.Float("0.1")) * sp.real_root(X2 - sp.Rational(1, 2), 3) + sp.Heaviside(X1 - X2)
            + sp.tanh(X1) * sp.erf(X2) + sp.cot(1 + X1),
    }
    for text, expected in cases.items():
        assert sp.simplify(formula.parse(text, 2) - expected) == 0, text
    assert formula.parse("0.3141", 1) == sp.Float("0.3141")  # the decimal as typed, not its float rounding
    assert formula.parse("1e-400 + x1", 1) == sp.Float("1e-400") + X1


ALLOWED_NAMES = {"x1", "x2", *formula.ALLOWED_FUNCTIONS, *formula.ALLOWED_CONSTANTS}
ALLOWED_TOKENS = ["x1", "x2", "pi", "E", "sin(", "sqrt(", "abs(", "exp(", "log(", "min(", "max(", "(", ")", "+",
                  "-", "*", "/", "**", "^", ",", "1", "0.5", "2.5e-1", "9", "10"]
FORBIDDEN_TOKENS = ["__import__(", "eval(", "exec(", "open(", "getattr(", "globals()", "lambda", "os", "I", "x3",
                    ".__class__", ".__globals__", "__builtins__", ".real", "[0]", "'a'", "x1(",
                    f"open({str(WITNESS)!r}, 'w')",
                    f"__import__('pathlib').Path({str(WITNESS)!r}).touch()", "sin(x=1)", "[x1 for x1 in (1,)]"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALLOWED_TOKENS + FORBIDDEN_TOKENS), min_size=1, max_size=12))
def test_fuzzed_formula_strings_let_nothing_but_allowed_names_through(tokens):
    text = " ".join(tokens)
    try:
        expr = formula.parse(text, 2)
    except ValueError:
        accepted = False
    else:
        accepted = True
        names = {t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.NAME}
        assert names <= ALLOWED_NAMES, text
        assert isinstance(expr, sp.Expr) and expr.free_symbols <= {X1, X2}
    assert not (accepted and set(tokens) & set(FORBIDDEN_TOKENS)), text
    assert not WITNESS.exists()


FORBIDDEN_LEAVES = [f"__import__('pathlib').Path({str(WITNESS)!r}).touch()", f"open({str(WITNESS)!r}, 'w')",
                    "eval('x1')", "exec('1')", "getattr(x1, 'real')", "globals()", "(lambda: x1)()", "x1.__class__",
                    "x1.__class__.__mro__", "x1[0]", "'x1'", "os", "I", "x3", "sin(x=x1)", "[x1 for _ in (1,)][0]",
                    "{x1}", "(x1 if x1 else x2)", "(x1 and x2)", "x1 % 2", "__builtins__"]


@st.composite
def _formulas(draw, depth: int = 3):
    """(text, forbidden?) of a syntactically valid formula whose leaves may include forbidden pieces."""
    if depth == 0 or draw(st.booleans()):
        leaf = draw(st.sampled_from(["x1", "x2", "pi", "E", "e", "1", "0.5", "3", "2.5e-1"] + FORBIDDEN_LEAVES))
        return leaf, leaf in FORBIDDEN_LEAVES
    kind = draw(st.sampled_from(["binary", "unary", "call", "min"]))
    a, bad_a = draw(_formulas(depth - 1))
    if kind == "unary":
        return f"-({a})", bad_a
    if kind == "call":
        return f"{draw(st.sampled_from(['sin', 'sqrt', 'abs', 'exp', 'log', 'tanh', 'arctan', 'erf']))}({a})", bad_a
    b, bad_b = draw(_formulas(depth - 1))
    if kind == "min":
        return f"{draw(st.sampled_from(['min', 'max']))}({a}, {b})", bad_a or bad_b
    return f"({a}) {draw(st.sampled_from(['+', '-', '*', '/', '**', '^']))} ({b})", bad_a or bad_b


@settings(max_examples=200, deadline=None)
@given(_formulas())
def test_fuzzed_formulas_are_accepted_exactly_when_every_leaf_is_allowed(case):
    text, forbidden = case
    try:
        expr = formula.parse(text, 2)
    except ValueError as err:
        # allowed pieces can still make no number (powers beyond float64, log(0) = complex infinity)
        assert forbidden or "not allowed" not in str(err), (text, str(err))
        assert not forbidden or "not allowed" in str(err), (text, str(err))
    else:
        assert not forbidden, text
        assert isinstance(expr, sp.Expr) and expr.free_symbols <= {X1, X2}
    assert not WITNESS.exists()


# --- item 5: (α, C) optional for formula targets ------------------------------------------------


@pytest.fixture(scope="module")
def cusp():
    """The reproducer: a cusp whose gradient enclosure is infinite, so (α, C) stay undetermined."""
    return from_sympy("sqrt(abs(x1 - 0.3141))", 1)


def _cusp_error(moe, a: float) -> float:
    """max |f − Φ| over a dense grid that contains every cell face (multiples of 1/8) and the cusp a."""
    x = np.union1d(np.linspace(0.0, 1.0, 8 * 2**14 + 1), [a])
    return float(np.max(np.abs(np.sqrt(np.abs(x - a)) - np.asarray(moe(jnp.asarray(x[:, None]))))))


def test_non_smooth_formula_is_certified_without_constants(cusp):
    f = cusp
    assert f.alpha is None and f.constant is None and f.constants_source.startswith("undetermined")
    moe = ma.build_moe(f, ma.GridPartition(1, 8), expert="constant")
    report = ma.sup_error(f, moe, rtol=1e-3)
    # constant experts: |f − Φ| is largest at a cell face or at the cusp, all on the grid
    true = _cusp_error(moe, 0.3141)
    assert report.basis == "rigorous: from the formula" and report.certified
    assert report.lower <= true * (1 + 1e-12) and true <= report.upper <= true * (1 + 2e-3)
    cpwl = ma.build_moe(f, ma.GridPartition(1, 8), expert="cpwl")
    report = ma.sup_error(f, cpwl, rtol=1e-3)
    assert _cusp_error(cpwl, 0.3141) <= report.upper


def test_approximate_certifies_a_non_smooth_formula_and_optimal_says_what_it_needs(cusp):
    f = cusp
    moe = ma.approximate(f, 0.05, expert="cpwl")
    assert moe.certificate.basis == "rigorous: from the formula" and moe.certificate.bound <= 0.05
    assert _cusp_error(moe, 0.3141) <= moe.certificate.bound
    with pytest.raises(ValueError, match=r"expert='optimal' .* needs the Hölder constants .*alpha=0.5, constant="):
        ma.build_moe(f, ma.GridPartition(1, 2), expert="optimal")
    with pytest.raises(ValueError, match=r"expert='optimal' cannot be certified by approximate"):
        ma.approximate(f, 0.05, expert="optimal")  # refused up front whatever the target (issue 18 item 7)
    with pytest.raises(ValueError, match="modulus needs"):
        f.modulus(0.1)
    declared = from_sympy("sqrt(abs(x1 - 0.3141))", 1, alpha=0.5, constant=1.0)
    assert ma.targets.holder_constants(declared, "test") == (0.5, 1.0)


def test_constants_are_given_together_or_not_at_all():
    expr = sp.Abs(X1 - sp.Rational(1, 3))
    fn = iv.compile_point(expr, (X1,))
    with pytest.raises(TypeError, match="constant must be a real number"):
        formula.FormulaTarget(fn, 1, 1.0, None, expr=expr)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        ma.HolderTarget(fn, 1, None, None)  # only a formula target may leave them open
    assert formula.FormulaTarget(fn, 1, None, None, expr=expr).constants_source.startswith("undetermined")


# --- item 7: big numbers, overflow, complex values ------------------------------------------------


def test_huge_integer_coefficient_works():
    f = from_sympy("10**20*x1", 1)
    x = np.linspace(0, 1, 11)[:, None]
    np.testing.assert_array_equal(np.asarray(f(jnp.asarray(x))), 1e20 * x[:, 0])
    moe = ma.build_moe(f, ma.GridPartition(1, 4), expert="constant")
    report = ma.sup_error(f, moe, rtol=1e-3)
    assert report.lower <= 1e20 / 8 <= report.upper  # |10^20 x − 10^20 c| on a cell of width 1/4


@pytest.mark.parametrize("expr", ["1e400*x1", "10**400*x1", "-1.5e309 + x1", sp.Float("1e400") * X1])
def test_numbers_beyond_float64_are_refused_as_such(expr):
    with pytest.raises(ValueError, match="overflows float64"):
        from_sympy(expr, 1)


def test_number_powers_beyond_float64_are_refused_without_computing_them():
    for text in ("10**10**10 * x1", "x1 + 2**(-10**12)", "1.0000001**(10**20)"):
        with pytest.raises(ValueError, match="(over|under)flows float64"):
            formula.parse(text, 1)
    with pytest.raises(ValueError, match="overflows float64: |f| > 1.8e308"):
        from_sympy("exp(800*x1)", 1)


@pytest.mark.parametrize("expr, match", [("sqrt(x1 - 2)", "not finite"), ("I*x1", "name 'I' is not allowed"),
                                         ("3j*x1", "complex number '3j'"), ("(-8)**(1/3)*x1", "complex-valued"),
                                         (sp.I * X1, "complex-valued"), (sp.sqrt(-2) + X1, "complex-valued")])
def test_complex_formulas_are_refused(expr, match):
    with pytest.raises(ValueError, match=match):
        from_sympy(expr, 1)


@pytest.mark.parametrize("fn", [lambda x: 1j * x[..., 0], lambda x: jnp.sqrt(x[..., 0] - 2 + 0j)])
def test_complex_holder_target_is_refused(fn):
    with pytest.raises(ValueError, match="complex values"):
        ma.HolderTarget(fn, 1, 1.0, 1.0)


def test_python_if_on_array_values_is_refused_at_construction():
    for fn in (lambda x: x[..., 0] if x[..., 0] > 0.5 else 0.0,
               lambda x: x[..., 0] if bool(jnp.all(x > 0)) else x[..., 1]):
        with pytest.raises(TypeError, match="use jnp.where instead of Python if"):
            ma.HolderTarget(fn, 2, 1.0, 1.0)
    ok = ma.HolderTarget(lambda x: jnp.where(x[..., 0] > 0.5, x[..., 0], 0.0), 2, 1.0, 1.0)
    assert float(ok(np.array([0.75, 0.0]))) == 0.75 and float(ok(np.array([0.25, 0.0]))) == 0.0


@pytest.mark.parametrize("n", [1, 2, 3])
def test_wrong_indexing_is_refused_with_advice(n):
    for fn in (lambda x: x[0], lambda x: x[:, 0], lambda x: jnp.sum(x, axis=0)):
        with pytest.raises(ValueError, match=r"fn must map shape \(\.\.\., n\) to \(\.\.\.\).*x\[\.\.\., i\]"):
            ma.HolderTarget(fn, n, 1.0, 1.0)
