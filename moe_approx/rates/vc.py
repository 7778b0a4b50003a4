"""VC dimension and sample complexity (docs/theory.md §7) and the paper's claims (§1)."""

from __future__ import annotations

import sympy as sp

from ._validate import _check_alpha, _check_n, _renamed_keywords
from .symbols import eps

# --- VC dimension and sample complexity (THEORY.md §7) -----------------------------------------
def vc_momlp(num_experts, n, depth, width):
    """Paper claim 3: VCdim(MoMLP) = Õ(L·max{nL, J·W}); returns L·max{nL, JW} (logs, constants omitted)."""
    L, J, W = (sp.sympify(x) for x in (num_experts, depth, width))
    return L * sp.Max(n * L, J * W)


def vc_bhlm(num_params, depth):
    """Bartlett–Harvey–Liaw–Mehrabian 2019: VCdim = O(P·J·log P) for a piecewise-linear network with
    P parameters and depth J (returns P·J·log P; the absolute constant of their explicit upper-bound
    theorem is not encoded: that statement still has to be read from the paper)."""
    P = sp.sympify(num_params)
    return P * sp.sympify(depth) * sp.log(P)


@_renamed_keywords(eps_="eps", delta_="delta")
def sample_complexity(d, eps, delta):
    """Agnostic PAC sample complexity from VC dimension d (Shalev-Shwartz & Ben-David 2014, Thm 6.8):
    C₁(d + log(1/δ))/ε² ≤ m(ε, δ) ≤ C₂(d + log(1/δ))/ε² with absolute constants C₁, C₂ that the
    theorem does not specify; returns (d + log(1/δ))/ε²."""
    return (sp.sympify(d) + sp.log(1 / sp.sympify(delta))) / sp.sympify(eps) ** 2


def paper_claims(n=None, alpha=None) -> dict:
    """The abstract's claims (THEORY.md §1) as expressions, to set beside each family.

    ``"active params"``: O(ε^−1) loaded (claim 1; v1: O(ε^−1 log ε^−1) with routing);
    ``"one MLP params"``: O(ε^(−n/(2α))), the optimal deep-ReLU rate (claim 2 states n/2 for α = 1);
    ``"VC MoMLP"``: Õ(L·max{nL, JW}) in symbols L, J, W (claim 3).
    """
    n_val, a_val = _check_n(n, True), _check_alpha(alpha, True)
    L, J, W = sp.symbols("L J W", positive=True)
    return {
        "active params": 1 / eps,
        "active params (v1, with routing)": sp.log(1 / eps) / eps,
        "one MLP params": eps ** (-n_val / (2 * a_val)),
        "VC MoMLP": vc_momlp(L, n_val, J, W),
    }
