"""Per-cell Lipschitz and rounding bounds of experts (docs/theory.md §5): sound against sampled slopes,
exact for CPwL experts, zero for constant experts."""

import itertools
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moe_approx as ma
from moe_approx import experts
from moe_approx.lipschitz import cell_constants

sys.path.insert(0, str(Path(__file__).parent))
from nets import numpy_moe, random_moe  # noqa: E402


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4), activation=st.sampled_from(["relu", "prelu"]))
def test_weight_bound_is_never_below_a_sampled_slope(seed, n, activation):
    """|Φ(x) − Φ(y)| <= Λ‖x − y‖_∞ + 2δ for random pairs inside each cell of random (P)ReLU mixtures."""
    rng = np.random.default_rng(seed)
    moe = random_moe(rng, n, 2, (6, 5), activation)
    lo, hi = moe.partition.all_bounds()
    lip, delta = cell_constants(moe.experts, lo, hi)
    cells = np.repeat(np.arange(moe.num_experts), 400)
    x = lo[cells] + (hi - lo)[cells] * rng.random((len(cells), n))
    y = np.clip(x + (hi - lo)[cells] * rng.uniform(-0.2, 0.2, x.shape), lo[cells], np.nextafter(hi[cells], 0))
    diff = np.abs(numpy_moe(moe, x) - numpy_moe(moe, y))
    assert np.all(diff <= lip[cells] * np.max(np.abs(x - y), axis=1) * (1 + 1e-12) + 2 * delta[cells] + 1e-15)
    assert np.all(delta > 0) and np.all(delta < 1e-12)


def simplex_points(lo, hi, k):
    """One interior point of every Kuhn simplex of every sub-cube of each cell: (L, k^n n!, n)."""
    n = lo.shape[1]
    t = np.arange(n, 0, -1) / (n + 1)  # 1 > t_1 > … > t_n > 0: coordinate π(i) gets t_i
    local = []
    for corner in itertools.product(range(k), repeat=n):
        for perm in itertools.permutations(range(n)):
            z = np.array(corner, float)
            z[list(perm)] += t
            local.append(z / k)
    local = np.array(local)
    return lo[:, None, :] + local[None] * (hi - lo)[:, None, :]


@pytest.mark.parametrize("n, K, k, name", [(1, 6, 3, "cusp"), (2, 4, 2, "linf_distance"), (2, 3, 3, "gaussian_bump"),
                                           (3, 2, 2, "sine_product")])
@pytest.mark.parametrize("activation", ["relu", "prelu"])
def test_cpwl_constant_is_exact(n, K, k, name, activation):
    """Λ_l = the largest ‖∇Φ_l‖_1 over the simplices, evaluated by autodiff at one interior point of each."""
    f = ma.targets.get(name, n=n)
    moe = ma.build_moe(f, ma.GridPartition(n, K), expert="cpwl", activation=activation, k=k)
    lo, hi = moe.partition.all_bounds()
    lip, _ = cell_constants(moe.experts, lo, hi, experts.get("cpwl"), moe.size)
    x = jnp.asarray(simplex_points(lo, hi, k))
    grad = jax.grad(lambda z: jnp.sum(moe.apply_blocked(z)))(x)
    measured = np.asarray(jnp.max(jnp.sum(jnp.abs(grad), -1), axis=1))
    np.testing.assert_allclose(lip, measured, rtol=1e-9)
    assert np.all(lip >= measured)


def test_constant_experts_have_zero_lipschitz_constant():
    f = ma.targets.get("cone", n=3)
    moe = ma.build_moe(f, ma.GridPartition(3, 3), expert="constant")
    lip, delta = cell_constants(moe.experts, *moe.partition.all_bounds())
    assert np.all(lip == 0) and np.all(delta >= 0)


def test_reported_constants_and_dead_neurons():
    """A ReLU neuron that is off on the whole cell contributes nothing: Φ(x) = σ(x − 2) + x has Λ = 1 on [0,1]."""
    layers = ((np.array([[[1.0, 1.0]]]), np.array([[-2.0, 0.0]])), (np.array([[[1.0], [1.0]]]), np.array([[0.0]])))
    moe = ma.MixtureOfExperts(ma.GridPartition(1, 1), ma.MLP(layers, (np.zeros((1, 2)),)))
    report = ma.sup_error(ma.HolderTarget(lambda x: 0 * x[..., 0], 1, 1.0, 0.0), moe, rtol=1e-6)
    assert report.lipschitz[0] == pytest.approx(1.0, rel=1e-12) and report.lipschitz[0] >= 1.0
    assert report.lower <= 1.0 <= report.upper and report.certified
