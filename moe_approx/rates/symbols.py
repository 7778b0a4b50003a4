"""SymPy symbols and counting constants shared by the rates package (docs/theory.md §6).

The Python names ``eps``, ``r``, ``C``, ``alpha``, ``n``, ``delta``, ``h``, ``K`` are the symbols
of the rate formulas (``rates.eps`` prints as ε). Functions that take a number for one of them
(``design(..., eps=1e-3, r=1)``) read it from their keyword, never from these names.
"""

from __future__ import annotations

import sympy as sp

# --- symbols ----------------------------------------------------------------------------------
eps = sp.Symbol("epsilon", positive=True)
r = sp.Symbol("r", nonnegative=True)
C = sp.Symbol("C", positive=True)
alpha = sp.Symbol("alpha", positive=True)
n = sp.Symbol("n", positive=True, integer=True)
delta = sp.Symbol("delta", positive=True)
h = sp.Symbol("h", positive=True)
K = sp.Symbol("K", positive=True, integer=True)
_t = sp.Symbol("t", positive=True)

BYTES_PER_PARAM = 8  # float64
PARAM_COUNT = "num_nonzero"  # the family closed form the rates count as parameters
_INTERFACE = ("SIZE_DEFAULTS", "depth", "width", "num_params", "num_nonzero", "error_bound")
_RAY_WEIGHTS = (0, 1, 2)
