"""Input validation shared by the public functions (every public function names the argument and the accepted range)."""

from __future__ import annotations

import numbers
import os

import jax
import numpy as np

from .mlp import MLP


def check_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, else ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_positive(value, name: str) -> float:
    """``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def is_traced(x) -> bool:
    """True inside ``jax.jit``/``jax.grad`` tracing, where values cannot be inspected."""
    return isinstance(x, jax.core.Tracer)


def as_float_array(x, name: str = "x") -> np.ndarray:
    """``x`` as a float64 numpy array, else ``TypeError`` naming ``name``."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__} ({err})") from None


def check_points(x, n: int, name: str = "x") -> np.ndarray | jax.Array:
    """Points of shape (..., n) in [0,1]^n with finite entries (checked unless traced)."""
    if is_traced(x):
        if x.shape[-1:] != (n,):
            raise ValueError(f"{name} must have shape (..., {n}), got {x.shape}")
        return x
    arr = as_float_array(x, name)
    if arr.ndim < 1 or arr.shape[-1] != n:
        raise ValueError(f"{name} must have shape (..., {n}) for dimension n={n}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(f"{name} must lie in the unit cube [0,1]^{n}; found values in [{arr.min()}, {arr.max()}]")
    return arr


def available_memory() -> int:
    """Bytes of memory available to this process (MemAvailable on Linux)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def check_memory(nbytes: float, what: str) -> None:
    """Refuse, before allocating, work whose estimate exceeds the available memory."""
    available = available_memory()
    if nbytes > available:
        raise MemoryError(
            f"{what} needs an estimated {nbytes / 2**30:.2f} GiB but only {available / 2**30:.2f} GiB is available"
        )


TARGET_ATTRIBUTES = ("fn", "n", "alpha", "constant", "smoothness", "derivative_constant")


def check_target(target, name: str = "target"):
    """``target`` if it is a HolderTarget (or has its attributes), else ``TypeError`` naming ``name``."""
    missing = [a for a in TARGET_ATTRIBUTES if not hasattr(target, a)]
    if missing or not callable(target):
        raise TypeError(
            f"{name} must be a HolderTarget (moe_approx.HolderTarget(fn, n, alpha, constant) or "
            f"moe_approx.targets.get(name, n=...)), got {type(target).__name__}"
            + (f" without {', '.join(missing)}" if missing and target is not None else "")
        )
    return target


def check_network(net, name: str = "moe"):
    """``net`` if it is a MixtureOfExperts or a single MLP, else ``TypeError`` naming ``name``.

    A mixture is recognised by what it holds (a partition and stacked MLP experts), so that this
    module, below the mixture, does not import it.
    """
    is_mixture = isinstance(getattr(net, "experts", None), MLP) and hasattr(net, "partition")
    if not (isinstance(net, MLP) or is_mixture):
        raise TypeError(f"{name} must be a MixtureOfExperts or an MLP, got {type(net).__name__}")
    return net
