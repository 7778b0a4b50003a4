"""The library of Hölder targets with proven (α, C) (docs/theory.md §2).

Each target proves its pair in its docstring, in the ∞-norm (:mod:`moe_approx.targets.holder`).

The library (:func:`names`, :func:`get`); every target is defined for every n ≥ 1:

============== ===== ========================= ===== =====================
name           α     C                         s     D
============== ===== ========================= ===== =====================
affine         1     (n + 1)/2                 2     0
cone           1     1
cusp           1/2   1
gaussian_bump  1     4√n e^(−1/2)              2     16 (1 + √(n−1)/e)
l2_distance    1     √n
linf_distance  1     1
oscillatory    1     20π                       3     (20π)³/n
ridge          3/4   H_n^(3/4)
sine_product   1     π√n                       3     π³√n
weierstrass    2/3   5.9119 (computed)
============== ===== ========================= ===== =====================
"""

from __future__ import annotations

import math
from typing import Callable

import jax.numpy as jnp
import numpy as np

from .holder import HolderTarget, _check_dim, weierstrass_constant

_LIBRARY: dict[str, Callable[[int], HolderTarget]] = {}


_FACTORY_SECTIONS = """
    Parameters
    ----------
    n : int
        Dimension n >= 1 of the cube [0,1]^n.

    Returns
    -------
    HolderTarget
        The target with its proven (α, C), and (s, D) where declared (docs/theory.md §2).

    Raises
    ------
    ValueError
        If n is not an integer >= 1 (through :func:`get`).
"""


def _register(factory):
    """Add ``factory`` to the library, with its shared Parameters/Returns sections."""
    if factory.__doc__:  # None under python -OO
        head, sep, examples = factory.__doc__.partition("\n    Examples\n")
        factory.__doc__ = head.rstrip() + "\n" + _FACTORY_SECTIONS + sep + examples
    _LIBRARY[factory.__name__] = factory
    return factory


def _first_axis(n: int, constant: float) -> tuple:
    """Per-axis constants (C, 0, …, 0) of a target that depends on x₁ alone."""
    return (constant,) + (0.0,) * (_check_dim(n) - 1)


# --- Lipschitz targets --------------------------------------------------------------------


@_register
def cone(n: int) -> HolderTarget:
    """1 − ‖x − c‖_∞, c = (1/2, …, 1/2). α = 1, C = 1: reverse triangle inequality for ‖·‖_∞.

    Tight: y = c + t e_1 gives |f(c) − f(y)| = t = ‖c − y‖_∞.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> f = targets.cone(2)
    >>> float(f(np.full(2, 0.5))), float(f(np.zeros(2)))
    (1.0, 0.5)
    """
    return HolderTarget(lambda x: 1.0 - jnp.max(jnp.abs(x - 0.5), axis=-1), n, 1.0, 1.0, "cone")


LINF_POINT = (math.sqrt(5.0) - 1.0) / 2.0  # every coordinate of the point of linf_distance


@_register
def linf_distance(n: int) -> HolderTarget:
    """‖x − p‖_∞, p = (φ⁻¹, …, φ⁻¹), φ⁻¹ = (√5 − 1)/2 (off every uniform grid). α = 1, C = 1.

    Proof: reverse triangle inequality. Tight: y = p + t e_1 has f(y) − f(p) = t = ‖y − p‖_∞.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> f = targets.linf_distance(3)
    >>> float(f(np.full(3, targets.LINF_POINT)))
    0.0
    """
    return HolderTarget(lambda x: jnp.max(jnp.abs(x - LINF_POINT), axis=-1), n, 1.0, 1.0, "linf_distance")


@_register
def l2_distance(n: int) -> HolderTarget:
    """‖x − c‖_2, c = (1/2, …, 1/2). α = 1, C = √n.

    Proof: |‖x−c‖_2 − ‖y−c‖_2| ≤ ‖x − y‖_2 ≤ √n ‖x − y‖_∞. Tight: x = c, y = c + t(1, …, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> targets.l2_distance(4).constant
    2.0
    """
    return HolderTarget(lambda x: jnp.sqrt(jnp.sum((x - 0.5) ** 2, axis=-1)), n, 1.0, math.sqrt(n), "l2_distance")


def _alternating_weights(n: int) -> np.ndarray:
    """w_i = (−1)^(i+1) i / n, i = 1 … n; ‖w‖_1 = (n + 1)/2."""
    i = np.arange(1, n + 1)
    return np.where(i % 2 == 1, 1.0, -1.0) * i / n


