"""Hölder target functions that know their (α, C) (docs/theory.md §2).

A target is (α, C)-Hölder on [0,1]^n: |f(x) − f(y)| ≤ C ‖x − y‖_∞^α. Each library target
proves its pair in its docstring, always in the ∞-norm: ‖x − y‖_2 ≤ √n ‖x − y‖_∞ and
|w·(x − y)| ≤ ‖w‖_1 ‖x − y‖_∞, so a Euclidean-Lipschitz function costs a factor √n and a sum of
n one-dimensional Lipschitz terms a factor n. For a C¹ function on the convex cube the ∞-norm
Lipschitz constant is sup_x ‖∇f(x)‖_1 (mean value theorem; equality as y → x along sign ∇f).

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
import numbers
from dataclasses import dataclass
from typing import Callable, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import as_float_array


def _check_real(name: str, value, *, low: float, low_open: bool = False, high: float = math.inf) -> float:
    """``value`` as a float if it is a finite real number in the stated range, else ValueError/TypeError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    bad_low = value <= low if low_open else value < low
    if not math.isfinite(value) or bad_low or value > high:
        left = "(" if low_open else "["
        right = "]" if math.isfinite(high) else ")"
        raise ValueError(f"{name} must be a finite number in {left}{low}, {high}{right}, got {value!r}")
    return value


def _check_dim(n) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    return int(n)


_TRACER_ERRORS = (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError,
                  jax.errors.TracerIntegerConversionError)


def _check_output(shape, dtype, x_shape) -> None:
    """ValueError unless fn's output (shape, dtype) for an input of shape x_shape is real and of shape x_shape[:-1]."""
    if tuple(shape) != tuple(x_shape[:-1]):
        raise ValueError(
            f"fn must map shape (..., n) to (...): got {tuple(shape)} for input {tuple(x_shape)}; index coordinate i "
            f"as x[..., i] (not x[i] or x[:, i]) and reduce over axis=-1"
        )
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise ValueError(f"fn returns complex values (dtype {dtype}): a target must be real-valued")


def _check_traceable(fn, n: int) -> None:
    """Trace ``fn`` on abstract (n + 2, n + 1, n) and (2, n) inputs (``jax.eval_shape``, no arithmetic), so
    that a fn written with numpy or Python control flow on array values fails here with a TypeError
    that says what to do, and one with the wrong output shape or complex values with a ValueError,
    not deep inside ``jit``. Other exceptions are left to the first evaluation, which reports them
    with real values."""
    advice = ("fn must be written with jax.numpy (jnp.abs instead of np.abs; use jnp.where instead of Python if, "
              "and no float(), on array values): the certificate traces it with JAX, and calling it on a traced "
              "input failed with ")
    for shape in ((n + 2, n + 1, n), (2, n)):  # x[0], x[:, 0] cannot have shape (n + 2, n + 1)
        x = jax.ShapeDtypeStruct(shape, jnp.float64)
        try:
            out = jax.eval_shape(fn, x)
        except _TRACER_ERRORS as err:
            raise TypeError(advice + f"{type(err).__name__}: {str(err).splitlines()[0]}") from None
        except ValueError as err:
            if "truth value" in str(err):  # bool() of a traced batch of comparisons
                raise TypeError(advice + f"ValueError: {str(err).splitlines()[0]}") from None
            continue
        except Exception:  # noqa: BLE001 (reported with real values at the first evaluation)
            continue
        if not hasattr(out, "shape") or not hasattr(out, "dtype"):
            raise ValueError(f"fn must return one array of shape (...) for input (..., n), got {type(out).__name__}")
        _check_output(out.shape, out.dtype, x.shape)


def holder_constants(target, needed_by: str) -> tuple[float, float]:
    """The target's (alpha, constant), or a ValueError saying that ``needed_by`` needs them.

    Only a formula target (:func:`from_sympy`) can leave them undetermined (a kink or a cusp,
    docs/theory.md §9); its certificates never read them, but a construction such as the
    optimal expert's quantisation step does.

    Examples
    --------
    >>> from moe_approx import targets
    >>> targets.holder_constants(targets.get("cusp"), "the example")
    (0.5, 1.0)
    >>> f = targets.from_sympy("sqrt(abs(x1 - 0.3))", 1)
    >>> targets.holder_constants(f, "expert='optimal'")
    Traceback (most recent call last):
    ...
    ValueError: expert='optimal' needs the Hölder constants (alpha, C) of target sqrt(Abs(x1 - 0.3)) (undetermined: ...
    """
    if target.alpha is None or target.constant is None:
        raise ValueError(
            f"{needed_by} needs the Hölder constants (alpha, C) of target {target.name or 'anonymous'} "
            f"({getattr(target, 'constants_source', 'undetermined')}): declare them, as in "
            f"targets.from_sympy(expr, n, alpha=0.5, constant=1.0) for |f(x) - f(y)| <= 1.0 ‖x - y‖_∞^0.5"
        )
    return target.alpha, target.constant


