"""Targets given as formulas, with rigorous enclosures of f and ∇f on boxes (docs/theory.md §9).

``from_sympy("sqrt(abs(x1 - 1/3)) + sin(3*x2)", n=2)`` returns a :class:`FormulaTarget`: a
:class:`~moe_approx.targets.HolderTarget` whose ``fn`` is the formula lambdified to jax.numpy and
which also encloses f, ∇f (SymPy's derivatives) and the mean-value form on boxes by outward-
rounded interval arithmetic (:mod:`moe_approx.intervals`). Variables are x1 … xn (real).

Its (α, C) are computed when they can be: if the gradient enclosure is finite on every box of a
cover of [0,1]^n (a grid of about :data:`LIPSCHITZ_BOXES` boxes, the boxes with the largest
bounds bisected until the bound is within :data:`LIPSCHITZ_RTOL` of a sampled value), then
α = 1 and C is the largest Σ_i sup_B |∂_i f| over the cover, a rigorous bound on sup ‖∇f‖_1,
which is the ∞-norm Lipschitz constant on the convex cube (mean value theorem, docs/theory.md §2).
Otherwise (kinks, cusps) they stay undetermined (None) unless the caller passes ``alpha`` and
``constant``: the certificates never use them, only constructions such as the optimal expert do;
``repr`` and :attr:`FormulaTarget.constants_source` say which. Formula strings are parsed from
their syntax tree against an allow-list (:func:`parse`), never run as Python.
"""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from .. import intervals as iv
from . import _syntax
from .holder import HolderTarget, _check_dim
from .vector import VectorTarget
from .._config import kernel_jit

LIPSCHITZ_BOXES = 2**10
"""Number of grid boxes over [0,1]^n on which the gradient is enclosed to bound C (about)."""

UNDETERMINED = ("undetermined: not declared, and the gradient enclosure is not finite everywhere (a kink, a cusp "
                "or an unbounded slope); the certificates do not use them")
"""``constants_source`` of a formula target without (alpha, constant)."""


def variables(n: int) -> tuple[sp.Symbol, ...]:
    """The real SymPy symbols x1 … xn of a formula on [0,1]^n."""
    return sp.symbols(f"x1:{_check_dim(n) + 1}", real=True)


def parse(text: str, n: int) -> sp.Expr:
    """The SymPy expression of ``text`` in x1 … xn, built from its syntax tree without running it.

    Accepted (docs/theory.md §9): x1 … xn, numbers, pi, E (or e), ``+ - * / **`` (``^`` is a
    power too), unary minus, parentheses, and calls of sqrt, cbrt, real_root, abs, min, max, exp,
    log (ln), sin, cos, tan, cot, tanh, atan (arctan), erf, sign, Heaviside, Piecewise (conditions:
    comparisons, ``& | ~``, True, False); :data:`ALLOWED_FUNCTIONS` lists them. Anything else
    (other names, attributes, subscripts, keyword arguments, lambdas, strings, ...) is refused by
    name with a ValueError, before SymPy sees the text: a formula string cannot run code.
    """
    expr = _syntax.parse(text, variables(n))
    if not isinstance(expr, sp.Expr):
        raise ValueError(f"formula {text!r} is not a real-valued expression (got {type(expr).__name__})")
    return expr


ALLOWED_FUNCTIONS = tuple(_syntax.FUNCTIONS)
"""Names of the functions a formula string may call (:func:`parse`)."""

ALLOWED_CONSTANTS = tuple(_syntax.CONSTANTS)
"""Names of the constants a formula string may use (:func:`parse`)."""


_FLOAT_MAX = sp.Rational(sys.float_info.max)


