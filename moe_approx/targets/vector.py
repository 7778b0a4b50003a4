"""Vector-valued targets f = (f_1, …, f_m) : [0,1]^n → R^m (docs/theory.md §5, vector targets).

A :class:`VectorTarget` is a tuple of m scalar targets on the same n (each a
:class:`~moe_approx.HolderTarget` or a formula target, with its own (α, C)). Its error is measured in
the ℓ∞ norm over components, ‖f − Φ‖ = max_j sup_x |f_j(x) − Φ_j(x)|, and everything is done
componentwise: one expert construction per component on the same cells, composed in parallel, and
one certificate per component (docs/theory.md §5, vector targets).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from .._checks import check_target


@dataclass(frozen=True, eq=False)
class VectorTarget:
    """f = (f_1, …, f_m) : [0,1]^n → R^m, given by m scalar targets on the same n.

    Parameters
    ----------
    components : sequence of HolderTarget
        The m >= 1 scalar targets f_j (library, user-defined or formula targets), all on one n.
    name : str, optional
        Name shown in reports; default ``"(name_1, …, name_m)"``.

    Raises
    ------
    TypeError
        If ``components`` is not a sequence of targets, or ``name`` is not a str.
    ValueError
        If ``components`` is empty or the components are defined on different n.

    Examples
    --------
    >>> import numpy as np
    >>> import moe_approx as ma
    >>> f = ma.targets.VectorTarget([ma.targets.get("cone", n=2), ma.targets.get("kink", n=2)])
    >>> f.n, f.m, f.name
    (2, 2, '(cone, kink)')
    >>> np.asarray(f(np.array([[0.5, 0.5], [1.0, 0.0]]))).shape      # (..., m)
    (2, 2)
    """

    components: tuple
    name: str | None = None

    def __post_init__(self):
        if isinstance(self.components, (str, bytes)) or not hasattr(self.components, "__iter__"):
            raise TypeError(f"components must be a sequence of targets, got {type(self.components).__name__}")
        components = tuple(self.components)
        if not components:
            raise ValueError("components must hold at least one target (m >= 1), got an empty sequence")
        for j, component in enumerate(components):
            if is_vector(component):
                raise TypeError(f"components[{j}] is itself a VectorTarget; pass its components")
            check_target(component, f"components[{j}]")
        dims = [component.n for component in components]
        if len(set(dims)) > 1:
            raise ValueError(f"components must all be defined on the same n, got n = {dims}")
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"name must be a str or None, got {type(self.name).__name__}")
        object.__setattr__(self, "components", components)
        if self.name is None:
            names = ", ".join(c.name or "anonymous" for c in components)
            object.__setattr__(self, "name", f"({names})")

    @property
    def n(self) -> int:
        """Input dimension n."""
        return self.components[0].n

    @property
    def m(self) -> int:
        """Number of outputs m."""
        return len(self.components)

    def fn(self, x):
        """(f_1(x), …, f_m(x)) stacked on a last axis: (..., n) → (..., m); JAX-traceable."""
        return jnp.stack([component.fn(x) for component in self.components], axis=-1)

    def __call__(self, x):
        """f(x) for points (..., n), checked by every component; shape (..., m).

        Parameters
        ----------
        x : array_like
            Points, shape (..., n).

        Returns
        -------
        jax.Array
            Shape (..., m).
        """
        return jnp.stack([component(x) for component in self.components], axis=-1)

    def __repr__(self):
        return f"VectorTarget({self.name}, n={self.n}, m={self.m}, components={list(self.components)!r})"


def is_vector(target) -> bool:
    """True for a :class:`VectorTarget` (or an object with its ``components`` and ``m``)."""
    return isinstance(target, VectorTarget) or (hasattr(target, "components") and hasattr(target, "m"))
