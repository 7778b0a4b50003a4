"""moe_approx: constructive approximation by mixtures of explicit (P)ReLU MLP experts.

Implements arXiv:2402.03460 (Kratsios et al.); the mathematics is in THEORY.md.
"""

from . import _config  # noqa: F401  (float64 before anything touches JAX)
from . import calculus, rates, targets
from .mlp import MLP
from .targets import HolderTarget

__version__ = "0.1.0"

__all__ = ["MLP", "HolderTarget", "calculus", "rates", "targets", "__version__"]