@_register
def affine(n: int) -> HolderTarget:
    """1/4 + w·x with w_i = (−1)^(i+1) i/n. α = 1, C = ‖w‖_1 = (n + 1)/2; s = 2, D = 0.

    Proof: |w·(x − y)| ≤ ‖w‖_1 ‖x − y‖_∞ (Hölder's inequality), equality for x − y = t sign(w);
    the partials ∂_i f = w_i are constant. Exact for piecewise-linear experts.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> f = targets.affine(3)                  # w = (1/3, -2/3, 1): C = ‖w‖₁ = 2
    >>> f.constant, float(f(np.zeros(3)))
    (2.0, 0.25)
    """
    w = _alternating_weights(n)
    return HolderTarget(lambda x: 0.25 + x @ w, n, 1.0, float(np.abs(w).sum()), "affine", 2.0, 0.0)


@_register
def kink(n: int) -> HolderTarget:
    """|x₁ − 1/3|, depends on x₁ only. α = 1, C = 1: reverse triangle inequality.

    Per-axis constants (1, 0, …, 0). Tight: x₁ = 1/3, y₁ = 1/3 + t. The Lipschitz twin of ``cusp``: on a dyadic grid the kink sits
    at 1/3 or 2/3 of a cell's width, so a piecewise-linear error scales exactly with h.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> f = targets.kink(2)
    >>> float(f(np.array([1 / 3, 0.9]))), float(f(np.array([1.0, 0.0])))
    (0.0, 0.6667)
    """
    return HolderTarget(lambda x: jnp.abs(x[..., 0] - 1.0 / 3.0), n, 1.0, 1.0, "kink", axis_constants=_first_axis(n, 1.0))


# --- Hölder targets with α < 1 -------------------------------------------------------------


@_register
def cusp(n: int) -> HolderTarget:
    """|x₁ − 1/3|^(1/2), depends on x₁ only. α = 1/2, C = 1.

    Proof: |√a − √b| ≤ √|a − b| for a, b ≥ 0, and ||x₁−⅓| − |y₁−⅓|| ≤ |x₁ − y₁| ≤ ‖x − y‖_∞.
    Tight: x₁ = 1/3, y₁ = 1/3 + t.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> f = targets.cusp(1)
    >>> float(f(np.array([1 / 3 + 1 / 4])))
    0.5
    """
    return HolderTarget(lambda x: jnp.sqrt(jnp.abs(x[..., 0] - 1.0 / 3.0)), n, 0.5, 1.0, "cusp",
                        axis_constants=_first_axis(n, 1.0))


RIDGE_EXPONENT = 0.75


def _harmonic_weights(n: int) -> np.ndarray:
    """w_i = (−1)^(i+1)/i, i = 1 … n; ‖w‖_1 = H_n (harmonic number)."""
    i = np.arange(1, n + 1)
    return np.where(i % 2 == 1, 1.0, -1.0) / i


@_register
def ridge(n: int) -> HolderTarget:
    """g(w·(x − x*)) with g(t) = |t|^(3/4), w_i = (−1)^(i+1)/i, x* = (1/3, …, 1/3). α = 3/4, C = H_n^(3/4).

    Proof: g is (3/4, 1)-Hölder (|a^β − b^β| ≤ |a − b|^β, a, b ≥ 0) and |w·(x − y)| ≤ ‖w‖_1 ‖x − y‖_∞,
    ‖w‖_1 = H_n = Σ 1/i. Tight: x = x*, y = x* + t sign(w).

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> f = targets.ridge(2)                   # H_2 = 3/2
    >>> round(f.constant, 6) == round(1.5 ** 0.75, 6)
    True
    """
    w = _harmonic_weights(n)
    return HolderTarget(
        lambda x: jnp.abs((x - 1.0 / 3.0) @ w) ** RIDGE_EXPONENT,
        n, RIDGE_EXPONENT, float(np.abs(w).sum()) ** RIDGE_EXPONENT, "ridge",
    )


WEIERSTRASS = {"a": 0.25, "b": 8.0, "terms": 6, "alpha": 2.0 / 3.0}  # a·b^α = 1


@_register
def weierstrass(n: int) -> HolderTarget:
    """(1/n) Σ_i W(x_i), W(t) = Σ_{j=0}^{5} 4^(−j) cos(8^j π t). α = 2/3 (a b^α = 1), C ≈ 5.9119.

    C = :func:`~moe_approx.targets.holder.weierstrass_constant` (1/4, 8, 6, 2/3) bounds W's (2/3)-Hölder constant (proof
    there); the mean over coordinates keeps it: (1/n) Σ C|x_i − y_i|^α ≤ C ‖x − y‖_∞^α.
    Lower bound: |W(0) − W(8^(−m))| ≥ 2·4^(−m) = 2 (8^(−m))^α, so the true constant is in [2, C].

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> f = targets.weierstrass(1)
    >>> 2.0 <= f.constant <= 6.0               # the true constant lies in [2, C]
    True
    """
    a, b, terms, alpha = (WEIERSTRASS[key] for key in ("a", "b", "terms", "alpha"))
    amps = a ** np.arange(terms)
    freqs = np.pi * b ** np.arange(terms)
    return HolderTarget(
        lambda x: jnp.mean(jnp.cos(x[..., None] * freqs) @ amps, axis=-1),
        n, alpha, weierstrass_constant(a, b, terms, alpha), "weierstrass",
    )


