"""Compilation reporting (issue 19): counts from JAX's monitoring events, in-process and across processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

import moe_approx as ma
from moe_approx._compilation import Compilations, counting


def test_compile_seconds_is_the_union_of_the_spans():
    counts = Compilations(spans=[(0.0, 1.0), (0.5, 2.0), (0.25, 0.75), (3.0, 3.5)])
    assert counts.compile_seconds == 2.5


def test_counting_sees_a_new_shape_and_not_a_cached_one():
    f = jax.jit(lambda x: jnp.cos(x) - x)
    with counting() as first:
        f(jnp.zeros(7))
    with counting() as again:
        f(jnp.ones(7))
    with counting() as other:
        f(jnp.zeros(9))
    assert first.requests >= 1 and first.compile_seconds > 0
    assert (again.requests, again.cache_hits, again.spans) == (0, 0, [])
    assert other.requests >= 1


def _fresh_cone():
    base = ma.targets.get("cone", n=2)
    return ma.HolderTarget(lambda x: base.fn(x) + 0.0, 2, base.alpha, base.constant, "cone (a new function)")


def test_second_identical_call_compiles_nothing():
    f = _fresh_cone()
    moe = ma.build_moe(f, ma.GridPartition(2, 2), expert="cpwl")
    first = ma.sup_error(f, moe, rtol=1e-2)
    second = ma.sup_error(f, moe, rtol=1e-2)
    assert first.compilations + first.cache_hits >= 1  # a new target: its kernels are new
    assert first.compile_seconds > 0
    assert (second.compilations, second.cache_hits, second.compile_seconds) == (0, 0, 0.0)
    assert (second.lower, second.upper) == (first.lower, first.upper)


SCRIPT = """
import json, moe_approx as ma
f = ma.targets.get("cone", n=2)
r = ma.sup_error(f, ma.build_moe(f, ma.GridPartition(2, 2), expert="cpwl"), rtol=1e-2)
print(json.dumps([r.compilations, r.cache_hits]))
"""


@pytest.mark.slow
def test_a_fresh_process_reads_the_persistent_cache(tmp_path):
    env = dict(os.environ, MOE_APPROX_JAX_CACHE=str(tmp_path), PYTHONPATH=str(Path(ma.__file__).parents[1]))

    def run():
        out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, capture_output=True, text=True)
        return json.loads(out.stdout.splitlines()[-1])

    cold = run()
    assert cold[0] >= 1 and any(tmp_path.iterdir())  # compiled and written to the cache
    warm = run()
    assert warm[1] >= 1 and warm[0] < cold[0]  # a new process reads what the first one compiled
