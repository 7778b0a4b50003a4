"""The Kuhn-piece bound of cpwl experts (docs/theory.md §5, Kuhn pieces): sound against dense sampling
plus local search on random boxes (faces and sub-cube boundaries included), a closed form inside the
bracket, and used only for experts whose label is checked."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moe_approx as ma
from moe_approx import formula
from moe_approx.certify import box_bounds
from moe_approx.certify.kuhn import KuhnPieces, kuhn_pieces


def worst_error(f, net, lo, hi, rng, samples=200, steps=40):
    """max |f − Φ| on the box [lo, hi]: its corners, random points, then a shrinking random local search
    from the best few."""
    n = lo.shape[0]
    corners = np.where((np.arange(2**n)[:, None] >> np.arange(n)) & 1, hi, lo)
    x = np.concatenate([corners, lo + rng.random((samples, n)) * (hi - lo)])

    def err(x):
        return np.abs(np.asarray(f(x)) - np.asarray(net(jnp.asarray(x)))[:, 0])

    e = err(x)
    best = x[np.argsort(e)[-4:]]
    step = 0.25 * (hi - lo)
    for _ in range(steps):
        trial = np.clip(best[:, None] + step * rng.uniform(-1, 1, (4, 8, n)), lo, hi).reshape(-1, n)
        te = err(trial).reshape(4, 8)
        better = te.max(1) > err(best)
        best[better] = trial.reshape(4, 8, n)[better, te[better].argmax(1)]
        step = step * 0.93
    return max(e.max(), err(best).max())


def expert(moe, cell):
    """The expert of one cell (per-cell arrays indexed, shared hidden layers kept)."""
    return jax.tree_util.tree_map(lambda w: np.asarray(w)[cell] if np.ndim(w) >= 2 and np.shape(w)[0] == moe.num_experts
                                  else w, moe.experts)


def random_boxes(rng, moe, count, k):
    """Boxes inside cells: random, thin, and boxes with an end on a sub-grid node or a cell face."""
    lo_c, hi_c = moe.partition.all_bounds()
    cell = rng.integers(moe.num_experts, size=count)
    width = hi_c[cell] - lo_c[cell]
    a, b = np.sort(rng.random((2, count, moe.n)), axis=0)
    b[: count // 3] = a[: count // 3] + 0.05 * (b - a)[: count // 3]
    node = rng.integers(0, k + 1, (count, moe.n)) / k  # a sub-grid node, in cell units
    snap = rng.random((count, moe.n)) < 0.3
    a = np.where(snap, np.maximum(node - 0.01 * rng.random((count, moe.n)), 0), a)
    b = np.where(snap, np.maximum(np.minimum(node + 0.01 * rng.random((count, moe.n)), 1), a), b)
    return cell, lo_c[cell] + a * width, np.minimum(lo_c[cell] + b * width, hi_c[cell])


TARGETS = {"gaussian_bump": lambda n: ma.targets.get("gaussian_bump", n=n),
           "sine_product": lambda n: ma.targets.get("sine_product", n=n),
           "cone": lambda n: ma.targets.get("cone", n=n),
           "sine_product formula": lambda n: formula.library("sine_product", n),
           "cone formula": lambda n: formula.library("cone", n),
           "kink formula": lambda n: formula.from_sympy("abs(x1 - 1/3) + x2**2", n, name="kink2")}


@settings(max_examples=8, deadline=None)
@given(n=st.integers(2, 4), K=st.integers(1, 3), k=st.integers(1, 3), target=st.sampled_from(sorted(TARGETS)),
       activation=st.sampled_from(["relu", "prelu"]), seed=st.integers(0, 2**31))
def test_kuhn_bound_is_sound_on_random_boxes(n, K, k, target, activation, seed):
    """Random boxes of cpwl mixtures (ReLU and PReLU, k = 1..3, so sub-cube faces that no bisection
    hits): the Kuhn bound is at least the worst |f − Φ| found by dense sampling and local search."""
    rng = np.random.default_rng(seed)
    f = TARGETS[target](n)
    moe = ma.build_moe(f, ma.GridPartition(n, K if n < 4 else min(K, 2)), expert="cpwl", activation=activation, k=k)
    cell, lo, hi = random_boxes(rng, moe, 6, k)
    bounds = np.minimum(box_bounds(f, moe, cell, lo, hi, "kuhn"), box_bounds(f, moe, cell, lo, hi, "auto"))
    for j in range(len(cell)):
        assert bounds[j] >= worst_error(f, expert(moe, cell[j]), lo[j], hi[j], rng) * (1 - 1e-12), (j, lo[j], hi[j])


@pytest.mark.parametrize("K, k", [(1, 1), (2, 2), (3, 1)])
def test_closed_form_of_x1_x2_is_inside_the_certified_bracket(K, k):
    """f = x₁x₂: on a sub-square of side δ = 1/(Kk) the linear part of f is reproduced and the
    interpolant of t₁t₂ on the Kuhn triangles (split along the diagonal) is min(t₁, t₂), so
    sup |f − Φ| = δ² max(min(t) − t₁t₂) = δ²/4, attained on the diagonal: a kink of f − Φ."""
    f = formula.from_sympy("x1*x2", 2, name="product")
    moe = ma.build_moe(f, ma.GridPartition(2, K), expert="cpwl", k=k)
    exact = 0.25 / (K * k) ** 2
    report = ma.sup_error(f, moe, rtol=1e-4, progress=False)
    assert report.lower <= exact <= report.upper and report.certified


def test_kuhn_bound_is_tighter_than_the_networks_affine_form():
    """On boxes of side 1/64 that cross Kuhn simplices, the affine form of the n = 4 hat network relaxes
    its crossing ReLUs while the Kuhn bound keeps Φ exact: its excess over the worst sampled error is
    several times smaller (median over 12 boxes; measured about 5 times)."""
    f = ma.targets.get("gaussian_bump", n=4)
    moe = ma.build_moe(f, ma.GridPartition(4, 2), expert="cpwl")
    rng = np.random.default_rng(1)
    x = 0.5 + 0.3 * (rng.random((12, 4)) - 0.5)
    cell = moe.partition.locate(x)
    lo_c, hi_c = moe.partition.all_bounds()
    lo, hi = np.maximum(x - 1 / 128, lo_c[cell]), np.minimum(x + 1 / 128, hi_c[cell])
    kuhn, affine = (box_bounds(f, moe, cell, lo, hi, m) for m in ("kuhn", "affine"))
    worst = np.array([worst_error(f, expert(moe, c), lo[j], hi[j], rng, 200, 30) for j, c in enumerate(cell)])
    assert np.all(kuhn >= worst) and np.median((affine - worst) / (kuhn - worst)) > 2.5


def test_kuhn_bound_needs_checked_cpwl_experts():
    """Other families, n = 1 and a mixture labelled cpwl whose weights are not the construction: no
    Kuhn bound (bound='kuhn' raises; 'auto' falls back, with a warning for the false label)."""
    f = ma.targets.get("cone", n=2)
    with pytest.raises(ValueError, match="kuhn"):
        ma.sup_error(f, ma.build_moe(f, ma.GridPartition(2, 2), expert="constant"), bound="kuhn")
    with pytest.raises(ValueError, match="kuhn"):
        ma.sup_error(ma.targets.get("cone", n=1), ma.build_moe(ma.targets.get("cone", n=1), ma.GridPartition(1, 2),
                                                                expert="cpwl"), bound="kuhn")
    honest = ma.build_moe(f, ma.GridPartition(2, 2), expert="cpwl")
    w, b = (np.asarray(a) for a in honest.experts.layers[0])  # the first layer scaled: not the construction
    net = ma.MLP(((3 * w, 3 * b),) + tuple(honest.experts.layers[1:]), honest.experts.slopes, honest.experts.activation)
    liar = ma.MixtureOfExperts.from_experts(honest.partition, net, family="cpwl", size=honest.size)
    with pytest.warns(UserWarning, match="not that construction"), pytest.raises(ValueError, match="kuhn"):
        ma.sup_error(f, liar, bound="kuhn")


@pytest.mark.parametrize("n, k, activation", [(2, 3, "relu"), (3, 2, "prelu"), (4, 1, "relu")])
def test_centre_values_from_the_pieces_match_the_network(n, k, activation):
    """Φ(c) from the pieces (the point kernel's, for cpwl) against the network's float64 forward pass,
    at random points, sub-grid nodes and cell faces: within the pieces' error bound plus the network's
    own rounding bound δ_l; the per-cell bound ``centre_error`` is at least each point's δ."""
    from moe_approx.lipschitz import cell_constants
    f = ma.targets.get("sine_product", n=n)
    moe = ma.build_moe(f, ma.GridPartition(n, 3), expert="cpwl", activation=activation, k=k)
    lo, hi = moe.partition.all_bounds()
    pieces = KuhnPieces(*jax.device_put(list(kuhn_pieces(moe.experts, lo, hi, k))))
    lip, delta = cell_constants(moe.experts, lo, hi)
    rng = np.random.default_rng(n)
    cell = rng.integers(moe.num_experts, size=300)
    u = np.where(rng.random((300, n)) < 0.4, rng.integers(0, k + 1, (300, n)) / k, rng.random((300, n)))
    x = lo[cell] + u * (hi - lo)[cell]
    phi, err = (np.asarray(a) for a in pieces.evaluate_centres(jnp.asarray(cell), jnp.asarray(x), jnp.asarray(lip[cell])))
    network = np.array([np.asarray(expert(moe, c)(jnp.asarray(p[None])))[0, 0] for c, p in zip(cell, x)])
    assert np.all(np.abs(phi - network) <= err + delta[cell])
    assert np.all(err < 1e-10)  # the bound is at the scale of float64 rounding, not a blanket tolerance
    host = kuhn_pieces(moe.experts, lo, hi, k)  # the per-cell δ (the resolution's) covers every point's
    assert np.all(err <= host.centre_error(lip)[cell])


def test_rounding_term_is_small_and_positive():
    """η_l (the fused first layer's rounding carried to the output, and the cell map's at the faces) is
    positive and at the scale of float64 rounding of |node values|."""
    f = ma.targets.get("gaussian_bump", n=3)
    moe = ma.build_moe(f, ma.GridPartition(3, 3), expert="cpwl")
    lo, hi = moe.partition.all_bounds()
    eta = np.asarray(kuhn_pieces(moe.experts, lo, hi, 2).eta)
    assert np.all(eta > 0) and np.all(eta < 1e-11)
