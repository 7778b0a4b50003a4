"""Numerical configuration: float64 everywhere (DESIGN.md, Conventions)."""

import jax

jax.config.update("jax_enable_x64", True)
DTYPE = "float64"
