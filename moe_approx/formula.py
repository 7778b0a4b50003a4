"""Alias of :mod:`moe_approx.targets.formula` and :mod:`moe_approx.targets.formula_library`, kept so
that ``from moe_approx import formula`` and ``moe_approx.formula.<name>`` keep working."""

from .targets.formula import (ALLOWED_CONSTANTS, ALLOWED_FUNCTIONS, LIPSCHITZ_BOXES, LIPSCHITZ_RTOL, UNDETERMINED,
                              FormulaTarget, from_sympy, grid_boxes, parse, variables)
from .targets.formula_library import library, library_names

__all__ = ["FormulaTarget", "from_sympy", "parse", "variables", "grid_boxes", "library", "library_names",
           "ALLOWED_FUNCTIONS", "ALLOWED_CONSTANTS", "LIPSCHITZ_BOXES", "LIPSCHITZ_RTOL", "UNDETERMINED"]
