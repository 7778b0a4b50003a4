"""The library version (one place; ``moe_approx.__version__`` re-exports it)."""

__version__ = "0.1.0"
