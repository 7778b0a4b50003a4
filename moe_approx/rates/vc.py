"""VC dimension and sample complexity (docs/theory.md §7) and the paper's claims (§1)."""

from __future__ import annotations

import sympy as sp

from ._validate import _check_alpha, _check_n, _renamed_keywords
from .symbols import eps


# --- VC dimension and sample complexity (docs/theory.md §7) -----------------------------------------
def vc_momlp(num_experts, n, depth, width):
    """Paper claim 3 (docs/theory.md §1, §7): VCdim(MoMLP) = Õ(L·max{nL, J·W}).

    Parameters
    ----------
    num_experts : int or sympy.Expr
        L.
    n : int or sympy.Expr
        Input dimension.
    depth, width : int or sympy.Expr
        J and W of one expert.

    Returns
    -------
    sympy.Expr
        L·max{nL, JW} (log factors and absolute constants omitted).

    Examples
    --------
    >>> from moe_approx import rates
    >>> rates.vc_momlp(4, 2, 3, 5)  # 4·max(8, 15)
    60
    """
    L, J, W = (sp.sympify(x) for x in (num_experts, depth, width))
    return L * sp.Max(n * L, J * W)


def vc_bhlm(num_params, depth):
    """Bartlett–Harvey–Liaw–Mehrabian 2019 (docs/theory.md §7): VCdim = O(P·J·log P) for a
    piecewise-linear network with P parameters and depth J.

    Parameters
    ----------
    num_params : int or sympy.Expr
        P.
    depth : int or sympy.Expr
        J.

    Returns
    -------
    sympy.Expr
        P·J·log P (the absolute constant of their explicit upper-bound theorem is not encoded).

    Examples
    --------
    >>> from moe_approx import rates
    >>> rates.vc_bhlm(100, 3)
    300*log(100)
    """
    P = sp.sympify(num_params)
    return P * sp.sympify(depth) * sp.log(P)


@_renamed_keywords(eps_="eps", delta_="delta")
def sample_complexity(d, eps, delta):
    """Agnostic PAC sample complexity from VC dimension d (Shalev-Shwartz & Ben-David 2014,
    Thm 6.8; docs/theory.md §7): C₁(d + log(1/δ))/ε² ≤ m(ε, δ) ≤ C₂(d + log(1/δ))/ε² with absolute
    constants C₁, C₂ that the theorem does not specify.

    Parameters
    ----------
    d : int or sympy.Expr
        VC dimension.
    eps : float or sympy.Expr
        Excess risk, > 0 (the old keyword ``eps_`` still works, with a DeprecationWarning).
    delta : float or sympy.Expr
        Failure probability in (0, 1) (old keyword ``delta_``).

    Returns
    -------
    sympy.Expr
        (d + log(1/δ))/ε².

    Examples
    --------
    >>> from moe_approx import rates
    >>> rates.sample_complexity(10, eps=rates.eps, delta=rates.delta)
    (log(1/delta) + 10)/epsilon**2
    """
    return (sp.sympify(d) + sp.log(1 / sp.sympify(delta))) / sp.sympify(eps) ** 2


def paper_claims(n=None, alpha=None) -> dict:
    """The abstract's claims (docs/theory.md §1) as expressions, to set beside each family.

    Parameters
    ----------
    n : int or None
        Dimension (``None`` = symbolic).
    alpha : float or None
        Hölder exponent (``None`` = symbolic).

    Returns
    -------
    dict
        ``"active params"``: ε^−1 loaded (claim 1); ``"active params (v1, with routing)"``:
        ε^−1 log ε^−1; ``"one MLP params"``: ε^(−n/(2α)), the optimal deep-ReLU rate (claim 2
        states n/2 for α = 1); ``"VC MoMLP"``: L·max{nL, JW} in symbols L, J, W (claim 3).

    Examples
    --------
    >>> from moe_approx import rates
    >>> rates.paper_claims(4, 1)["one MLP params"]
    epsilon**(-2)
    """
    n_val, a_val = _check_n(n, True), _check_alpha(alpha, True)
    L, J, W = sp.symbols("L J W", positive=True)
    return {
        "active params": 1 / eps,
        "active params (v1, with routing)": sp.log(1 / eps) / eps,
        "one MLP params": eps ** (-n_val / (2 * a_val)),
        "VC MoMLP": vc_momlp(L, n_val, J, W),
    }
