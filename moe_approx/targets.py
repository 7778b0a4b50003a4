"""Hölder target functions that know their (α, C) (THEORY.md §2).

A target is (α, C)-Hölder on [0,1]^n: |f(x) − f(y)| ≤ C ‖x − y‖_∞^α. Each library target
proves its pair in its docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True, eq=False)
class HolderTarget:
    """f : [0,1]^n → R with |f(x) − f(y)| ≤ constant · ‖x − y‖_∞^alpha.

    ``fn`` is JAX-traceable and maps arrays of shape (..., n) to (...). ``smoothness`` is
    s = k + α when the k-th derivatives are (α, ``derivative_constant``)-Hölder (for Taylor
    experts); ``None`` when only the Hölder bound is known.
    """

    fn: Callable
    n: int
    alpha: float
    constant: float
    name: str | None = None
    smoothness: float | None = None
    derivative_constant: float | None = None

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"fn must be callable, got {type(self.fn).__name__}")
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 1:
            raise ValueError(f"n must be an integer >= 1, got {self.n!r}")
        if not (isinstance(self.alpha, (int, float)) and 0 < self.alpha <= 1):
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha!r}")
        if not (isinstance(self.constant, (int, float)) and math.isfinite(self.constant) and self.constant >= 0):
            raise ValueError(f"constant must be a finite number >= 0, got {self.constant!r}")
        if self.smoothness is not None and not self.smoothness >= self.alpha:
            raise ValueError(f"smoothness must be >= alpha, got {self.smoothness!r}")
        object.__setattr__(self, "n", int(self.n))

    def __call__(self, x):
        """Evaluate f on points of shape (..., n)."""
        x = jnp.asarray(x)
        if x.shape[-1:] != (self.n,):
            raise ValueError(f"x must have shape (..., {self.n}), got {x.shape}")
        return self.fn(x)

    def modulus(self, radius):
        """Hölder modulus ω(r) = C r^α: the largest change of f over ∞-distance r."""
        return self.constant * np.power(radius, self.alpha)

    def __repr__(self):
        return f"HolderTarget({self.name or 'anonymous'}, n={self.n}, alpha={self.alpha}, C={self.constant})"


_LIBRARY: dict[str, Callable[[int], HolderTarget]] = {}


def _register(factory):
    _LIBRARY[factory.__name__] = factory
    return factory


@_register
def cone(n: int) -> HolderTarget:
    """1 − ‖x − c‖_∞ around the centre c = (1/2, …, 1/2): Lipschitz in ‖·‖_∞ with C = 1 (triangle inequality)."""
    c = 0.5
    return HolderTarget(lambda x: 1.0 - jnp.max(jnp.abs(x - c), axis=-1), n, 1.0, 1.0, "cone")


def names() -> list[str]:
    """Names accepted by :func:`get`."""
    return sorted(_LIBRARY)


def get(name: str, n: int = 1) -> HolderTarget:
    """The library target ``name`` on [0,1]^n."""
    if name not in _LIBRARY:
        raise ValueError(f"unknown target {name!r}; accepted: {names()}")
    return _LIBRARY[name](n)
