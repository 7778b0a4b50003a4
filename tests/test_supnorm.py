"""Certified sup-norm evaluator (docs/theory.md §5): brackets against closed forms and dense numpy grids."""

import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moe_approx as ma
from moe_approx.boxes import covering_box, split
from moe_approx.certify import driver, evaluator, state

sys.path.insert(0, str(Path(__file__).parent))
from nets import dense_grid, numpy_moe, on_host_devices, random_moe  # noqa: E402


def assert_bracket(report, truth, rtol):
    """lower <= truth <= upper (lower up to float rounding of the evaluated point) and rtol met."""
    assert report.lower <= truth * (1 + 1e-13) + 1e-15
    assert report.upper >= truth
    assert report.certified
    assert report.upper - report.lower <= rtol * report.lower + report.atol


@pytest.mark.parametrize("n, K", [(1, 5), (2, 4), (3, 2)])
def test_constant_expert_on_cone(n, K):
    """Constant experts on the cone 1 − ‖x − ½‖_∞: the error is exactly C·h/2 (docs/theory.md §4.1)."""
    f = ma.targets.get("cone", n=n)
    moe = ma.build_moe(f, ma.GridPartition(n, K))
    report = ma.sup_error(f, moe, rtol=1e-3)
    assert_bracket(report, 1 / (2 * K), 1e-3)
    assert report.cell_upper.shape == report.cell_lower.shape == (K**n,)
    assert np.all(report.cell_lower <= report.cell_upper)
    assert report.upper == report.cell_upper.max() and report.lower == report.cell_lower.max()
    splits = (report.evaluations - report.probe_evaluations - K**n) // 2**n  # cubes split into 2^n children
    assert report.boxes == K**n + (2**n - 1) * splits


def test_affine_expert_is_exact_on_affine_target():
    """A one-cell MoE whose expert is the affine target itself: error 0. No relative bracket can be
    certified around 0; the report says float64 resolution stopped it (issue 18 item 3)."""
    f = ma.targets.get("affine", n=3)
    w = np.array([1 / 3, -2 / 3, 1.0])
    experts = ma.calculus.affine(w[:, None], np.array([0.25]))
    net = ma.MLP(tuple((a[None], b[None]) for a, b in experts.layers), (), "relu")
    report = ma.sup_error(f, ma.MixtureOfExperts(ma.GridPartition(3, 1), net), rtol=1e-3)
    assert report.lower <= 1e-15 and not report.certified and report.limited_by == "float64"
    assert report.upper <= report.resolution < 1e-13  # the float64 resolution of f − Φ, not of |f|


def one_expert(net, n):
    """A single network as the MoE of the one-cell grid."""
    stacked = ma.MLP(tuple((np.asarray(w)[None], np.asarray(b)[None]) for w, b in net.layers),
                     tuple(np.asarray(a)[None] for a in net.slopes), net.activation)
    return ma.MixtureOfExperts(ma.GridPartition(n, 1), stacked)


# x² and xy on the unit cube: (1, 2)-Hölder; gradients (2x) and (y, x) are 2- and 1-Lipschitz (s = 2)
SQUARE = ma.HolderTarget(lambda x: x[..., 0] ** 2, 1, 1.0, 2.0, "square", 2.0, 2.0)
PRODUCT = ma.HolderTarget(lambda x: x[..., 0] * x[..., 1], 2, 1.0, 2.0, "product", 2.0, 1.0)


@pytest.mark.parametrize("activation", ["relu", pytest.param("prelu", marks=pytest.mark.slow)])
def test_yarotsky_square_and_product(activation):
    """‖f_m − x²‖ = 2^(−2m−2) and sup|P_m − xy| = 2^(−2m−1) (docs/theory.md §4.3) lie in certified brackets."""
    from moe_approx.experts.yarotsky import product_network, square_network

    report = ma.sup_error(SQUARE, one_expert(square_network(1, activation), 1), rtol=1e-6)
    assert_bracket(report, 2.0 ** -4, 1e-6)
    # m = 10: the error 2^-22 ≈ 2.4e-7 is below what float64 resolves to 1e-6 relative through this
    # network (resolution ≈ 1e-11): the bracket holds the closed form and says float64 stopped it
    report = ma.sup_error(SQUARE, one_expert(square_network(10, activation), 1), rtol=1e-6)
    assert report.lower <= 2.0**-22 * (1 + 1e-13) <= report.upper * (1 + 1e-13)
    assert not report.certified and report.limited_by == "float64"
    assert report.upper - report.lower <= 1e-6 * report.lower + report.resolution
    for m in (2,):
        report = ma.sup_error(PRODUCT, one_expert(product_network(m, activation), 2), rtol=1e-3)
        assert_bracket(report, 2.0 ** (-2 * m - 1), 1e-3)


