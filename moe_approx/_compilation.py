"""What a call cost in compilation: XLA compilations, persistent-cache hits and seconds spent tracing,
lowering and compiling, counted from JAX's monitoring events while the call runs.

A compilation is a request for an XLA executable that the persistent cache (:mod:`moe_approx._config`)
did not serve; requests served from JAX's in-memory caches send no event and count as nothing, so a
second identical call in the same process reports 0 compilations.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from jax import monitoring

BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"  # one per executable requested (hit or not)
CACHE_HIT = "/jax/compilation_cache/cache_hits"
STAGES = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
          BACKEND_COMPILE)  # the spans whose union is compile_seconds


@dataclass
class Compilations:
    """Counts of one :func:`counting` block."""

    requests: int = 0  # executables requested from XLA (compiled or read from the persistent cache)
    cache_hits: int = 0
    spans: list = field(default_factory=list, repr=False)  # (start, end) of tracing, lowering, compiling

    @property
    def compilations(self) -> int:
        """Executables compiled (requests the persistent cache did not serve)."""
        return self.requests - self.cache_hits

    @property
    def compile_seconds(self) -> float:
        """Wall seconds spent tracing, lowering and compiling (or reading the cache): the measure of the
        union of those spans, so that nested traces count once."""
        total, reach = 0.0, -float("inf")
        for start, end in sorted(self.spans):
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total


@contextmanager
def counting():
    """Count compilations, persistent-cache hits and compile seconds while the block runs.

    Counts every compilation in the process during the block, other threads' included.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> f = jax.jit(lambda x: jnp.sin(x) * 3.0)
    >>> with counting() as first:
    ...     _ = f(jnp.arange(5.0))
    >>> with counting() as again:
    ...     _ = f(jnp.arange(5.0))
    >>> first.requests >= 1, again.requests, again.compile_seconds
    (True, 0, 0.0)
    """
    counts = Compilations()

    def on_event(event, **_):
        if event == CACHE_HIT:
            counts.cache_hits += 1

    def on_span(event, start, end, **_):
        if event in STAGES:
            counts.spans.append((start, end))
            counts.requests += event == BACKEND_COMPILE

    monitoring.register_event_listener(on_event)
    monitoring.register_event_time_span_listener(on_span)
    try:
        yield counts
    finally:
        monitoring.unregister_event_listener(on_event)
        monitoring.unregister_event_time_span_listener(on_span)


def reported(fn):
    """Decorate ``fn`` (returning a dataclass with ``compilations``, ``cache_hits`` and ``compile_seconds``)
    to fill those three fields from :func:`counting` around the call."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with counting() as counts:
            result = fn(*args, **kwargs)
        return replace(result, compilations=counts.compilations, cache_hits=counts.cache_hits,
                       compile_seconds=counts.compile_seconds)

    return wrapper
