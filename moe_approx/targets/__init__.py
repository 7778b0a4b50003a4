"""Targets: Hölder functions on [0,1]^n that know their (α, C) (docs/theory.md §2), the library of
targets with proven constants, and targets given as formulas (docs/theory.md §9).

One module per concern; every name below is available as ``moe_approx.targets.<name>``:

- :mod:`~moe_approx.targets.holder`: :class:`~moe_approx.HolderTarget`, :func:`holder_constants`
  and :func:`weierstrass_constant` (a computed Hölder constant);
- :mod:`~moe_approx.targets.library`: :func:`names`, :func:`get` and one factory per library target;
- :mod:`~moe_approx.targets.formula`: :class:`FormulaTarget` and :func:`from_sympy`, with rigorous
  enclosures by :mod:`moe_approx.intervals`; strings are parsed by ``_syntax`` (an allow-list of
  syntax, never run as Python);
- :mod:`~moe_approx.targets.formula_library`: the library's targets written as formulas;
- :mod:`~moe_approx.targets.vector`: :class:`VectorTarget`, f: [0,1]^n → R^m as m scalar targets
  (``from_sympy`` with a list of expressions returns one).

``moe_approx.formula`` is an alias of :mod:`moe_approx.targets.formula` (and of the formula
library) kept for existing imports.
"""

from .formula import FormulaTarget, from_sympy
from .holder import HolderTarget, holder_constants, weierstrass_constant
from .library import (BUMP_WIDTH, LINF_POINT, OSCILLATION, RIDGE_EXPONENT, WEIERSTRASS, affine, cone, cusp,
                      gaussian_bump, get, kink, l2_distance, linf_distance, names, oscillatory, ridge, sine_product,
                      weierstrass)
from .vector import VectorTarget, is_vector

# documented here (docs/api.md); FormulaTarget and from_sympy are documented with their module, the
# constants (BUMP_WIDTH, ...) with the library
__all__ = [
    "HolderTarget", "VectorTarget", "holder_constants", "weierstrass_constant", "names", "get",
    "affine", "cone", "cusp", "gaussian_bump", "kink", "l2_distance", "linf_distance", "oscillatory", "ridge",
    "sine_product", "weierstrass",
]
