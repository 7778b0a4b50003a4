"""Numerical configuration: float64 everywhere (docs/theory.md §2), and a persistent cache of
compiled XLA kernels so that a new process does not compile the evaluator's kernels again.

The cache lives in ``$MOE_APPROX_JAX_CACHE`` (default ``~/.cache/moe_approx/jax``); set the variable to
an empty string to turn it off. A cache set up by the user's own ``jax.config`` is left alone. Every
executable is written, however fast it compiled (the kernels of a small problem compile in tenths of a
second each, and a new process would otherwise compile them all again).
"""

import os
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
DTYPE = "float64"

_cache = os.environ.get("MOE_APPROX_JAX_CACHE", str(Path.home() / ".cache" / "moe_approx" / "jax"))
if _cache and not jax.config.jax_compilation_cache_dir:
    jax.config.update("jax_compilation_cache_dir", _cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