@pytest.mark.parametrize("n, atol", [(1, None), (2, 1e-3)])
def test_cpwl_on_affine_target_is_zero_up_to_the_stated_floor(n, atol):
    """CPwL reproduces affine functions: the true error is 0 (up to float rounding).

    n = 1: the bracket reaches the float64 resolution (ATOL_FACTOR x the float64 margin) and is reported as limited
    by it, not certified. n = 2: boxes crossing the Kuhn kink lines keep an O(radius) relaxation remainder, so the
    floor is stated explicitly (atol = 1e-3): certified against it.
    """
    f = ma.targets.get("affine", n=n)
    moe = ma.build_moe(f, ma.GridPartition(n, 2), expert="cpwl")
    report = ma.sup_error(f, moe, rtol=1e-3, atol=atol, max_evals=2**18)
    assert report.lower <= 1e-14
    if atol is None:
        assert not report.certified and report.limited_by == "float64" and report.atol == 0.0
        assert report.upper <= report.resolution < 1e-13
    else:
        assert report.certified and report.limited_by is None and report.atol == atol
        assert report.upper <= report.lower * 1.001 + atol


# Random Hölder targets A‖x − p‖_∞^α + B x₁: (α, A + |B|)-Hölder on the unit cube (d ≤ d^α for d ≤ 1).
TARGETS = {
    (n, alpha): ma.HolderTarget(
        lambda x, alpha=alpha: 0.8 * jnp.max(jnp.abs(x - 0.37), axis=-1) ** alpha - 0.5 * x[..., 0], n, alpha, 1.3)
    for n in (1, 2, 3, 4) for alpha in (0.5, 1.0)
}


def numpy_target(x, alpha):
    return 0.8 * np.max(np.abs(x - 0.37), axis=-1) ** alpha - 0.5 * x[:, 0]


def sampled_max(moe, alpha, rng):
    """max |f − Φ| over a dense grid and random points, then a local grid search around the best point."""
    n = moe.n
    x = np.concatenate([dense_grid(n, {1: 1800, 2: 240, 3: 40, 4: 14}[n]), rng.random((20000, n))])
    err = np.abs(numpy_target(x, alpha) - numpy_moe(moe, x))
    best = x[np.argmax(err)]
    for width in (1e-2, 1e-3, 1e-4):
        local = np.clip(best + width * (2 * rng.random((4000, n)) - 1), 0, 1)
        local_err = np.abs(numpy_target(local, alpha) - numpy_moe(moe, local))
        if local_err.max() > err.max():
            best, err = local[np.argmax(local_err)], local_err
    return float(err.max()), best


@settings(max_examples=16, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4), alpha=st.sampled_from([0.5, 1.0]),
       activation=st.sampled_from(["relu", "prelu"]), K=st.integers(1, 2),
       bound=st.sampled_from(["auto", "lipschitz", "affine"]))
def test_bracket_is_sound_on_random_mixtures(seed, n, alpha, activation, K, bound):
    """lower <= the sampled maximum (dense grid + local search, plain numpy) <= upper, on either bound path."""
    rng = np.random.default_rng(seed)
    moe = random_moe(rng, n, K, (5, 5), activation)
    report = ma.sup_error(TARGETS[n, alpha], moe, rtol=1e-2, max_evals=2**13, bound=bound)
    sampled, _ = sampled_max(moe, alpha, rng)
    assert report.upper >= sampled
    assert report.lower <= report.upper and np.all(report.cell_upper >= report.cell_lower)
    at = report.argmax[None]  # the lower bound is attained (up to its rounding margin) at argmax
    assert np.abs(numpy_target(at, alpha) - numpy_moe(moe, at))[0] >= report.lower - 1e-12


