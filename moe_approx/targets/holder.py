"""Hölder targets: :class:`HolderTarget`, f on [0,1]^n that knows its (α, C) (docs/theory.md §2).

A target is (α, C)-Hölder on [0,1]^n: |f(x) − f(y)| ≤ C ‖x − y‖_∞^α. Every constant here is in
the ∞-norm: ‖x − y‖_2 ≤ √n ‖x − y‖_∞ and |w·(x − y)| ≤ ‖w‖_1 ‖x − y‖_∞, so a Euclidean-Lipschitz
function costs a factor √n and a sum of n one-dimensional Lipschitz terms a factor n. For a C¹
function on the convex cube the ∞-norm Lipschitz constant is sup_x ‖∇f(x)‖_1 (mean value theorem;
equality as y → x along sign ∇f).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import as_float_array


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
