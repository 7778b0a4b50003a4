"""Small random MLP experts stacked into a MixtureOfExperts, and an independent numpy evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import moe_approx as ma


def random_moe(rng, n: int, cells_per_side: int, widths=(6, 6), activation: str = "relu") -> ma.MixtureOfExperts:
    """One random (P)ReLU MLP R^n -> R of the given hidden widths per cell of a uniform grid."""
    part = ma.GridPartition(n, cells_per_side)
    L, dims = part.num_cells, (n, *widths, 1)
    layers = tuple((rng.standard_normal((L, a, b)) / np.sqrt(a), 0.5 * rng.standard_normal((L, b)))
                   for a, b in zip(dims[:-1], dims[1:]))
    if activation == "relu":
        slopes = tuple(np.zeros((L, w)) for w in widths)
    else:
        slopes = tuple(rng.uniform(-1.0, 1.0, (L, w)) for w in widths)
    return ma.MixtureOfExperts(part, ma.MLP(layers, slopes, activation))


def numpy_moe(moe: ma.MixtureOfExperts, x: np.ndarray) -> np.ndarray:
    """Φ(x) for points (N, n) of a grid-partition MoE, in plain numpy (routing by floor(x K))."""
    K = moe.partition.cells_per_side
    idx = np.minimum(np.floor(x * K).astype(np.int64), K - 1)
    cell = np.ravel_multi_index(tuple(idx.T), (K,) * moe.n)
    h = x
    for l, (w, b) in enumerate(moe.experts.layers):
        w, b = np.asarray(w), np.asarray(b)
        h = np.einsum("pd,pde->pe", h, w[cell]) + b[cell]
        if l < len(moe.experts.slopes):
            a = np.asarray(moe.experts.slopes[l])[cell]
            h = np.maximum(h, 0.0) + a * np.minimum(h, 0.0)
    return h[:, 0]


def dense_grid(n: int, per_side: int) -> np.ndarray:
    """The (per_side + 1)^n points j / per_side of [0,1]^n, shape (N, n)."""
    t = np.arange(per_side + 1) / per_side
    return np.stack(np.meshgrid(*([t] * n), indexing="ij"), axis=-1).reshape(-1, n)


def on_host_devices(body: str, counts=(1, 4)) -> list:
    """Run ``body`` in a fresh process per count of XLA host devices
    (``--xla_force_host_platform_device_count``), after ``import json, numpy as np, jax, moe_approx as ma``
    and ``from nets import random_moe``; ``body`` prints one JSON value on its last line. Returns them."""
    header = (f"import json, sys\nimport numpy as np, jax\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
              "import moe_approx as ma\nfrom nets import random_moe\n")
    out = []
    for count in counts:
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={count}")
        run = subprocess.run([sys.executable, "-c", header + body], env=env, capture_output=True, text=True, check=True)
        out.append(json.loads(run.stdout.strip().splitlines()[-1]))
    return out