MULTI_DEVICE = """
moe = random_moe(np.random.default_rng(7), 2, 3, (6, 6), "prelu")
r = ma.sup_error(ma.targets.get("gaussian_bump", 2), moe, rtol=1e-4)
print(json.dumps([len(jax.devices()), r.lower, r.upper, r.evaluations, r.certified, r.cell_upper.tolist()]))
"""


def test_sharded_across_devices_gives_identical_results():
    """XLA_FLAGS=--xla_force_host_platform_device_count=4: the slots are sharded over 4 CPU devices."""
    out = on_host_devices(MULTI_DEVICE)
    assert out[0][0] == 1 and out[1][0] == 4
    assert out[0][1:] == out[1][1:]


def test_budget_exhausted_is_not_certified():
    f = ma.targets.get("cusp", n=2)
    moe = ma.build_moe(f, ma.GridPartition(2, 2))
    report = ma.sup_error(f, moe, rtol=1e-9, max_evals=2000)
    assert not report.certified and report.evaluations <= 2000
    assert report.lower <= report.upper < np.inf


def test_bad_inputs():
    f = ma.targets.get("cone", n=2)
    moe = ma.build_moe(f, ma.GridPartition(2, 2))
    for rtol in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="rtol"):
            ma.sup_error(f, moe, rtol=rtol)
    with pytest.raises(ValueError, match="n=1"):
        ma.sup_error(ma.targets.get("cone", n=1), moe)
    with pytest.raises(ValueError, match="max_evals"):
        ma.sup_error(f, moe, max_evals=2)
    with pytest.raises(ValueError, match="atol"):
        ma.sup_error(f, moe, atol=-1.0)
    nan_target = ma.HolderTarget(lambda x: jnp.where(x[..., 0] > 0.6, jnp.nan, 0.0), 2, 1.0, 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        ma.sup_error(nan_target, moe)
    bad = ma.MixtureOfExperts(moe.partition, ma.MLP(((np.zeros((4, 2, 1)), np.full((4, 1), np.inf)),), ()))
    with pytest.raises(ValueError, match="non-finite"):
        ma.sup_error(f, bad)


def test_violated_holder_constant_is_reported():
    """f = 10 x₁ declared (1, 1)-Hölder: a sampled pair exposes it; nothing is certified."""
    liar = ma.HolderTarget(lambda x: 10.0 * x[..., 0], 2, 1.0, 1.0, "liar")
    moe = ma.build_moe(liar, ma.GridPartition(2, 2))
    with pytest.raises(ValueError, match="violates its declared"):
        ma.sup_error(liar, moe)


def test_disjoint_cell_sets_certify_the_cube_together():
    """sup over the cube = max over cells: two processes' brackets on complementary cell sets combine
    (max of lowers, max of uppers) into a bracket of the whole cube's error C·h/2 = 1/8 (cone, K = 4)."""
    f = ma.targets.get("cone", n=2)
    moe = ma.build_moe(f, ma.GridPartition(2, 4))
    parts = [ma.sup_error(f, moe, rtol=1e-4, cells=np.arange(16)[k::2]) for k in range(2)]
    lower, upper = max(p.lower for p in parts), max(p.upper for p in parts)
    assert lower <= 1 / 8 <= upper and upper - lower <= 1e-4 * lower + max(p.atol for p in parts)
    assert parts[0].cell_upper.shape == (8,)
    with pytest.raises(ValueError, match="cells"):
        ma.sup_error(f, moe, cells=[0, 0])


@pytest.mark.parametrize("n", [2, 6])
def test_a_maximum_on_the_faces_is_found_by_the_corner_probes(n):
    """Constant experts of the declared ``cone`` (α = 1, C = 1) on 4^n cells: |f − Φ| = 1/8 exactly,
    attained only on cell faces, and the whole-cell bound Cρ is 1/8 too. Centres alone approach the
    faces as the boxes shrink (in n = 6 not within rtol after 4·10^6 evaluations); the corner probes
    find errors within 2^-20 of the cell width of 1/8 on the first step, at points inside the cells,
    so the mixture as routed attains the lower end."""
    f = ma.targets.get("cone", n=n)
    moe = ma.build_moe(f, ma.GridPartition(n, 4), expert="constant")
    report = ma.sup_error(f, moe, rtol=1e-3, max_evals=2**16, progress=False)
    assert report.certified and report.lower <= 0.125 <= report.upper
    assert report.evaluations <= moe.num_experts + 8 * 2**n
    attained = float(np.abs(np.asarray(f(report.argmax[None])) - np.asarray(moe(report.argmax[None])))[0])
    assert report.lower <= attained * (1 + 1e-12)
    lo, hi = moe.partition.all_bounds()
    cell = int(moe.partition.locate(report.argmax[None])[0])
    assert np.all(lo[cell] < report.argmax) and np.all(report.argmax < hi[cell])  # strictly inside its cell


def _one_part(self, blocks):
    """``_Evaluator.points_in_parts`` with every block in one part, made before any is bounded (the reference)."""
    blocks = list(blocks)
    cell, lo, hi = (np.concatenate([b[k] for b in blocks]) for k in range(3))
    extra = tuple(np.concatenate([b[3][k] for b in blocks]) for k in range(len(blocks[0][3])))
    centre, radius = covering_box(lo, hi)
    yield cell, lo, hi, extra, centre, radius, self.points(cell, centre, radius)


@pytest.mark.parametrize("expert, rtol", [("cpwl", 1e-3), ("mlp", 1e-5)])
def test_a_step_in_parts_evaluates_the_boxes_of_the_whole_step(monkeypatch, expert, rtol):
    """The host works on one part of a step, or splits the step's later boxes, while the kernel computes the
    next part (``points_in_parts``). With parts of 8 boxes (the Kuhn-piece kernel of cpwl experts, and the
    experts' own kernel), the run evaluates exactly the boxes of the run with one part per step and finds
    the same lower bound (a part closes its
    boxes against the lower bound known so far; the rest close at the next step's pass), its upper bound is
    no larger (the second bound may reach more boxes), and both upper bounds hold the dense maximum."""
    monkeypatch.setattr(evaluator, "ONE_SIZE", 8)
    monkeypatch.setattr(evaluator, "MAX_LANES", 64)
    f = TARGETS[2, 1.0]
    moe = ma.build_moe(f, ma.GridPartition(2, 3), expert="cpwl") if expert == "cpwl" else \
        random_moe(np.random.default_rng(1), 2, 3, (5, 5), "prelu")
    parts = ma.sup_error(f, moe, rtol=rtol, max_evals=2**14)
    with monkeypatch.context() as m:
        m.setattr(evaluator._Evaluator, "points_in_parts", _one_part)
        whole = ma.sup_error(f, moe, rtol=rtol, max_evals=2**14)
    assert parts.evaluations == whole.evaluations > 1000
    assert parts.lower == whole.lower and parts.upper <= whole.upper
    grid = dense_grid(2, 400)
    dense = float(np.max(np.abs(numpy_target(grid, 1.0) - np.asarray(moe(grid)))))
    assert dense <= parts.upper and parts.certified


class _CornerValues:
    """The evaluator as ``driver._children`` uses it: a declared target, and lower bounds 0.5 at any point."""

    target = TARGETS[1, 1.0]

    def points(self, cell, x, radius):
        return None, None, None, np.full(len(cell), 0.5)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 5), count=st.integers(1, 40), first=st.integers(1, 50))