# --- smooth targets --------------------------------------------------------------------------


@_register
def sine_product(n: int) -> HolderTarget:
    """Π_i sin(π x_i). α = 1, C = π√n; s = 3, D = π³√n (second partials π³√n-Lipschitz).

    Proof: any partial of order k is π^k Π_m t_m(πx_m), t_m ∈ {±sin, ±cos}; its gradient has
    ‖·‖_2² = π^(2k+2) Σ_l t'_l² Π_{m≠l} t_m² ≤ π^(2k+2) (the probability that exactly one of n
    independent events with probabilities t'_l² occurs), so ‖·‖_1 ≤ √n π^(k+1); take k = 0, 2.
    C is tight for n = 1 and within e^(1/2) of sup ‖∇f‖_1 ≥ π√n (1 − 1/n)^((n−1)/2) (equal angles).

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> f = targets.sine_product(2)
    >>> float(f(np.full(2, 0.5))), f.smoothness
    (1.0, 3.0)
    """
    root_n = math.sqrt(n)
    return HolderTarget(
        lambda x: jnp.prod(jnp.sin(jnp.pi * x), axis=-1),
        n, 1.0, math.pi * root_n, "sine_product", 3.0, math.pi**3 * root_n,
    )


OSCILLATION = 20.0 * math.pi  # ω of the oscillatory target


@_register
def oscillatory(n: int) -> HolderTarget:
    """(1/n) Σ_i sin(ω x_i), ω = 20π. α = 1, C = ω ≈ 62.8; s = 3, D = ω³/n.

    Proof: ‖∇f‖_1 = (ω/n) Σ |cos(ω x_i)| ≤ ω, equality at x = 0. Mixed second partials vanish and
    ∂_i² f = −(ω²/n) sin(ω x_i) has gradient −(ω³/n) cos(ω x_i) e_i: D = ω³/n, equality at x = 0.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> f = targets.oscillatory(2)
    >>> f.constant / np.pi
    20.0
    """
    return HolderTarget(
        lambda x: jnp.mean(jnp.sin(OSCILLATION * x), axis=-1),
        n, 1.0, OSCILLATION, "oscillatory", 3.0, OSCILLATION**3 / n,
    )


BUMP_WIDTH = 0.25  # σ of the Gaussian bump


@_register
def gaussian_bump(n: int) -> HolderTarget:
    """exp(−‖x − c‖_2² / (2σ²)), c = (1/2, …), σ = 1/4. α = 1, C = √n e^(−1/2)/σ; s = 2, D = (1 + √(n−1)/e)/σ².

    Proof (u = (x − c)/σ, q = Σ_{j≠i} u_j²): ‖∇f‖_1 = ‖u‖_1 e^(−‖u‖²/2)/σ ≤ √n ‖u‖ e^(−‖u‖²/2)/σ
    ≤ √n e^(−1/2)/σ, equality at u = (1, …, 1)/√n (inside the cube). Σ_j |∂_j∂_i f| =
    e^(−‖u‖²/2)(|u_i² − 1| + |u_i| Σ_{j≠i}|u_j|)/σ² ≤ (1 + |u_i|e^(−u_i²/2) √(n−1) √q e^(−q/2))/σ², and
    t e^(−t²/2) ≤ e^(−1/2). D is attained for n = 1 (|f''(c)| = 1/σ²).

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> f = targets.gaussian_bump(2)
    >>> float(f(np.full(2, 0.5)))
    1.0
    """
    sigma = BUMP_WIDTH
    return HolderTarget(
        lambda x: jnp.exp(-jnp.sum((x - 0.5) ** 2, axis=-1) / (2.0 * sigma**2)),
        n, 1.0, math.sqrt(n) * math.exp(-0.5) / sigma, "gaussian_bump",
        2.0, (1.0 + math.sqrt(n - 1) / math.e) / sigma**2,
    )


def names() -> list[str]:
    """Names accepted by :func:`get`, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from moe_approx import targets
    >>> "kink" in targets.names() and "cusp" in targets.names()
    True
    """
    return sorted(_LIBRARY)


def get(name: str, n: int = 1) -> HolderTarget:
    """The library target ``name`` on [0,1]^n (any integer n ≥ 1); table in docs/theory.md §2.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    n : int, default 1
        Dimension n >= 1.

    Returns
    -------
    HolderTarget

    Raises
    ------
    ValueError
        If ``name`` is unknown or n is not an integer >= 1.

    Examples
    --------
    >>> from moe_approx import targets
    >>> targets.get("cusp", n=2)
    HolderTarget(cusp, n=2, alpha=0.5, C=1.0)
    """
    if not isinstance(name, str) or name not in _LIBRARY:
        raise ValueError(f"unknown target {name!r}; accepted: {names()}")
    return _LIBRARY[name](_check_dim(n))