@dataclass(frozen=True, eq=False)
class HolderTarget:
    """f : [0,1]^n → R with |f(x) − f(y)| ≤ constant · ‖x − y‖_∞^alpha for all x, y in [0,1]^n.

    The declared constants are what every certificate rests on (docs/theory.md §5): the package
    checks them on sampled pairs but cannot prove them.

    ``fn`` is JAX-traceable and maps arrays of shape (..., n) to real arrays of shape (...); it is
    traced here on (n + 2, n + 1, n) and (2, n) batches, so a ``fn`` written with numpy (or Python
    control flow on array values) is refused with a ``TypeError``, and one with the wrong output
    shape (``x[0]`` for ``x[..., 0]``) or complex values with a ``ValueError``.

    Smoothness convention (docs/theory.md §2): ``smoothness`` s > 1 and ``derivative_constant`` D
    are given together or not at all. Write s = k + β with k = ⌈s⌉ − 1 ≥ 1
    (:attr:`derivative_order`) and β = s − k ∈ (0, 1] (:attr:`derivative_exponent`). The claim is:
    f is C^k on [0,1]^n and every k-th order partial derivative ∂^γ f (|γ| = k) satisfies
    |∂^γ f(x) − ∂^γ f(y)| ≤ D ‖x − y‖_∞^β. So an integer s = k + 1 means the k-th partials are
    D-Lipschitz in ‖·‖_∞ (s = 2: every ∂_i f is D-Lipschitz). ``fn`` must then be differentiable
    k times by JAX autodiff (Taylor experts, docs/theory.md §4.3, use it).

    Parameters
    ----------
    fn : callable
        JAX-traceable map from arrays of shape (..., n) to (...).
    n : int
        Input dimension, n >= 1.
    alpha : float
        Hölder exponent α in (0, 1].
    constant : float
        Hölder constant C >= 0 in the max-norm.
    name : str, optional
        Name shown in reports.
    smoothness : float, optional
        s > 1; given together with ``derivative_constant``.
    derivative_constant : float, optional
        D >= 0, the Hölder constant of the order-k partials.
    axis_constants : sequence of n floats, optional
        Per-axis constants C_i >= 0 with |f(x) − f(y)| <= Σ_i C_i |x_i − y_i|^α (equivalently
        |f(x) − f(x + t e_i)| <= C_i |t|^α): boxes then need splitting only along the axes where f
        varies (docs/theory.md §5, per-axis bounds). Checked on sampled pairs like C.

    Raises
    ------
    TypeError
        If ``fn`` is not callable, not traceable by JAX (numpy calls, Python ``if`` on array
        values: use ``jnp.where``), or a number is not real.
    ValueError
        If n < 1, alpha is outside (0, 1], constant < 0, only one of ``smoothness`` and
        ``derivative_constant`` is given, or ``fn`` does not map (..., n) to real values (...).

    See Also
    --------
    get : the library targets, with proven constants.

    Examples
    --------
    A user-defined target: f(x) = sin(3 x₁) + x₂/2 on [0,1]², whose max-norm Lipschitz constant
    is sup ‖∇f‖₁ = 3 + 1/2 (mean value theorem), and whose gradient is 9-Lipschitz (s = 2):

    >>> import jax.numpy as jnp
    >>> import moe_approx as ma
    >>> f = ma.HolderTarget(lambda x: jnp.sin(3 * x[..., 0]) + x[..., 1] / 2, n=2, alpha=1.0,
    ...                     constant=3.5, name="wave", smoothness=2.0, derivative_constant=9.0)
    >>> f
    HolderTarget(wave, n=2, alpha=1.0, C=3.5, s=2.0, D=9.0)
    >>> float(f(jnp.array([0.0, 1.0])))
    0.5
    >>> f.derivative_order, f.derivative_exponent
    (1, 1.0)
    >>> moe = ma.build_moe(f, ma.GridPartition(2, 8), expert="cpwl", k=2)
    >>> x = jnp.stack(jnp.meshgrid(*[jnp.linspace(0, 1, 101)] * 2), axis=-1)
    >>> bool(jnp.max(jnp.abs(f(x) - moe(x))) <= 3.5 / 16)   # cpwl bound C (h/k)^α, docs/theory.md §4.2
    True
    """

    fn: Callable
    n: int
    alpha: float
    constant: float
    name: str | None = None
    smoothness: float | None = None
    derivative_constant: float | None = None
    axis_constants: tuple | None = None
    _undetermined_constants: ClassVar[bool] = False  # True where alpha = constant = None may be left open

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"fn must be callable, got {type(self.fn).__name__}")
        object.__setattr__(self, "n", _check_dim(self.n))
        if not (self._undetermined_constants and self.alpha is None and self.constant is None):
            object.__setattr__(self, "alpha", _check_real("alpha", self.alpha, low=0.0, low_open=True, high=1.0))
            object.__setattr__(self, "constant", _check_real("constant", self.constant, low=0.0))
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"name must be a str or None, got {type(self.name).__name__}")
        if (self.smoothness is None) != (self.derivative_constant is None):
            raise ValueError("smoothness and derivative_constant must be given together (or both None)")
        if self.smoothness is not None:
            s = _check_real("smoothness", self.smoothness, low=1.0, low_open=True)
            object.__setattr__(self, "smoothness", s)
            object.__setattr__(self, "derivative_constant", _check_real("derivative_constant", self.derivative_constant, low=0.0))
        if self.axis_constants is not None:
            axes = np.asarray(self.axis_constants, dtype=np.float64) if not isinstance(self.axis_constants, str) else None
            if axes is None or axes.shape != (self.n,) or not np.all(np.isfinite(axes)) or np.any(axes < 0):
                raise ValueError(f"axis_constants must be {self.n} finite numbers >= 0, got {self.axis_constants!r}")
            object.__setattr__(self, "axis_constants", tuple(float(c) for c in axes))
        _check_traceable(self.fn, self.n)

    @property
    def derivative_order(self) -> int | None:
        """k = ⌈s⌉ − 1: the order of the partial derivatives that are Hölder (None if not smooth).

        Examples
        --------
        >>> from moe_approx import targets
        >>> targets.get("sine_product", n=2).derivative_order   # s = 3: second partials Lipschitz
        2
        """
        return None if self.smoothness is None else math.ceil(self.smoothness) - 1

    @property
    def derivative_exponent(self) -> float | None:
        """β = s − k ∈ (0, 1]: the Hölder exponent of the k-th partials (None if not smooth).

        Examples
        --------
        >>> from moe_approx import targets
        >>> targets.get("gaussian_bump", n=2).derivative_exponent
        1.0
        >>> targets.get("cone", n=2).derivative_exponent is None
        True
        """
        return None if self.smoothness is None else self.smoothness - self.derivative_order

    def __call__(self, x):
        """Evaluate f on points of shape (..., n); float64 in, float64 out of shape (...).

        Parameters
        ----------
        x : array_like
            Points, shape (..., n).

        Returns
        -------
        jax.Array
            f(x), shape (...).

        Raises
        ------
        ValueError
            If the last axis of ``x`` is not n, or ``fn`` does not return real values of shape (...).

        Examples
        --------
        >>> import numpy as np
        >>> from moe_approx import targets
        >>> f = targets.get("kink", n=2)
        >>> np.asarray(f(np.array([[1/3, 0.0], [1.0, 0.5]])))
        array([0.        , 0.66666667])
        """
        x = jnp.asarray(x if isinstance(x, jax.Array) else as_float_array(x), dtype=jnp.float64)
        if x.shape[-1:] != (self.n,):
            raise ValueError(f"x must have shape (..., {self.n}), got {x.shape}")
        y = self.fn(x)
        _check_output(jnp.shape(y), jnp.result_type(y), x.shape)
        return y

    def modulus(self, radius):
        """Hölder modulus ω(r) = C r^α: a bound on the change of f over ∞-distance r ≥ 0.

        Parameters
        ----------
        radius : array_like
            Distances r >= 0.

        Returns
        -------
        numpy.ndarray
            C r^α, the shape of ``radius``.

        Raises
        ------
        ValueError
            If a radius is negative or NaN, or (α, C) are undetermined (:func:`holder_constants`).

        Examples
        --------
        >>> from moe_approx import targets
        >>> float(targets.get("cusp", n=1).modulus(0.25))   # C = 1, α = 1/2
        0.5
        """
        alpha, constant = holder_constants(self, "modulus")
        radius = np.asarray(radius, dtype=np.float64)
        if np.any(~(radius >= 0)):
            raise ValueError("radius must be >= 0")
        return constant * np.power(radius, alpha)

    def taylor_remainder_bound(self, radius):
        """Bound on |f(x) − T_k(x)| for ‖x − x₀‖_∞ ≤ r, T_k the degree-k Taylor polynomial at x₀.

        Integral form of the remainder with the k-th partials (β, D)-Hölder (docs/theory.md §2):
        |f − T_k| ≤ D r^s Σ_{|γ|=k} (k/γ!) ∫₀¹ (1−t)^{k−1} t^β dt = D n^k r^s Γ(β+1)/Γ(s+1).

        Parameters
        ----------
        radius : array_like
            Max-norm distances r >= 0 from the expansion point.

        Returns
        -------
        numpy.ndarray
            D n^k r^s Γ(β+1)/Γ(s+1), the shape of ``radius``.

        Raises
        ------
        ValueError
            If the target declares no smoothness, or a radius is negative.

        Examples
        --------
        >>> from moe_approx import targets
        >>> f = targets.get("sine_product", n=1)      # s = 3, D = π³: bound π³ r³ Γ(2)/Γ(4)
        >>> float(f.taylor_remainder_bound(0.1) / (3.141592653589793**3 * 1e-3 / 6))
        1.0
        """
        if self.smoothness is None:
            raise ValueError(f"target {self.name or 'anonymous'} declares no smoothness")
        radius = np.asarray(radius, dtype=np.float64)
        if np.any(~(radius >= 0)):
            raise ValueError("radius must be >= 0")
        s, beta, k = self.smoothness, self.derivative_exponent, self.derivative_order
        factor = self.derivative_constant * self.n**k * math.gamma(beta + 1) / math.gamma(s + 1)
        return factor * np.power(radius, s)

    def __repr__(self):
        smooth = "" if self.smoothness is None else f", s={self.smoothness}, D={self.derivative_constant}"
        return f"HolderTarget({self.name or 'anonymous'}, n={self.n}, alpha={self.alpha}, C={self.constant}{smooth})"


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
def _first_axis(n: int, constant: float) -> tuple:
    """Per-axis constants (C, 0, …, 0) of a target that depends on x₁ alone."""
    return (constant,) + (0.0,) * (_check_dim(n) - 1)


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