def _check_numbers(expr, shown: str) -> None:
    """Refuse a number atom beyond float64 and a constant subexpression that is not real."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Rational, sp.Float)) and abs(node) > _FLOAT_MAX:
            raise ValueError(f"formula {shown}: the number {sp.N(node, 6)} overflows float64 "
                             f"(largest finite {sys.float_info.max:.4g})")
        if isinstance(node, sp.Expr) and node.is_number and node.is_extended_real is False and node.is_finite:
            raise ValueError(f"formula {shown} is complex-valued ({node} is not real): a target must be real")


def _as_expression(expr, n: int) -> sp.Expr:
    """expr (str or SymPy) with its symbols x1 … xn replaced by the real ones; refuses what it cannot enclose."""
    text = expr if isinstance(expr, str) else None
    if isinstance(expr, str):
        expr = parse(expr, n)
    elif isinstance(expr, sp.Basic):
        if not isinstance(expr, sp.Expr):
            raise ValueError(f"expr must be a real-valued SymPy expression, got {type(expr).__name__}: {expr}")
    elif isinstance(expr, (int, float)) and not isinstance(expr, bool):
        expr = sp.sympify(expr)
    else:
        raise TypeError(f"expr must be a str or a SymPy expression, got {type(expr).__name__}")
    symbols = variables(n)
    by_name = {s.name: s for s in symbols}
    expr = expr.xreplace({s: by_name[s.name] for s in expr.free_symbols if s.name in by_name})
    shown = f"{text!r} (parsed as {expr})" if text is not None else str(expr)
    _check_numbers(expr, shown)
    bad = iv.unsupported_atoms(expr, symbols)
    if bad:
        raise ValueError(
            f"formula {shown} uses unsupported atoms: {', '.join(bad)} "
            f"(variables are x1 … x{n}; supported: {iv.SUPPORTED})"
        )
    return expr


def grid_boxes(n: int, boxes: int = LIPSCHITZ_BOXES) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of a uniform grid of k^n boxes covering [0,1]^n, k = ⌊boxes^(1/n)⌋ ≥ 1.

    Neighbours share their float endpoints, so the union of the boxes is exactly the cube.
    """
    k = max(1, int(math.floor(boxes ** (1.0 / n) + 1e-9)))
    edges = np.arange(k + 1) / k
    idx = np.stack(np.meshgrid(*[np.arange(k)] * n, indexing="ij"), axis=-1).reshape(-1, n)
    return edges[idx], edges[idx + 1]


MIN_BUCKET = 2**10
"""Batches of boxes are padded to max(MIN_BUCKET, next power of 2) boxes: one compilation per bucket."""


def _check_boxes(lo, hi, n: int):
    lo, hi = jnp.asarray(lo, jnp.float64), jnp.asarray(hi, jnp.float64)
    if lo.shape != hi.shape or lo.shape[-1:] != (n,):
        raise ValueError(f"lo and hi must both have shape (..., {n}), got {lo.shape} and {hi.shape}")
    if not isinstance(lo, jax.core.Tracer) and not isinstance(hi, jax.core.Tracer):
        if not bool(jnp.all(jnp.isfinite(lo) & jnp.isfinite(hi) & (lo <= hi))):
            raise ValueError("boxes must satisfy lo <= hi with finite entries")
    return lo, hi


def _bucketed(compiled, lo, hi, n: int):
    """compiled(lo, hi) on boxes (..., n); concrete batches are padded to a power-of-2 bucket so
    that a jitted enclosure compiles once per bucket, not once per batch size."""
    lo, hi = _check_boxes(lo, hi, n)
    if isinstance(lo, jax.core.Tracer) or isinstance(hi, jax.core.Tracer):
        return compiled(lo, hi)
    shape = lo.shape[:-1]
    flat_lo, flat_hi = lo.reshape(-1, n), hi.reshape(-1, n)
    count = flat_lo.shape[0]
    bucket = max(MIN_BUCKET, 1 << max(count - 1, 0).bit_length())
    pad = ((0, bucket - count), (0, 0))
    out = compiled(jnp.pad(flat_lo, pad, mode="edge" if count else "constant"), jnp.pad(flat_hi, pad, mode="edge" if count else "constant"))
    return tuple(a[:count].reshape(shape + a.shape[1:]) for a in out)


@kernel_jit
def _centre(lo, hi):
    return jnp.clip(lo + 0.5 * (hi - lo), lo, hi)  # inside the box despite rounding


