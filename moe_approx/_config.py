"""Numerical configuration: float64 everywhere (docs/theory.md §2), and a persistent cache of
compiled XLA kernels so that a new process does not compile the evaluator's kernels again.

The cache lives in ``$MOE_APPROX_JAX_CACHE`` (default ``~/.cache/moe_approx/jax``); set the variable to
an empty string to turn it off. A cache set up by the user's own ``jax.config`` is left alone. Every
executable is written, however fast it compiled (the kernels of a small problem compile in tenths of a
second each, and a new process would otherwise compile them all again).

The library's kernels are jitted by :func:`kernel_jit`, with XLA's legacy CPU fusion emitters
(``COMPILER_OPTIONS``): they compile in about two thirds of the time of the default ones and ran as
fast once compiled (bench_supnorm cases 2–10), and a first call is mostly compilation. Other
backends ignore the option; an XLA without it gets the defaults.

The branch and bound runs with numpy's large arrays on ordinary pages (:func:`small_pages`).
"""

import os
from contextlib import contextmanager
from functools import partial, wraps
from pathlib import Path

import jax

try:
    from numpy._core import multiarray as _multiarray
except ImportError:  # numpy < 2
    from numpy.core import multiarray as _multiarray

jax.config.update("jax_enable_x64", True)
DTYPE = "float64"

_cache = os.environ.get("MOE_APPROX_JAX_CACHE", str(Path.home() / ".cache" / "moe_approx" / "jax"))
if _cache and not jax.config.jax_compilation_cache_dir:
    jax.config.update("jax_compilation_cache_dir", _cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _compiler_options() -> dict:
    options = {"xla_cpu_use_fusion_emitters": False}
    try:
        jax.jit(lambda x: x, compiler_options=options).lower(0.0).compile()
    except jax.errors.JaxRuntimeError:  # "No such compile option" in an XLA without it
        return {}
    return options


COMPILER_OPTIONS = _compiler_options()


try:
    from jax._src.core import trace_state_clean as _trace_state_clean
except ImportError:  # an internal name: without it, a trace is told by the arguments
    _trace_state_clean = None


def _tracing(args) -> bool:
    """Whether a JAX trace is under way (a kernel called inside another, where XLA options are not allowed):
    JAX's own test where this JAX has it, else whether an argument is a tracer."""
    if _trace_state_clean is not None:
        return not _trace_state_clean()
    return any(isinstance(a, jax.core.Tracer) for a in jax.tree_util.tree_leaves(args))


def kernel_jit(fun=None, **kwargs):
    """``jax.jit`` with ``COMPILER_OPTIONS`` where called at the top level (plain ``jax.jit`` inside another
    trace, which JAX requires); a decorator, with or without keywords (``static_argnums``…). The
    returned function keeps the top-level version's ``lower`` and ``_cache_size``."""
    if fun is None:
        return partial(kernel_jit, **kwargs)
    nested = jax.jit(fun, **kwargs)
    if not COMPILER_OPTIONS:
        return nested
    top = jax.jit(fun, compiler_options=COMPILER_OPTIONS, **kwargs)

    @wraps(fun)
    def call(*args, **kw):
        return (nested if _tracing((args, kw)) else top)(*args, **kw)

    call.lower, call._cache_size = top.lower, top._cache_size
    return call


@contextmanager
def small_pages():
    """numpy's new arrays on ordinary memory pages while the block runs, numpy's setting restored after.

    On Linux numpy asks for transparent huge pages for every array of 4 MiB or more. Where the kernel
    then compacts memory to find them (``defrag`` set to ``madvise``), each first touch of such an array
    can stall, and a branch and bound makes thousands of short-lived ones: a fresh process's first
    ``sup_error`` on bench_supnorm case 6 took 1.4–2.0 s with huge pages and 1.3 s without. Nothing
    changes where numpy lacks the switch."""
    get, set_ = (getattr(_multiarray, f"_{verb}_madvise_hugepage", None) for verb in ("get", "set"))
    if get is None or set_ is None:
        yield
        return
    previous = set_(False)
    try:
        yield
    finally:
        set_(previous)