def test_the_blocks_of_a_step_are_the_split_of_its_boxes(seed, n, count, first):
    """``driver._children`` (a step's children in two blocks, the second split while the device bounds the
    first) gives exactly :func:`split`'s children of all the picked boxes, in order, with their parents' f
    and centres; a box that no float splits is closed at its bound with its two corners evaluated. (The
    children of a split cover their parent exactly: test_certificates_edges.)"""
    rng = np.random.default_rng(seed)
    lo = rng.random((count, n))
    hi = lo + 0.1 * rng.random((count, n))
    one_ulp = rng.random(count) < 0.2
    hi[one_ulp] = np.nextafter(lo[one_ulp], 2.0)  # no float strictly inside: stuck
    picked = {"cell": rng.integers(0, 5, count), "lo": lo, "hi": hi, "upper": rng.random(count),
              "fc": rng.random(count), "score": rng.random((count, n))}
    s = state._State(np.zeros(5), np.full(5, -np.inf), np.zeros(5, np.int64))
    blocks = list(driver._children(s, _CornerValues(), picked, first))
    parent, child_lo, child_hi, stuck = split(lo, hi, picked["score"])
    fc, centre = (np.concatenate([b[3][k] for b in blocks]) for k in range(2))
    assert np.array_equal(np.concatenate([b[0] for b in blocks]), picked["cell"][parent])
    assert np.array_equal(np.concatenate([b[1] for b in blocks]), child_lo)
    assert np.array_equal(np.concatenate([b[2] for b in blocks]), child_hi)
    assert np.array_equal(fc, picked["fc"][parent]) and np.array_equal(centre, (0.5 * (lo + hi))[parent])
    assert s.boxes == len(parent) + stuck.sum() and s.evaluations == 2 * stuck.sum()
    expected = np.full(5, -np.inf)
    np.maximum.at(expected, picked["cell"][stuck], picked["upper"][stuck])
    assert np.array_equal(s.cell_upper, expected) and s.float_limited == bool(stuck.any())


