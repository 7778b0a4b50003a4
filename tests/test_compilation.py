"""Compilation reporting (issue 19): counts from JAX's monitoring events, in-process and across processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import moe_approx as ma
from moe_approx._ascent import _accept, _propose, climb
from moe_approx._compilation import Compilations, counting
from moe_approx.boxes import covering_box
from moe_approx.certify import family_of
from moe_approx.certify.evaluator import _Evaluator
from moe_approx.certify.kernels import _point_kernel
from moe_approx.lipschitz import cell_bucket


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


def test_one_climb_compiles_each_step_once():
    S = 600  # starts padded to 1024: a shape no other test uses
    z = np.random.default_rng(0).random((2 * S, 2))
    lo, hi = np.zeros_like(z), np.ones_like(z)
    before = _propose._cache_size(), _accept._cache_size()
    climb(lambda x: jnp.sum(jnp.sin(3 * x)), z, lo, hi, 1e-6, 1.0, 0, True, 3)
    assert (_propose._cache_size(), _accept._cache_size()) == (before[0] + 1, before[1] + 1)
    climb(lambda x: jnp.sum(jnp.cos(x)), z, lo, hi, 1e-6, 0.5, 0, False, 3)  # other fn, flags, exponent
    assert (_propose._cache_size(), _accept._cache_size()) == (before[0] + 1, before[1] + 1)


def test_cell_bucket():
    for cells in range(1, 20000, 7):
        b = cell_bucket(cells)
        assert b >= cells and b & (b - 1) == 0 and b >= 64
        assert b <= max(64, 4 * cells) and (b <= 2**12 and b.bit_length() % 2 == 1 or b < 2 * cells)


def test_cell_counts_in_one_bucket_share_the_kernels():
    f = _fresh_cone()
    sizes = []
    for side in (9, 10):  # 81 and 100 cells: both compiled for 256
        moe = ma.build_moe(f, ma.GridPartition(2, side), expert="cpwl")
        lo, hi = moe.partition.all_bounds()
        evaluate = _Evaluator(f, moe.experts, lo, hi)
        cell = np.arange(50) % moe.num_experts
        centre, radius = (lo[cell] + hi[cell]) / 2, (hi[cell] - lo[cell]) / 2
        fc, phi = evaluate.points(cell, centre, radius)[:2]
        np.testing.assert_array_equal(phi, np.asarray(moe(centre)))  # the padded stack: the same experts
        sizes.append(_point_kernel._cache_size())
    assert sizes[1] == sizes[0]


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


@pytest.mark.parametrize("internal", [True, False], ids=["jax_trace_state", "tracer_arguments"])
def test_kernel_jit_compiles_at_the_top_level_and_inlines_inside_a_trace(internal, monkeypatch):
    """The library's kernels get COMPILER_OPTIONS where JAX allows them (a top-level call) and plain
    jax.jit inside another trace (where options raise): both give the plain jit's floats, whether the
    trace is told by JAX's internal test or, without it, by the arguments."""
    if not internal:
        monkeypatch.setattr(ma._config, "_trace_state_clean", None)
    from moe_approx._config import COMPILER_OPTIONS, kernel_jit

    assert COMPILER_OPTIONS in ({}, {"xla_cpu_use_fusion_emitters": False})
    f = kernel_jit(lambda x, k: jnp.sin(k * x) / (1 + x * x), static_argnums=1)
    x = jnp.linspace(-2.0, 2.0, 33)
    want = np.asarray(jax.jit(lambda x: jnp.sin(3 * x) / (1 + x * x))(x))
    np.testing.assert_array_equal(np.asarray(f(x, 3)), want)
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda y: f(y, 3) + 1.0)(x)), want + 1.0)
    assert f.lower(x, 3).compile() is not None and f._cache_size() >= 1


@pytest.mark.parametrize("expert, size, bound", [("cpwl", {}, "kuhn"), ("yarotsky", {"m": 2}, "affine"),
                                                 ("yarotsky", {"m": 2}, "linear")])
def test_second_bounds_take_the_point_kernels_enclosures(expert, size, bound, rng):
    """For a formula the evaluator hands the point kernel's enclosures of f (and ∇f's, from a call of its own)
    to the second-bound kernel: the bound is the one the kernel computes with every enclosure inlined."""
    f = ma.targets.from_sympy("sin(3*x1)*x2 + abs(x1 - 1/3)", n=2)
    moe = ma.build_moe(ma.formula.library("sine_product", 2), ma.GridPartition(2, 3), expert=expert, **size)
    lo, hi = moe.partition.all_bounds()
    evaluate = _Evaluator(f, moe.experts, lo, hi, family_of(moe), moe.size, bound)
    cell = rng.integers(0, moe.num_experts, 40)
    box_lo = lo[cell] + rng.uniform(0, 0.5, (40, 2)) * (hi[cell] - lo[cell])
    box_hi = box_lo + rng.uniform(0, 0.5, (40, 2)) * (hi[cell] - lo[cell])
    centre, radius = covering_box(box_lo, box_hi)
    fc, _, _, _, known, _, _ = evaluate.points(cell, centre, radius)
    assert known.shape == (40, 5)
    handed = evaluate.affine(cell, centre, radius, fc, known)
    inlined = evaluate.affine(cell, centre, radius, fc, None)
    assert np.all(np.isfinite(handed[known[:, 2] > 0]))
    np.testing.assert_array_equal(handed, inlined)
