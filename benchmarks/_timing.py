"""Timing shared by the benchmarks: best of a few runs after one warm-up (compile) run."""

import time

import jax


def best_time(fn, repeats=3):
    """Seconds of the fastest of ``repeats`` calls of ``fn`` (results blocked on), after a warm-up."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return min(times)
