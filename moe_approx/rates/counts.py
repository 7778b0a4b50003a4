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
    """Thresholds of the grid router (docs/theory.md §2).

    Attributes
    ----------
    active : int or sympy.Expr
        Thresholds one input touches (one root-to-leaf path): counted in active parameters.
    total : int or sympy.Expr
        Thresholds stored: counted in total parameters.
    """

    active: object
    total: object


def router_params(n, K) -> RouterCost:
    """Router parameters of a K^n grid (docs/theory.md §2), as ``GridPartition`` reports them.

    The router searches each coordinate among its K − 1 cell boundaries by bisection: one input
    touches ``active = n·⌈log₂ K⌉`` thresholds; the thresholds of one axis are shared by every
    branch, so ``total = n·(K − 1)`` are stored.

    Parameters
    ----------
    n : int or sympy.Expr
        Dimension, >= 1.
    K : int or sympy.Expr
        Cells per side, >= 1.

    Returns
    -------
    RouterCost

    Raises
    ------
    ValueError
        For n < 1 or K < 1 (or non-integers) when both are numbers.

    Examples
    --------
    >>> from moe_approx import rates
    >>> rates.router_params(2, 8)
    RouterCost(active=6, total=14)
    >>> rates.router_params(rates.n, rates.K).total
    n*(K - 1)
    """
    if not (isinstance(n, sp.Basic) or isinstance(K, sp.Basic)):
        n = _check_n(n)
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"K (cells per side) must be an integer >= 1, got {K!r}")
        K = int(K)
    return RouterCost(*grid_router_params(n, K))


# --- closed forms of one expert ---------------------------------------------------------------
def size_symbols(family) -> dict:
    """SymPy symbols (positive integers) named after the family's size keywords.

    Parameters
    ----------
    family : str or module
        A name in ``experts.FAMILY_NAMES`` or a module with the family interface.

    Returns
    -------
    dict
        Size keyword → ``sympy.Symbol``.

    Raises
    ------
    ValueError
        For an unknown family name.
    TypeError
        For an object without the family interface.

    Examples
    --------
    >>> from moe_approx import rates
    >>> rates.size_symbols("optimal")
    {'A': A, 'B': B}
    """
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
    """Depth, width, stored and nonzero parameters of one expert, per activation (docs/theory.md §4).

    Attributes
    ----------
    family : str
    n : int or sympy.Symbol
    forms : dict
        ``forms[(quantity, activation)]``: a SymPy expression in ``n`` and the size symbols, for
        quantity in ``depth``, ``width``, ``num_params``, ``num_nonzero``.
    method : str
        ``"symbolic"`` (the family's closed forms evaluated on symbols) or ``"interpolated"``
        (exact polynomial through the family's integer values at this numeric n, verified at
        further sizes).
    """

    family: str
    n: object
    forms: dict
    method: str


def closed_forms(family, n=None, **fixed) -> ClosedForms:
    """The family's own closed forms as SymPy expressions (symbolic n where the family allows).

    Parameters
    ----------
    family : str or module
        A name in ``experts.FAMILY_NAMES`` or a module with the family interface.
    n : int or None
        Dimension; ``None`` leaves it symbolic (``ValueError`` if the family needs a number).
    **fixed : int
        Size keywords held at numbers. A family's optional ``NUMERIC_SIZES`` (sizes its closed
        forms need as numbers, e.g. yarotsky's ``degree``) are held at their defaults unless
        given; the other sizes are symbols.

    Returns
    -------
    ClosedForms

    Raises
    ------
    ValueError
        For an unknown family or size keyword, a size < 1, or a symbolic n the family refuses.

    Examples
    --------
    >>> from moe_approx import rates
    >>> cf = rates.closed_forms("cpwl", 2)
    >>> cf.forms[("num_nonzero", "relu")], cf.method
    (20*k + 8*(k + 1)**2 + 14, 'symbolic')
    """
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