def weierstrass_constant(a: float, b: float, terms: int, alpha: float) -> float:
    """sup_{0<δ≤1} δ^(−α) Σ_{j<terms} a^j min(2, π b^j δ): an α-Hölder constant of W on [0,1].

    W(t) = Σ_{j<terms} a^j cos(b^j π t) satisfies |W(s) − W(t)| ≤ Σ a^j min(2, π b^j |s − t|)
    (|cos u − cos v| ≤ min(2, |u − v|)). Between consecutive breakpoints δ_j = 2/(π b^j) that sum is
    Aδ + B (A, B ≥ 0), and δ^(−α)(Aδ + B) first decreases then increases (its derivative is
    δ^(−α−1)((1−α)Aδ − αB)), so the supremum is attained at a breakpoint in (0, 1] or at δ = 1.
    If a = b^(−α) < 1 it is at most π b^(1−α)/(b^(1−α) − 1) + 2/(1 − a) for any number of terms
    (split the sum at b^j δ ≈ 1).

    Parameters
    ----------
    a : float
        Amplitude ratio, a > 0.
    b : float
        Frequency ratio, b > 1.
    terms : int
        Number of terms, >= 1.
    alpha : float
        Hölder exponent in (0, 1].

    Returns
    -------
    float
        The bound on W's α-Hölder constant on [0, 1].

    Raises
    ------
    TypeError, ValueError
        If an argument is outside its range.

    Examples
    --------
    >>> from moe_approx import targets
    >>> round(targets.weierstrass_constant(0.25, 8.0, 6, 2 / 3), 4)
    5.9119
    >>> targets.weierstrass_constant(1.0, 2.0, 1, 1.0)   # cos(πt): |W'| <= π
    3.14159
    """
    a = _check_real("a", a, low=0.0, low_open=True)
    b = _check_real("b", b, low=1.0, low_open=True)
    alpha = _check_real("alpha", alpha, low=0.0, low_open=True, high=1.0)
    if isinstance(terms, bool) or not isinstance(terms, numbers.Integral) or terms < 1:
        raise ValueError(f"terms must be an integer >= 1, got {terms!r}")
    j = np.arange(terms)
    deltas = np.append(2.0 / (np.pi * b**j), 1.0)
    deltas = deltas[deltas <= 1.0]
    bound = (a**j * np.minimum(2.0, np.pi * b**j * deltas[:, None])).sum(axis=1) / deltas**alpha
    return float(bound.max())


@_register
def weierstrass(n: int) -> HolderTarget:
    """(1/n) Σ_i W(x_i), W(t) = Σ_{j=0}^{5} 4^(−j) cos(8^j π t). α = 2/3 (a b^α = 1), C ≈ 5.9119.

    C = :func:`weierstrass_constant` (1/4, 8, 6, 2/3) bounds W's (2/3)-Hölder constant (proof
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


from .formula import FormulaTarget, from_sympy  # noqa: E402,F401  (issue 15; formula.py imports this module)
