"""The library's targets written as formulas, with the library's proven constants (docs/theory.md §9).

:func:`library` (name, n) is the :class:`~moe_approx.targets.formula.FormulaTarget` of the
function that :func:`moe_approx.targets.get` (name, n) computes, so the certifiers can use its
interval enclosures.
"""

from __future__ import annotations

import sympy as sp

from .. import intervals as iv
from .formula import FormulaTarget, variables
from .holder import _check_dim
from .library import get as _library_target


def _library_expressions(n: int) -> dict:
    x = variables(n)
    half, third = sp.Rational(1, 2), sp.Rational(1, 3)
    alternating = [sp.Rational((-1) ** i * (i + 1), n) for i in range(n)]  # (−1)^(i+1) i/n, i = 1 … n
    harmonic = [sp.Rational((-1) ** i, i + 1) for i in range(n)]
    return {
        "affine": sp.Rational(1, 4) + sum(w * xi for w, xi in zip(alternating, x)),
        "cone": 1 - sp.Max(*[sp.Abs(xi - half) for xi in x]),
        "cusp": sp.sqrt(sp.Abs(x[0] - third)),
        "gaussian_bump": sp.exp(-sum((xi - half) ** 2 for xi in x) / (2 * sp.Rational(1, 4) ** 2)),
        "kink": sp.Abs(x[0] - third),
        "l2_distance": sp.sqrt(sum((xi - half) ** 2 for xi in x)),
        "linf_distance": sp.Max(*[sp.Abs(xi - (sp.sqrt(5) - 1) / 2) for xi in x]),
        "oscillatory": sum(sp.sin(20 * sp.pi * xi) for xi in x) / n,
        "ridge": sp.Abs(sum(w * (xi - third) for w, xi in zip(harmonic, x))) ** sp.Rational(3, 4),
        "sine_product": sp.Mul(*[sp.sin(sp.pi * xi) for xi in x]),
        "weierstrass": sum(
            sp.Rational(1, 4**j) * sp.cos(8**j * sp.pi * xi) for xi in x for j in range(6)
        ) / n,
    }


def library_names() -> list[str]:
    """Names of the library targets (:mod:`moe_approx.targets.library`) offered as formulas: all of them."""
    return sorted(_library_expressions(1))


def library(name: str, n: int = 1) -> FormulaTarget:
    """The library target ``name`` written as a formula, with the library's proven (α, C, s, D).

    The formula is the mathematical function of the library (1/3 and (√5 − 1)/2 are exact here,
    rounded to float there).
    """
    expressions = _library_expressions(_check_dim(n))
    if not isinstance(name, str) or name not in expressions:
        raise ValueError(f"unknown target {name!r}; accepted: {sorted(expressions)}")
    ref = _library_target(name, n)
    return FormulaTarget(
        iv.compile_point(expressions[name], variables(n)), n, ref.alpha, ref.constant, name,
        ref.smoothness, ref.derivative_constant, expr=expressions[name],
        constants_source="from the library: proven in moe_approx/targets/library.py",
    )