@kernel_jit
def _mean_value_form(lo, hi, c, natural, at_centre, grad):
    """[f(c)] + Σ_i [∂_i f](B)·([B_i] − c_i), rounded outward, ∩ the natural enclosure."""
    slope = iv.mul(grad, iv.sub((lo, hi), (c, c)))
    total = at_centre
    for i in range(lo.shape[-1]):
        total = iv.add(total, (slope[0][..., i], slope[1][..., i]))
    return jnp.maximum(natural[0], total[0]), jnp.minimum(natural[1], total[1])


def _compile(expr, n: int) -> dict:
    """The jitted value, gradient and mean-value enclosures of ``expr`` (docs/theory.md §9)."""
    symbols = variables(n)
    value = iv.compile_enclosure(expr, symbols, with_defined=True)
    gradient = iv.compile_gradient_enclosure(expr, symbols)

    def mean_value(lo, hi):
        """f(c) + ∇f(B)·(B − c), c the centre, intersected with the natural enclosure.

        Calls the compiled value and gradient enclosures (cached per shape), then one small jit.
        """
        c = _centre(lo, hi)
        return _mean_value_form(lo, hi, c, value(lo, hi)[:2], value(c, c)[:2], gradient(lo, hi))

    return {"value": value, "gradient": gradient, "mean_value": mean_value}


@dataclass(frozen=True, eq=False)
class FormulaTarget(HolderTarget):
    """A HolderTarget given by a SymPy formula ``expr`` in x1 … xn, with interval enclosures.

    ``fn`` is the lambdified formula. :meth:`enclose`, :meth:`enclose_gradient` and
    :meth:`mean_value_enclosure` are rigorous (docs/theory.md §9). ``constants_source`` says
    whether (alpha, constant) were computed from the formula, declared by the user, are the
    library's proven pair, or are undetermined (both None: the certificates do not need them,
    :func:`~moe_approx.targets.holder_constants` names what does).
    """

    expr: sp.Expr | None = None
    constants_source: str = "declared by the user"
    _compiled: dict = field(default_factory=dict, repr=False)
    _undetermined_constants: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        if self.alpha is None and self.constants_source == "declared by the user":
            object.__setattr__(self, "constants_source", UNDETERMINED)
        if not isinstance(self.expr, sp.Expr):
            raise TypeError(f"expr must be a SymPy expression, got {type(self.expr).__name__}")
        object.__setattr__(self, "expr", _as_expression(self.expr, self.n))  # x1 … xn, supported atoms only
        if not self._compiled:
            self._compiled.update(_compile(self.expr, self.n))

    @property
    def gradient_expressions(self) -> list:
        """SymPy's ∂f/∂x_i, i = 1 … n."""
        return iv.gradient_expressions(self.expr, variables(self.n))

    def enclose(self, lo, hi):
        """(f_lo, f_hi) of shape (...): f(B) ⊆ [f_lo, f_hi] for the boxes B = [lo, hi] (..., n)."""
        return _bucketed(self._compiled["value"], lo, hi, self.n)[:2]

    def defined_on(self, lo, hi):
        """Boolean (...): True where the formula is proven defined on the whole box (no domain violation)."""
        return _bucketed(self._compiled["value"], lo, hi, self.n)[2]

    def enclose_gradient(self, lo, hi):
        """(g_lo, g_hi) of shape (..., n): ∇f(B) ⊆ [g_lo, g_hi]; [−∞, ∞] where f is not C¹ on B."""
        return _bucketed(self._compiled["gradient"], lo, hi, self.n)

    def mean_value_enclosure(self, lo, hi):
        """(f_lo, f_hi): f(c) + ∇f(B)·(B − c) ∩ the natural enclosure (never wider than :meth:`enclose`)."""
        return _bucketed(self._compiled["mean_value"], lo, hi, self.n)

    def lipschitz_bound(self, boxes: int = LIPSCHITZ_BOXES) -> float:
        """A rigorous upper bound on sup_{[0,1]^n} ‖∇f‖_1 from a grid of ~``boxes`` boxes (inf if unbounded)."""
        return _lipschitz_bound(self._compiled, self.n, boxes)

    def __repr__(self):
        smooth = "" if self.smoothness is None else f", s={self.smoothness}, D={self.derivative_constant}"
        shown = "" if self.name == str(self.expr) else f", f={self.expr}"
        return (
            f"FormulaTarget({self.name}, n={self.n}{shown}, alpha={self.alpha}, C={self.constant}"
            f"{smooth}; constants {self.constants_source})"
        )


