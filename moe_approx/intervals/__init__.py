"""Rigorous interval enclosures of SymPy formulas, vectorised over boxes in JAX (docs/theory.md §9).

An interval is a pair ``(lo, hi)`` of float64 arrays of one shape; a box in R^n is a pair of
arrays (..., n). Every operation returns an interval that contains the exact range of the
operation over its argument intervals (natural interval extension, Moore 1966; IEEE 1788 set
semantics), rounded outward:

- ``+ − × ÷`` and ``sqrt`` are correctly rounded in IEEE 754 (error ≤ ½ ulp), so one step of
  ``nextafter`` toward ∓∞ per computed endpoint encloses the exact value;
- transcendental functions (exp, log, sin, cos, tan, tanh, arctan, erf, cbrt, real powers) are
  not correctly rounded in XLA: each endpoint is widened by :data:`TRANSCENDENTAL_ULPS` relative
  ulps before the ``nextafter`` step (largest error measured against arb at 200 bits on CPU,
  benchmarks/bench_ulp_errors.py: tanh 6 ulps near ±1, cbrt 3, exp 2, the others ≤ 1; CUDA's
  libdevice documents ≤ 2 ulps for its double-precision functions), and clamped to the
  function's true range;
- every widening also subtracts/adds :data:`TINY` = 2^−1000, which covers results flushed to
  zero (XLA flushes subnormals: exp(−708.4) returns 0, not 2.2e−308);
- integer powers x^m, computed by repeated multiplication, get |m| + 2 ulps.

Monotonicity and extrema are exact: even powers and ``abs`` reach 0 inside an interval that
contains 0; sin/cos reach ±1 where the interval contains a critical point (decided on an
enclosure of x/(2π), so a doubtful case includes the extremum); tan and division by an interval
that contains 0 give the whole line; Piecewise is the union of the branches whose condition may
hold and whose predecessors need not hold.

Domains follow SymPy's real semantics: sqrt, cbrt, real powers and log take the part of the
argument interval inside their domain (x ≥ 0, x > 0 for log); on request
(``compile_enclosure(..., with_defined=True)``) a flag says on which boxes every such argument
lies inside its domain (and no denominator may vanish), so a caller can tell a formula that is
undefined somewhere on a box.

The compiled functions (:func:`compile_enclosure`, :func:`compile_gradient_enclosure`) take
``(lo, hi)`` of shape (..., n), are jitted, and return arrays (...) and (..., n). In derivative
mode (the gradient formulas of SymPy's ``diff``) sign, Heaviside and DiracDelta whose argument
may vanish on a box, and Piecewise with more than one possible branch, give the whole line:
the gradient enclosure is finite only where f is differentiable on the whole box.

The package has one module per concern: :mod:`~moe_approx.intervals.rounding` (outward rounding,
float enclosures of exact constants), :mod:`~moe_approx.intervals.arithmetic` (the operations and
elementary functions) and :mod:`~moe_approx.intervals.expressions` (SymPy trees compiled to
enclosures); every public name is available here.
"""


from .arithmetic import (abs_, add, atan, cbrt, cos, cot, div, erf, exp, heaviside, integer_power, log, maximum,
                         minimum, mul, neg, point, real_power, sign, sin, sqrt, sub, tan, tanh)
from .expressions import (SUPPORTED, compile_enclosure, compile_gradient_enclosure, compile_point, gradient_expressions,
                          unsupported_atoms)
from .rounding import TINY, TRANSCENDENTAL_ULPS, Interval, constant_enclosure, down, outward, up

# the functions (documented in docs/api.md); the constants TRANSCENDENTAL_ULPS, TINY, SUPPORTED and the
# alias Interval are importable from here too
__all__ = [
    "down", "up", "outward", "constant_enclosure",
    "point", "neg", "add", "sub", "mul", "div", "abs_", "minimum", "maximum", "integer_power", "sqrt", "cbrt",
    "real_power", "exp", "log", "tanh", "atan", "erf", "sin", "cos", "tan", "cot", "sign", "heaviside",
    "unsupported_atoms", "compile_enclosure", "gradient_expressions", "compile_gradient_enclosure",
    "compile_point",
]
