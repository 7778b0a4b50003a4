"""Test helpers: cells and targets in generic position (no weight of an expert vanishes by
accident), and a plain-numpy forward pass independent of ``MLP.__call__``."""

import jax.numpy as jnp
import numpy as np

from moe_approx import targets


def generic_target(n, s=4.0):
    """exp(0.3 + sin(2.1 w·x)): smooth, no affine piece, no zero value; smoothness s declared."""
    w = np.array([0.7, -0.45, 0.6, -0.35, 0.55, -0.4][:n])
    return targets.HolderTarget(lambda x: jnp.exp(0.3 + jnp.sin(2.1 * x @ w)), n, 1.0, 3.0, "generic", s, 50.0)


def generic_cells(n, L=3, seed=0):
    """L boxes inside [0,1]^n whose corners share no coordinate."""
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0.05, 0.5, (L, n))
    return lo, lo + rng.uniform(0.1, 0.45, (L, n))


def evaluate(net, x):
    """A (stacked) network in plain numpy: (..., P, n) -> (..., P)."""
    h = np.asarray(x, dtype=np.float64)
    for l, (w, b) in enumerate(net.layers):
        h = h @ np.asarray(w) + np.expand_dims(np.asarray(b), -2)
        if l < len(net.slopes):
            h = np.maximum(h, 0) + np.expand_dims(np.asarray(net.slopes[l]), -2) * np.minimum(h, 0)
    return h[..., 0]