LIPSCHITZ_RTOL = 1e-2
"""The bound on sup ‖∇f‖_1 is refined until it is within this relative distance of a sampled value."""


def _chunked(compiled, lo: np.ndarray, hi: np.ndarray, n: int):
    """compiled on (N, n) boxes in chunks of MIN_BUCKET (one compiled shape), as numpy arrays."""
    parts = [_bucketed(compiled, lo[i : i + MIN_BUCKET], hi[i : i + MIN_BUCKET], n) for i in range(0, len(lo), MIN_BUCKET)]
    return tuple(np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(len(parts[0])))


def _gradient_l1(compiled, lo, hi, n: int):
    """Per box: an upper bound of sup_B ‖∇f‖_1 (rounded up) and a lower bound of ‖∇f(c)‖_1 at the centre."""
    g_lo, g_hi = _chunked(compiled["gradient"], lo, hi, n)
    upper = np.zeros(len(lo))
    for i in range(n):  # sequential sums, each rounded up
        total = upper + np.maximum(np.abs(g_lo[:, i]), np.abs(g_hi[:, i]))
        upper = np.where(total == 0, 0.0, np.nextafter(total, np.inf))  # a zero sum of |.| is exact
    c = np.clip(lo + 0.5 * (hi - lo), lo, hi)
    p_lo, p_hi = _chunked(compiled["gradient"], c, c, n)
    lower = np.where(p_lo > 0, p_lo, np.where(p_hi < 0, -p_hi, 0.0))
    lower = np.where(np.isfinite(lower), lower, 0.0).sum(axis=1)
    return upper, lower


def _lipschitz_bound(compiled: dict, n: int, boxes: int, rtol: float = LIPSCHITZ_RTOL, budget: int = 2**15) -> float:
    """A rigorous upper bound on sup_{[0,1]^n} ‖∇f‖_1: the max over a cover of [0,1]^n of the
    interval bound of Σ_i |∂_i f| (docs/theory.md §9), refined by bisecting the boxes whose bound
    exceeds (1 + rtol) × the largest value sampled at box centres, until none does or ``budget``
    box evaluations are spent. inf if some box of the final cover has no finite bound."""
    lo, hi = grid_boxes(n, boxes)
    settled, sampled, spent = 0.0, 0.0, 0
    while True:
        upper, lower = _gradient_l1(compiled, lo, hi, n)
        spent += 2 * len(lo)
        sampled = max(sampled, float(lower.max()))
        open_ = upper > sampled * (1 + rtol)
        settled = max(settled, float(upper[~open_].max(initial=0.0)))
        if not open_.any() or spent + 4 * int(open_.sum()) > budget:
            bound = max(settled, float(upper.max()))
            return bound if math.isfinite(bound) else math.inf
        lo, hi = lo[open_], hi[open_]
        axis = np.argmax(hi - lo, axis=1)  # bisect each open box along its longest side
        mid = 0.5 * (lo + hi)[np.arange(len(lo)), axis]
        lo_right, hi_left = lo.copy(), hi.copy()
        lo_right[np.arange(len(lo)), axis] = mid
        hi_left[np.arange(len(lo)), axis] = mid
        lo, hi = np.concatenate([lo, lo_right]), np.concatenate([hi_left, hi])


