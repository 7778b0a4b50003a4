"""moe_approx: constructive approximation by mixtures of explicit (P)ReLU MLP experts.

Implements arXiv:2402.03460 (Kratsios et al.); the mathematics is in docs/theory.md.
"""

from . import _config  # noqa: F401  (float64 before anything touches JAX)
from . import calculus, certify, experts, formula, io, rates, targets  # formula: the alias of targets.formula
from .approximate import ApproximationError, Certificate, approximate
from .assumptions import AssumptionError, Assumptions, check_assumptions
from .mlp import MLP
from .io import load
from .onnx_io import from_onnx, to_onnx
from .moe import MixtureOfExperts, as_mixture, build_moe
from .partition import DyadicPartition, GridPartition, PrototypePartition
from .certify import SupErrorReport, sup_error
from .targets import HolderTarget, VectorTarget

from ._version import __version__


def __getattr__(name):
    """``moe_approx.train`` is imported on first use (it pulls in optax)."""
    if name == "train":
        import importlib

        return importlib.import_module(f"{__name__}.train")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "MLP",
    "HolderTarget",
    "VectorTarget",
    "MixtureOfExperts",
    "GridPartition",
    "DyadicPartition",
    "PrototypePartition",
    "SupErrorReport",
    "ApproximationError",
    "Certificate",
    "AssumptionError",
    "Assumptions",
    "check_assumptions",
    "build_moe",
    "as_mixture",
    "load",
    "from_onnx",
    "to_onnx",
    "approximate",
    "sup_error",
    "calculus",
    "certify",
    "experts",
    "io",
    "train",
    "rates",
    "targets",
    "__version__",
]
