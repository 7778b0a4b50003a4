"""Yarotsky's sawtooth square, product, monomial and local Taylor experts (docs/theory.md §4.3;
Yarotsky 2017, arXiv:1610.01145, Prop. 2, Prop. 3 and Thm 1).

- Tooth g(t) = 2σ(t) − 4σ(t − 1/2) (Yarotsky's third term 2σ(t − 1) vanishes on [0, 1], where every
  g_s lives); f_m(x) = x − Σ_{s≤m} g_s(x)/4^s is the linear interpolant of x² on the grid 2^−m ℤ:
  0 ≤ f_m(x) − x² ≤ 2^(−2m−2) on [0, 1], with equality at the dyadic midpoints. On all of ℝ the
  network is 2-Lipschitz (slopes 1 + Σ 2^s/4^s).
- Product on [0, 1]²: P(x, y) = 2 f_m((x+y)/2) − f_m(x)/2 − f_m(y)/2, so with e = 2^(−2m−2),
  −e ≤ P − xy ≤ 2e (so |P − xy| ≤ 2e; the sup 2e = 2^(−2m−1) is attained at
  x, y on the grid with (x+y)/2 a midpoint), and P is 3-Lipschitz in each argument.
- Monomials y^β (1 ≤ |β| ≤ d) of y ∈ [0, 1]^n by chains y^β = P(y_i, y^(β−e_i)): the error of a
  degree-p monomial is δ_p ≤ 3 δ_(p−1) + 2e, δ_1 = 0, so δ_p ≤ e (3^(p−1) − 1).
- Taylor expert of degree d on a cell (``degree`` = d is the polynomial's degree itself, not
  Yarotsky's k − 1; the target must declare derivative order ≥ d, docs/theory.md §4.3): T(x) = Σ_{|γ|≤d} ∂^γ f(c)/γ! (x − c)^γ at the centre c,
  rewritten in the cell coordinates y = (x − lo)/(hi − lo), the monomials by the network.

Counts: ``num_params`` is the stored dense count of the calculus' block layers; ``num_nonzero``
(generic position) is affine in m (each extra sawtooth layer adds the same block), its two
constants counted on the unit networks at m = 2, 3 (they depend only on n, degree, activation);
the tests check it against built experts for m = 1 … 5.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from .._checks import check_int, check_memory
from ..calculus import compose, identity, linear_combination, parallel, post_affine, pre_affine, rectifier
from ..mlp import MLP, check_activation
from . import check_cells, generic_nonzero
from .._config import kernel_jit

SIZE_DEFAULTS: dict = {"m": 8, "degree": 2}
NUMERIC_SIZES = ("degree",)  # the closed forms are symbolic in m, and need a number for degree
SIZE_LIMITS = {"degree": 30}  # = MAX_DEGREE: largest sizes the closed forms accept
NEEDS_SMOOTHNESS = True  # Taylor experts need a target that declares smoothness s > degree
CHUNK_CELLS = 2**14  # cells per autodiff batch


# --- square and product (Yarotsky 2017, Prop. 2 and 3) ----------------------------------------
def _tooth(activation: str) -> MLP:
    """g(t) = 2σ(t) − 4σ(t − 1/2) on [0, 1]."""
    return post_affine(pre_affine(rectifier(2, activation), np.ones((1, 2)), np.array([0.0, -0.5])),
                       np.array([[2.0], [-4.0]]), np.zeros(1))


def square_network(m: int, activation: str = "relu") -> MLP:
    """f_m(x) = x − Σ_{s=1}^m g_s(x)/4^s on [0, 1]: state (f_s, g_s) carried through m layers; depth m + 1.

    Parameters
    ----------
    m : int
        Number of sawtooth layers, >= 1.
    activation : {"relu", "prelu"}, default "relu"

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If m < 1 or ``activation`` is unknown.

    Examples
    --------
    The error at a midpoint of the grid 2^−m ℤ is exactly 2^(−2m−2) (Yarotsky 2017, Prop. 2):

    >>> import numpy as np
    >>> from moe_approx.experts import yarotsky
    >>> net = yarotsky.square_network(3)
    >>> x = np.array([[1 / 16], [0.5]])
    >>> np.asarray(net(x))[:, 0] - x[:, 0] ** 2 == [2.0 ** -8, 0.0]
    array([ True,  True])
    """
    m = check_int(m, "m")
    check_activation(activation)
    tooth = _tooth(activation)
    carry = identity(1, 2, activation)
    state = identity(1, 1, activation)  # t ↦ (t, t) below: f_0 = g_0 = x
    state = post_affine(state, np.ones((1, 2)), np.zeros(2))
    for s in range(1, m + 1):
        step = parallel(pre_affine(carry, np.array([[1.0], [0.0]]), np.zeros(1)),
                        pre_affine(tooth, np.array([[0.0], [1.0]]), np.zeros(1)))  # (f, g) ↦ (f, g∘g)
        state = compose(post_affine(step, np.array([[1.0, 0.0], [-(0.25**s), 1.0]]), np.zeros(2)), state)
    return post_affine(state, np.array([[1.0], [0.0]]), np.zeros(1))


def product_network(m: int, activation: str = "relu") -> MLP:
    """P(x, y) = 2 f_m((x+y)/2) − f_m(x)/2 − f_m(y)/2 ≈ xy on [0, 1]² (polarization); depth m + 1.

    −e ≤ P − xy ≤ 2e with e = 2^(−2m−2) (docs/theory.md §4.3).

    Parameters
    ----------
    m : int
        Sawtooth layers of each square, >= 1.
    activation : {"relu", "prelu"}, default "relu"

    Returns
    -------
    MLP

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx.experts import yarotsky
    >>> xy = np.random.default_rng(0).random((1000, 2))
    >>> err = np.asarray(yarotsky.product_network(4)(xy))[:, 0] - xy.prod(axis=1)
    >>> bool(-2.0 ** -10 <= err.min() and err.max() <= 2 * 2.0 ** -10)
    True
    """
    square = square_network(m, activation)
    halves = [pre_affine(square, A, np.zeros(1)) for A in (np.array([[0.5], [0.5]]), np.array([[1.0], [0.0]]), np.array([[0.0], [1.0]]))]
    return linear_combination(halves, np.array([2.0, -0.5, -0.5]))


def square_error(m) -> float:
    """sup_[0,1] |f_m(x) − x²| = 2^(−2m−2), attained at the midpoints of the grid 2^−m ℤ.

    Parameters
    ----------
    m : int or sympy.Expr

    Returns
    -------
    float or sympy.Expr

    Examples
    --------
    >>> from moe_approx.experts import yarotsky
    >>> yarotsky.square_error(3)
    0.00390625
    """
    return sp.Integer(2) ** (-2 * m - 2) if isinstance(m, sp.Basic) else 2.0 ** (-2 * m - 2)


# --- monomials ---------------------------------------------------------------------------------
def monomials(n: int, degree: int) -> list[tuple[int, ...]]:
    """Exponents β with |β| <= degree, graded (|β| = 0, 1, …), each grade in lexicographic order descending.

    Parameters
    ----------
    n : int
        Number of variables.
    degree : int
        Largest total degree.

    Returns
    -------
    list of tuple of int

    Examples
    --------
    >>> from moe_approx.experts import yarotsky
    >>> yarotsky.monomials(2, 2)
    [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
    """

    def grade(p, k):  # exponents of k variables summing to p, lexicographically descending
        if k == 1:
            return [(p,)]
        return [(first,) + rest for first in range(p, -1, -1) for rest in grade(p - first, k - 1)]

    return [b for p in range(degree + 1) for b in grade(p, n)]


def monomial_network(n: int, degree: int, m: int, activation: str = "relu") -> MLP:
    """y ↦ (y^β)_{1≤|β|≤degree} on [0, 1]^n (order of :func:`monomials` without β = 0); depth 1 + (degree − 1) m.

    Parameters
    ----------
    n, degree, m : int
        Dimension, largest degree, sawtooth layers per product (each >= 1).
    activation : {"relu", "prelu"}, default "relu"

    Returns
    -------
    MLP

    Raises
    ------
    ValueError
        If an integer argument is < 1 or ``activation`` is unknown.

    Examples
    --------
    The error of a degree-p monomial is at most 2^(−2m−2)(3^(p−1) − 1) (:func:`monomial_error`):

    >>> import numpy as np
    >>> from moe_approx.experts import yarotsky
    >>> net = yarotsky.monomial_network(2, 3, 5)
    >>> net.depth
    11
    >>> y = np.random.default_rng(1).random((500, 2))
    >>> exact = np.stack([y[:, 0] ** a * y[:, 1] ** b for a, b in yarotsky.monomials(2, 3)[1:]], axis=-1)
    >>> bool(np.abs(np.asarray(net(y)) - exact).max() <= yarotsky.monomial_error(3, 5))
    True
    """
    n, degree, m = check_int(n, "n"), check_int(degree, "degree"), check_int(m, "m")
    check_activation(activation)
    exps = monomials(n, degree)[1:]
    product = product_network(m, activation)
    state, known = identity(n, 1, activation), [b for b in exps if sum(b) == 1]
    for p in range(2, degree + 1):
        S = len(known)
        pieces = [identity(S, m + 1, activation)]
        for beta in (b for b in exps if sum(b) == p):
            i = next(j for j, v in enumerate(beta) if v)
            parent = tuple(v - (j == i) for j, v in enumerate(beta))
            select = np.zeros((S, 2))
            select[known.index(tuple(int(j == i) for j in range(n))), 0] = 1.0
            select[known.index(parent), 1] = 1.0
            pieces.append(pre_affine(product, select, np.zeros(2)))
            known.append(beta)
        state = compose(parallel(*pieces), state)
    return state


def monomial_error(p, m):
    """Proven bound δ_p = e (3^(p−1) − 1), e = 2^(−2m−2), on the error of a degree-p monomial.

    Parameters
    ----------
    p : int
        Degree.
    m : int or sympy.Expr
        Sawtooth layers.

    Returns
    -------
    float or sympy.Expr

    Examples
    --------
    >>> from moe_approx.experts import yarotsky
    >>> yarotsky.monomial_error(1, 4), yarotsky.monomial_error(2, 4) == 2 * 2.0 ** -10
    (0.0, True)
    """
    return square_error(m) * (3 ** (p - 1) - 1)


# --- Taylor coefficients -----------------------------------------------------------------------
def taylor_coefficients(target, centres, degree: int) -> np.ndarray:
    """∂^γ f(c)/γ! for every γ of :func:`monomials` (n, degree), by JAX autodiff of ``target.fn``; (L, M).

    Parameters
    ----------
    target : HolderTarget
        Its ``fn`` must be differentiable ``degree`` times by JAX.
    centres : array_like
        Expansion points, shape (L, n).
    degree : int

    Returns
    -------
    numpy.ndarray
        Shape (L, number of monomials).

    Raises
    ------
    ValueError
        If autodiff gives non-finite values.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import yarotsky
    >>> f = targets.get("sine_product", n=1)          # sin(πx) at 1/2: 1, 0, −π²/2
    >>> t = yarotsky.taylor_coefficients(f, np.array([[0.5]]), 2)
    >>> bool(np.allclose(t, [[1.0, 0.0, -np.pi ** 2 / 2]]))
    True
    """
    degree = check_int(degree, "degree")
    centres = np.asarray(centres, np.float64)
    n = target.n
    fn = lambda x: target.fn(x[None])[0]
    tensors = [fn]
    for _ in range(degree):
        tensors.append(jax.jacfwd(tensors[-1]))
    exps = monomials(n, degree)
    index = [tuple(i for i in range(n) for _ in range(b[i])) for b in exps]
    factorial = np.array([math.prod(math.factorial(v) for v in b) for b in exps], np.float64)

    @kernel_jit
    def one(c):
        ders = [t(c) for t in tensors]
        return jnp.stack([ders[len(ix)][ix] if ix else ders[0] for ix in index])

    batched = kernel_jit(jax.vmap(one))
    out = np.concatenate([np.asarray(batched(centres[s : s + CHUNK_CELLS])) for s in range(0, len(centres), CHUNK_CELLS)])
    if not np.all(np.isfinite(out)):
        raise ValueError(f"target {target.name or 'anonymous'}: autodiff gave non-finite derivatives up to order {degree}")
    return out / factorial


def _centre_to_cell_basis(n: int, degree: int) -> np.ndarray:
    """M[γ, β]: Π_i (y_i − 1/2)^(γ_i) = Σ_β M[γ, β] y^β (binomial expansion)."""
    exps = monomials(n, degree)
    pos = {b: j for j, b in enumerate(exps)}
    M = np.zeros((len(exps), len(exps)))
    for g, gamma in enumerate(exps):
        for beta in itertools.product(*[range(v + 1) for v in gamma]):
            M[g, pos[beta]] = math.prod(math.comb(gv, bv) * (-0.5) ** (gv - bv) for gv, bv in zip(gamma, beta))
    return M


def check_target(target, degree: int) -> None:
    """Taylor experts of ``degree`` need a target declaring smoothness s > degree (docs/theory.md §2, §4.3).

    Parameters
    ----------
    target : HolderTarget
    degree : int

    Raises
    ------
    ValueError
        If the target declares no smoothness, or its derivative order ⌈s⌉ − 1 is below ``degree``.

    Examples
    --------
    >>> from moe_approx import targets
    >>> from moe_approx.experts import yarotsky
    >>> yarotsky.check_target(targets.get("gaussian_bump", n=2), 1)       # s = 2: degree 1 only
    >>> yarotsky.check_target(targets.get("gaussian_bump", n=2), 2)
    Traceback (most recent call last):
    ...
    ValueError: degree=2 needs derivatives of order 2, ...
    """
    if target.smoothness is None:
        raise ValueError(f"target {target.name or 'anonymous'} declares no smoothness/derivatives: "
                         "Taylor experts need HolderTarget(..., smoothness=s, derivative_constant=D)")
    if degree > target.derivative_order:
        raise ValueError(f"degree={degree} needs derivatives of order {degree}, but target {target.name or 'anonymous'} "
                         f"has smoothness s={target.smoothness} (derivative order {target.derivative_order}); accepted: "
                         f"1 <= degree <= {target.derivative_order}")


def build(target, lo, hi, *, activation: str = "relu", m: int = SIZE_DEFAULTS["m"], degree: int = SIZE_DEFAULTS["degree"]) -> MLP:
    """The degree-``degree`` Taylor polynomial of ``target`` at each cell centre, monomials by f_m products.

    Parameters
    ----------
    target : HolderTarget
        With declared smoothness of derivative order >= ``degree``.
    lo, hi : array_like
        Cell corners, shape (L, n).
    activation : {"relu", "prelu"}, default "relu"
    m : int, default 8
        Sawtooth layers per product.
    degree : int, default 2
        Degree of the Taylor polynomial (docs/theory.md §4.3), in [1, 30].

    Returns
    -------
    MLP
        A stack (L,) of depth 1 + (degree − 1) m.

    Raises
    ------
    ValueError
        If the target lacks the smoothness, a size is out of range, or the experts would not fit
        in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import yarotsky
    >>> f = targets.get("sine_product", n=1)
    >>> lo, hi = np.array([[0.25]]), np.array([[0.5]])
    >>> nets = yarotsky.build(f, lo, hi, m=6, degree=2)
    >>> x = np.linspace(0.25, 0.5, 101)[None, :, None]
    >>> err = np.abs(np.asarray(nets(x))[..., 0] - np.asarray(f(x)))
    >>> bound = yarotsky.error_bound(1.0, np.pi ** 3, 0.25, 1, m=6, degree=2)   # s = 3: D = π³
    >>> bool(err.max() <= float(bound))
    True
    """
    m, degree = check_int(m, "m"), _numeric(check_int(degree, "degree"), "degree")
    check_activation(activation)
    check_target(target, degree)
    n = target.n
    lo, hi = check_cells(lo, hi, n)
    L, M = lo.shape[0], len(monomials(n, degree))
    check_memory(8.0 * (L * (3 * M + (n + 1) * width(n, activation, m, degree)) + num_params(n, activation, m, degree)),
                 f"{L} yarotsky experts with m={m}, degree={degree} on n={n}")
    side = hi - lo
    t = taylor_coefficients(target, 0.5 * (lo + hi), degree)
    powers = np.prod(side[:, None, :] ** np.array(monomials(n, degree))[None], axis=-1)
    a = (t * powers) @ _centre_to_cell_basis(n, degree)  # coefficients of y^β
    unit = monomial_network(n, degree, m, activation)
    net = post_affine(unit, a[:, 1:, None], a[:, :1])
    return pre_affine(net, (1.0 / side)[..., :, None] * np.eye(n), -lo / side)


# --- closed forms (one expert) -----------------------------------------------------------------
MAX_DEGREE = 30  # beyond it the Taylor coefficients underflow float64 anyway


def _numeric(value, name):
    if isinstance(value, sp.Basic) and not value.is_number:
        raise TypeError(f"{name} must be a number here (closed forms are symbolic in m only)")
    if name == "degree" and value > MAX_DEGREE:
        raise ValueError(f"degree must be an integer in [1, {MAX_DEGREE}], got {value}")
    return int(value)


def _level_widths(n, activation, degree):
    """Hidden width of each level p = 2 … degree: carry of the S lower monomials plus Q products."""
    carry, prod = (2, 12) if activation == "relu" else (1, 9)
    widths = []
    for p in range(2, degree + 1):
        S, Q = math.comb(n + p - 1, p - 1) - 1, math.comb(n + p - 1, p)
        widths.append(carry * S + prod * Q)
    return widths


def depth(n, activation="relu", m=SIZE_DEFAULTS["m"], degree=SIZE_DEFAULTS["degree"]):
    """1 + (degree − 1) m; symbolic in m.

    Examples
    --------
    >>> import sympy as sp
    >>> from moe_approx.experts import yarotsky
    >>> yarotsky.depth(2, m=sp.Symbol("m"), degree=3)
    2*m + 1
    """
    return 1 + (_numeric(degree, "degree") - 1) * m


def width(n, activation="relu", m=SIZE_DEFAULTS["m"], degree=SIZE_DEFAULTS["degree"]):
    """Largest level: 2 S_p + 12 Q_p (ReLU) or S_p + 9 Q_p (PReLU) (docs/theory.md §4.3).

    Examples
    --------
    >>> from moe_approx.experts import yarotsky
    >>> yarotsky.width(2, "relu", degree=2), yarotsky.width(2, "prelu", degree=2)   # S = 2, Q = 3
    (40, 29)
    """
    return max(_level_widths(_numeric(n, "n"), activation, _numeric(degree, "degree")), default=0)


def num_params(n, activation="relu", m=SIZE_DEFAULTS["m"], degree=SIZE_DEFAULTS["degree"]):
    """Stored count of the layers (n, w_2 × m, …, w_d × m, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from moe_approx import targets
    >>> from moe_approx.experts import yarotsky
    >>> net = yarotsky.build(targets.get("gaussian_bump", n=1), np.zeros((1, 1)), np.ones((1, 1)), m=3, degree=1)
    >>> yarotsky.num_params(1, m=3, degree=1) == net.num_params
    True
    """
    n, degree = _numeric(n, "n"), _numeric(degree, "degree")
    levels = _level_widths(n, activation, degree)
    count, previous = 0, n
    for w in levels:  # into the level, then m − 1 layers inside it
        count += previous * w + w + (m - 1) * (w * w + w)
        previous = w
    count += previous + 1
    return count + (m * sum(levels) if activation == "prelu" else 0)


@functools.lru_cache(maxsize=None)
def _unit_nonzero(n: int, degree: int, m: int, activation: str) -> int:
    return generic_nonzero(monomial_network(n, degree, m, activation))


def num_nonzero(n, activation="relu", m=SIZE_DEFAULTS["m"], degree=SIZE_DEFAULTS["degree"]):
    """Nonzero parameters for a generic cell and target: affine in m (see module doc).

    Examples
    --------
    >>> from moe_approx.experts import yarotsky
    >>> a, b, c = (yarotsky.num_nonzero(2, m=m) for m in (4, 5, 6))
    >>> b - a == c - b > 0
    True
    """
    n, degree = _numeric(n, "n"), _numeric(degree, "degree")
    check_memory(8.0 * num_params(n, activation, 3, degree), f"counting a yarotsky expert of degree {degree} on n={n}")
    two, three = _unit_nonzero(n, degree, 2, activation), _unit_nonzero(n, degree, 3, activation)
    return two + (m - 2) * (three - two)


def error_bound(alpha, constant, side, n, m=SIZE_DEFAULTS["m"], degree=SIZE_DEFAULTS["degree"]):
    """Uniform error on a cell of side h for f with every partial of order <= d bounded by C and the
    order-d partials (α, C)-Hölder (Yarotsky 2017 Thm 1's Sobolev-ball setting, with Hölder top
    order; docs/theory.md §4.3).

    Taylor remainder C n^d (h/2)^(d+α) Γ(α+1)/Γ(d+α+1) (``HolderTarget.taylor_remainder_bound``)
    plus the network error C Σ_{p=2}^{d} (3nh/2)^p/p! δ_p: the coefficients satisfy
    t_γ <= C/γ! in absolute value, Σ_{|γ|=p} 1/γ! = n^p/p!, and the change to cell coordinates
    multiplies a degree-p error by at most (3/2)^p.

    Parameters
    ----------
    alpha, constant : float or sympy.Expr
        Hölder exponent and constant of the order-``degree`` partials (C also bounds the partials
        of order <= ``degree``).
    side : float or sympy.Expr
        Cell side h.
    n : int
    m : int or sympy.Expr, default 8
    degree : int, default 2

    Returns
    -------
    sympy.Expr
        A SymPy number for numeric arguments.

    Examples
    --------
    >>> from moe_approx.experts import yarotsky
    >>> float(yarotsky.error_bound(1, 1, 1, 1, m=8, degree=1))    # (1/2)^2 Γ(2)/Γ(3)
    0.125
    """
    d = _numeric(degree, "degree")
    remainder = constant * n**d * (side / 2) ** (d + alpha) * sp.gamma(alpha + 1) / sp.gamma(d + alpha + 1)
    network = sum(constant * (sp.Rational(3, 2) * n * side) ** p / math.factorial(p) * monomial_error(p, m) for p in range(2, d + 1))
    return remainder + network