def _check_defined(expr, compiled: dict, n: int, boxes: int):
    """Refuse a formula that is NaN or infinite (overflows float64) at a grid point; warn where
    definedness or a finite enclosure is unproven."""
    lo, hi = grid_boxes(n, boxes)
    f_lo, f_hi, defined = (np.asarray(a) for a in _bucketed(compiled["value"], lo, hi, n))
    suspect = ~defined | ~np.isfinite(f_lo) | ~np.isfinite(f_hi)
    if not suspect.any():
        return
    bad_lo, bad_hi = lo[suspect], hi[suspect]
    points = np.concatenate([bad_lo, bad_hi, 0.5 * (bad_lo + bad_hi)])
    values = np.asarray(iv.compile_point(expr, variables(n))(jnp.asarray(points)))
    if not np.all(np.isfinite(values)):
        first = int(np.argmax(np.isinf(values)) if np.isinf(values).any() else np.argmax(np.isnan(values)))
        x, value = points[first], values[first]
        why = ("it overflows float64: |f| > 1.8e308" if np.isinf(value) else "SymPy's real domain: sqrt, cbrt "
               "and x^p need x >= 0, log x > 0; real_root(x, 3) is the odd cube root")
        raise ValueError(f"formula {expr} is not finite on [0,1]^{n}: f({x.tolist()}) = {value} ({why})")
    warnings.warn(
        f"formula {expr}: could not prove it defined and finite on {int(suspect.sum())} of {suspect.size} grid "
        f"boxes (an argument of log/sqrt/a real power, or a denominator, may reach 0 there, or a value may "
        f"approach float64's limit); enclosures there cover only the part of each box where it is defined",
        stacklevel=3,
    )


def from_sympy(
    expr,
    n: int,
    *,
    alpha: float | None = None,
    constant: float | None = None,
    name: str | None = None,
    smoothness: float | None = None,
    derivative_constant: float | None = None,
    boxes: int = LIPSCHITZ_BOXES,
) -> FormulaTarget | VectorTarget:
    """A :class:`FormulaTarget` from a SymPy expression or a string in x1 … xn.

    A list or tuple of m expressions gives the :class:`~moe_approx.targets.VectorTarget` of their
    formula targets (f: [0,1]^n → R^m, docs/theory.md §2), each built as below with the same keywords;
    ``name`` names the vector.

    Without ``alpha`` and ``constant``: α = 1 and C = a rigorous bound on sup ‖∇f‖_1 over
    [0,1]^n where the gradient enclosure is finite everywhere; otherwise (a kink, a cusp) both stay
    None. ``sup_error`` and ``approximate`` do not need them (their bounds come from the formula);
    ``expert="optimal"`` and :meth:`~moe_approx.targets.HolderTarget.modulus` do, and say so. With
    them: they are declared, as for any HolderTarget. A string is parsed by :func:`parse`, which
    never runs it. Numbers beyond float64 and complex values are refused (ValueError).
    """
    n = _check_dim(n)
    if isinstance(expr, (list, tuple)):
        keywords = dict(alpha=alpha, constant=constant, smoothness=smoothness, derivative_constant=derivative_constant,
                        boxes=boxes)
        return VectorTarget(tuple(from_sympy(e, n, **keywords) for e in expr), name=name)
    if isinstance(boxes, bool) or not isinstance(boxes, int) or boxes < 1:
        raise ValueError(f"boxes must be an integer >= 1, got {boxes!r}")
    expr = _as_expression(expr, n)
    compiled = _compile(expr, n)
    _check_defined(expr, compiled, n, boxes)
    if (alpha is None) != (constant is None):
        raise ValueError("alpha and constant must be given together (or both omitted to compute them)")
    if alpha is None:
        bound = _lipschitz_bound(compiled, n, boxes)
        finite = math.isfinite(bound)
        alpha, constant = (1.0, bound) if finite else (None, None)
        source = ("computed: C bounds sup ‖∇f‖_1 rigorously (interval gradients on a refined cover of the cube)"
                  if finite else UNDETERMINED)
    else:
        source = "declared by the user"
    return FormulaTarget(
        iv.compile_point(expr, variables(n)), n, alpha, constant, name or str(expr),
        smoothness, derivative_constant, expr=expr, constants_source=source, _compiled=compiled,
    )
