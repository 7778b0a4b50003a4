"""Symbolic counts of one expert and of the router (docs/theory.md §2, §4, §6).

Every count comes from the family module's own closed forms (``experts.get(name)``): nothing is
retyped here. Where a family's closed forms need numbers, an exact polynomial is interpolated
through its integer values and verified at further sizes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .. import experts
from ..partition import grid_router_params
from ._validate import _check_n, _resolve


# --- router -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RouterCost:
    """Thresholds of the grid router: ``active`` on one root-to-leaf path, ``total`` stored."""

    active: object
    total: object


def router_params(n, K) -> RouterCost:
    """Router parameters of a K^n grid (THEORY.md §2), as ``GridPartition`` reports them.

    The router searches each coordinate among its K − 1 cell boundaries by bisection: one input
    touches ``active = n·⌈log₂ K⌉`` thresholds; the thresholds of one axis are shared by every
    branch, so ``total = n·(K − 1)`` are stored. Accepts integers or SymPy expressions.
    """
    if not (isinstance(n, sp.Basic) or isinstance(K, sp.Basic)):
        n = _check_n(n)
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"K (cells per side) must be an integer >= 1, got {K!r}")
        K = int(K)
    return RouterCost(*grid_router_params(n, K))


# --- closed forms of one expert ---------------------------------------------------------------
def size_symbols(family) -> dict:
    """SymPy symbols (positive integers) named after the family's size keywords."""
    _, module = _resolve(family)
    return {s: sp.Symbol(s, positive=True, integer=True) for s in module.SIZE_DEFAULTS}


def _interpolate(fn, names, max_degree=8):
    """Exact polynomial through integer values of ``fn(**sizes)``, verified at further points."""
    syms = dict(zip(names, (sp.Symbol(s, positive=True, integer=True) for s in names)))

    def fit(fixed, rest, degree):  # Lagrange interpolation in one size at a time
        if not rest:
            return sp.Integer(fn(**fixed))
        name = rest[0]
        return sp.interpolate([(x, fit({**fixed, name: x}, rest[1:], degree)) for x in range(1, degree + 2)], syms[name])

    for degree in range(max_degree + 1):
        poly = sp.expand(fit({}, names, degree))
        checks = [dict(zip(names, p)) for p in itertools.product((degree + 3, 2 * degree + 7, 61), repeat=len(names))]
        if all(poly.subs({syms[k]: v for k, v in c.items()}) == fn(**c) for c in checks):
            return poly
    raise ValueError(f"not a polynomial of degree <= {max_degree} in {names}")


@dataclass(frozen=True)
class ClosedForms:
    """Depth, width, stored and nonzero parameters of one expert, per activation.

    ``forms[(quantity, activation)]`` is a SymPy expression in ``n`` and the size symbols;
    ``method`` is ``"symbolic"`` (the family's closed forms evaluated on symbols) or
    ``"interpolated"`` (exact polynomial through the family's integer values at this numeric n,
    verified at further sizes).
    """

    family: str
    n: object
    forms: dict
    method: str


def closed_forms(family, n=None, **fixed) -> ClosedForms:
    """The family's own closed forms as SymPy expressions (symbolic n where the family allows).

    ``fixed``: size keywords held at numbers; a family's optional ``NUMERIC_SIZES`` (sizes its
    closed forms need as numbers, e.g. yarotsky's ``degree``) are held at their defaults unless
    given. The other sizes are symbols."""
    name, module = _resolve(family)
    n_val = _check_n(n, allow_symbol=True)
    fixed = {**{s: module.SIZE_DEFAULTS[s] for s in getattr(module, "NUMERIC_SIZES", ())}, **fixed}
    syms = {s: v for s, v in size_symbols(module).items() if s not in fixed}
    fixed = experts.check_size(module, fixed)
    fixed = {s: fixed[s] for s in fixed if s not in syms}
    forms, method = {}, "symbolic"
    for activation in ("relu", "prelu"):
        for quantity in ("depth", "width", "num_params", "num_nonzero"):
            fn = getattr(module, quantity)
            try:
                forms[(quantity, activation)] = sp.sympify(fn(n_val, activation, **syms, **fixed))
            except Exception as exc:  # a family whose closed forms need numbers
                if isinstance(n_val, sp.Basic):
                    raise ValueError(f"{name}.{quantity} does not accept a symbolic n ({exc}); pass a numeric n") from exc
                forms[(quantity, activation)] = _interpolate(lambda **s: fn(n_val, activation, **s, **fixed), list(syms))
                method = "interpolated"
    return ClosedForms(name, n_val, forms, method)