def test_the_branch_and_bound_runs_on_small_pages_and_restores_numpys_setting(monkeypatch):
    """numpy's huge-page advice is off while the branch and bound runs (module _config, ``small_pages``) and
    back as it was after it, also when the run ends in an exception."""
    from moe_approx._config import _multiarray

    if not hasattr(_multiarray, "_get_madvise_hugepage"):
        pytest.skip("this numpy has no huge-page switch")
    moe, seen = random_moe(np.random.default_rng(5), 2, 2, (5, 5), "relu"), []

    def watched_split(*args):  # the loop's split, which also records numpy's setting (or fails when told)
        seen.append(_multiarray._get_madvise_hugepage())
        if seen[0] == "fail":
            raise KeyboardInterrupt
        return split(*args)

    monkeypatch.setattr(driver, "split", watched_split)
    for setting in (True, False):
        _multiarray._set_madvise_hugepage(setting)
        seen.clear()
        ma.sup_error(TARGETS[2, 1.0], moe, rtol=1e-6)
        assert seen and not any(seen) and _multiarray._get_madvise_hugepage() == setting
        seen[:] = ["fail"]
        with pytest.raises(KeyboardInterrupt):
            ma.sup_error(TARGETS[2, 1.0], moe, rtol=1e-6)
        assert _multiarray._get_madvise_hugepage() == setting
    _multiarray._set_madvise_hugepage(True)  # numpy's default on Linux


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), count=st.integers(0, 300), ratio=st.sampled_from([1, 2, 20, 200]),
       kind=st.sampled_from(["random", "ties", "dead", "sorted"]))
def test_the_boxes_split_have_the_largest_bounds(seed, count, ratio, kind):
    """``driver._largest`` picks ``count`` distinct rows whose bounds are the ``count`` largest (the sampled
    threshold only narrows the rows partitioned), with ties, dead rows (−∞) and rows in sorted order; all
    rows where there are fewer, none for a count of 0 (the corner probes' PROBE_BOXES = 0)."""
    rng = np.random.default_rng(seed)
    values = rng.random(count * ratio + rng.integers(0, 50))
    if kind == "ties":
        values = np.round(values * 7) / 7
    elif kind == "dead":
        values[rng.random(len(values)) < 0.5] = -np.inf
    elif kind == "sorted":
        values.sort()
    count = min(count, int(np.sum(values > -np.inf)))
    pick = driver._largest(values, count)
    assert len(np.unique(pick)) == len(pick) == count
    assert np.array_equal(np.sort(values[pick]), np.sort(values)[len(values) - count:])
    assert np.array_equal(np.sort(driver._largest(values[:3], 3 + count)), np.arange(min(3, len(values))))
